"""The `gateway` channel: Rasa's REST channel, plus the NLU result of the turn.

The handoff service stores each customer message with the bot's NLU result so an agent
sees why the bot gave up; Rasa's plain REST channel returns only the bot's messages.
Endpoint: POST /webhooks/gateway/webhook (contract in docs/architecture.md).

Rasa checks its JWT on its own API's routes only, never on a channel's webhook, so this channel
checks it itself, with the very verifier `rasa run --jwt-secret` set up (sanic-jwt, on the app):
`Authorization: Bearer <JWT>` with the `admin` role, else 401. A Rasa server started without a
JWT secret refuses every message here rather than take them from anyone.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import UserUttered

from rasa_auth import JWT_USER

logger = logging.getLogger(__name__)

NLU_KEYS = ("text", "intent", "intent_ranking", "out_of_scope")


def turn_nlu(parse_data: Dict[Text, Any]) -> Dict[Text, Any]:
    """The parts of a parse result the gateway keeps, plus the detected language."""
    nlu = {key: parse_data.get(key) for key in NLU_KEYS if key in parse_data}
    nlu["language"] = next(
        (e.get("value") for e in parse_data.get("entities", []) if e.get("entity") == "language"), None
    )
    return nlu


class GatewayInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "gateway"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint("gateway_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            refusal = await refuse_unauthenticated(request)
            if refusal is not None:
                return refusal
            body = request.json if isinstance(request.json, dict) else {}
            sender_id, text = body.get("sender"), body.get("message")
            if not isinstance(sender_id, str) or not sender_id or not isinstance(text, str):
                return response.json(
                    {"error": {"code": "invalid_request",
                               "message": "'sender' and 'message' must be non-empty strings"}},
                    status=400,
                )
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(text, collector, sender_id, input_channel=self.name(),
                            metadata=self.get_metadata(request))
            )
            return response.json({"messages": collector.messages,
                                  "nlu": await self._latest_nlu(request, sender_id)})

        return webhook

    @staticmethod
    async def _latest_nlu(request: Request, sender_id: Text) -> Optional[Dict[Text, Any]]:
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or agent.tracker_store is None:
            return None
        tracker = await agent.tracker_store.retrieve(sender_id)
        if tracker is None:
            return None
        for event in reversed(tracker.events):
            if isinstance(event, UserUttered):
                return turn_nlu(event.parse_data)
        return None


def _unauthorized(message: Text) -> HTTPResponse:
    return response.json({"error": {"code": "unauthorized", "message": message}}, status=401,
                         headers={"WWW-Authenticate": "Bearer"})


async def refuse_unauthenticated(request: Request) -> Optional[HTTPResponse]:
    """None when the request carries a valid JWT with the gateway's role; else the 401 to send."""
    auth = getattr(request.app.ctx, "auth", None)
    if not request.app.config.get("USE_JWT") or auth is None:
        logger.error("The gateway channel refuses messages: the Rasa server runs without --jwt-secret.")
        return _unauthorized("this Rasa server has no JWT secret (start it with tools/rasa-server.sh)")
    try:
        # Signature, algorithm and expiry, checked as on Rasa's API; None when invalid or missing.
        payload = await auth.extract_payload(request)
    except Exception as error:  # sanic-jwt raises on a malformed header or an unknown algorithm
        logger.debug("Refused a gateway token: %s", error)
        payload = None
    if not isinstance(payload, dict):
        return _unauthorized("a valid 'Authorization: Bearer <JWT>' header is required")
    user = payload.get("user")
    if not isinstance(user, dict) or user.get("role") != JWT_USER["role"]:
        return _unauthorized(f"the token's user must have the {JWT_USER['role']!r} role")
    return None
