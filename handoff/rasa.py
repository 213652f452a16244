"""The Rasa server, as the gateway sees it: send a turn, restart a conversation.

Contract: docs/architecture.md, "Gateway -> Rasa". Anything that is not a usable answer in time
(refused connection, timeout, 5xx, malformed JSON) is RasaUnavailable, so the gateway has one
case to handle.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

import requests

log = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    pass


@dataclass
class BotTurn:
    messages: list[dict[str, Any]]
    # The turn's NLU result; None when the channel does not report it (plain REST channel).
    nlu: Optional[dict[str, Any]] = None
    handoff: Optional[dict[str, Any]] = field(default=None)
    # {"helpful": false, "topic", "question"}: the customer said an answer did not help.
    feedback: Optional[dict[str, Any]] = field(default=None)


class RasaClient:
    def __init__(self, base_url: str, channel_path: str, timeout: float):
        self.base_url = base_url.rstrip("/")
        self.channel_path = channel_path
        self.timeout = timeout
        self._local = threading.local()

    @property
    def _http(self) -> requests.Session:
        # requests.Session is not thread-safe; one per thread (or greenlet) keeps keep-alive.
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(self, sender: str, text: str, language_hint: str) -> BotTurn:
        body = {"sender": sender, "message": text, "metadata": {"language_hint": language_hint}}
        try:
            response = self._http.post(self.base_url + self.channel_path, json=body, timeout=self.timeout)
        except requests.RequestException as error:
            raise RasaUnavailable(f"Rasa unreachable: {error}") from error
        if response.status_code >= 300:
            raise RasaUnavailable(f"Rasa answered {response.status_code}")
        try:
            payload = response.json()
        except ValueError as error:
            raise RasaUnavailable("Rasa answered something that is not JSON") from error
        return parse_turn(payload)

    def restart(self, sender: str) -> None:
        url = f"{self.base_url}/conversations/{sender}/tracker/events"
        try:
            response = self._http.post(url, json=[{"event": "restart"}], timeout=self.timeout)
            if response.status_code >= 300:
                raise RasaUnavailable(f"Rasa answered {response.status_code} to the restart")
        except requests.RequestException as error:
            raise RasaUnavailable(f"Rasa unreachable: {error}") from error

    def ping(self) -> bool:
        try:
            return self._http.get(self.base_url + "/", timeout=min(self.timeout, 2.0)).status_code < 500
        except requests.RequestException:
            return False


def parse_turn(payload: Any) -> BotTurn:
    """Accepts the gateway channel's object and the REST channel's bare list."""
    if isinstance(payload, list):
        raw_messages, nlu = payload, None
    elif isinstance(payload, dict) and isinstance(payload.get("messages", []), list):
        raw_messages, nlu = payload.get("messages", []), payload.get("nlu")
        if not isinstance(nlu, dict):
            nlu = None
    else:
        raise RasaUnavailable("Rasa answered JSON of an unknown shape")
    messages, handoff, feedback = [], None, None
    for item in raw_messages:
        if not isinstance(item, dict):
            continue
        custom = item.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
            handoff = custom["handoff"]
        if isinstance(custom, dict) and isinstance(custom.get("feedback"), dict):
            feedback = custom["feedback"]
        text = item.get("text")
        if isinstance(text, str) and text.strip():
            buttons = [
                {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                for b in item.get("buttons") or [] if isinstance(b, dict)
            ]
            messages.append({"text": text, "buttons": buttons or None})
    return BotTurn(messages=messages, nlu=nlu, handoff=handoff, feedback=feedback)
