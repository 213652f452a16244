"""The Rasa servers, as the gateway sees them: send a turn, restart a conversation, check each server.

Contract: docs/architecture.md, "Gateway -> Rasa". Anything that is not a usable answer in time
(refused connection, timeout, 5xx, malformed JSON) is RasaUnavailable, so the gateway has one
case to handle.

Several servers (RASA_URLS): each conversation has its own order of the servers, by rendezvous
(highest random weight) hashing of its id, so every gateway process sends it to the same server
and the conversation moves only when that server is down (and only its own conversations move
when a server is added or removed). Rendezvous hashing is eight lines here; a hash-ring library
would bring virtual nodes and state we do not need for a handful of servers. A server that
refused, timed out or answered 5xx is skipped for RASA_DOWN_SECONDS (per process), then tried
again. A refused or 5xx turn goes on to the next server at once; a timed-out one does not (the
slow server may still act on it, and the bot must not see a message twice). When every server
is marked down the conversation's own server is still tried, so a single server that comes back
is used at once. The tracker store is shared (endpoints.yml) and Rasa's lock store serialises one
conversation's turns, so a conversation keeps its state when it moves. Every call carries the JWT Rasa's API and the gateway channel require (RASA_JWT_SECRET).
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TypeVar

import requests

from rasa_auth import JWT_LIFETIME, rasa_jwt, server_urls

log = logging.getLogger(__name__)

T = TypeVar("T")


class RasaUnavailable(Exception):
    pass


class _ServerDown(RasaUnavailable):
    """This server cannot answer now (refused, 5xx): the next one may, with the same turn."""


class _ServerSlow(RasaUnavailable):
    """This server took the turn and did not answer in time: it may still act on it, so the turn
    is not sent to another (the bot would see it twice); the conversation moves from the next."""


@dataclass
class BotTurn:
    messages: list[dict[str, Any]]
    # The turn's NLU result; None when the channel does not report it (plain REST channel).
    nlu: Optional[dict[str, Any]] = None
    handoff: Optional[dict[str, Any]] = field(default=None)
    # {"helpful": false, "topic", "question"}: the customer said an answer did not help.
    feedback: Optional[dict[str, Any]] = field(default=None)


def rendezvous_order(conversation_id: str, urls: list[str]) -> list[str]:
    """The servers in this conversation's order of preference: the same in every process."""
    def weight(url: str) -> int:
        return int.from_bytes(hashlib.blake2b(f"{url}\n{conversation_id}".encode(), digest_size=8).digest(), "big")
    return sorted(urls, key=weight, reverse=True)


class _Token:
    """The HS256 JWT of the contract (rasa_auth), reused until it has less than a minute left."""

    def __init__(self, secret: str):
        self.secret = secret
        self._lock = threading.Lock()
        self._value, self._expires = "", 0.0

    def header(self) -> dict[str, str]:
        if not self.secret:
            return {}
        now = time.time()
        with self._lock:
            if self._expires - now < 60:
                self._expires = now + JWT_LIFETIME
                self._value = rasa_jwt(self.secret, now=now)
            return {"Authorization": f"Bearer {self._value}"}


class RasaClient:
    def __init__(self, urls: list[str] | str, channel_path: str, timeout: float, jwt_secret: str = "",
                 down_seconds: float = 10.0):
        self.urls = server_urls([urls] if isinstance(urls, str) else urls, "")
        if not self.urls:
            raise ValueError("no Rasa server URL")
        self.channel_path = channel_path
        self.timeout = timeout
        self.down_seconds = down_seconds
        self._token = _Token(jwt_secret)
        self._down_until: dict[str, float] = {}
        self._local = threading.local()

    @property
    def _http(self) -> requests.Session:
        # requests.Session is not thread-safe; one per thread (or greenlet) keeps keep-alive.
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(self, sender: str, text: str, language_hint: str, customer_id: Optional[str] = None) -> BotTurn:
        """One customer turn. `customer_id`: the shop's id of a customer its signature verified, and
        only then (the bot answers that customer's own orders with it); the metadata is the
        gateway's alone, never anything the customer sent."""
        metadata: dict[str, Any] = {"language_hint": language_hint}
        if customer_id:
            metadata["customer"] = {"id": customer_id}
        body = {"sender": sender, "message": text, "metadata": metadata}
        return self._on_servers(sender, lambda url: parse_turn(self._post(url + self.channel_path, body)))

    def parse(self, sender: str, text: str, timeout: Optional[float] = None) -> dict[str, Any]:
        """Rasa's NLU reading of a text (POST /model/parse), without a turn: the tracker does not
        change, so it suits messages the bot must not answer (after a handoff). Asked of the
        conversation's server only, and a slow or failed reading marks no server down: it is a
        nicety for the console, and must not move the conversations' turns. Raises RasaUnavailable."""
        result = self._post(self.server_for(sender) + "/model/parse", {"text": text}, timeout)
        if not isinstance(result, dict):
            raise RasaUnavailable("Rasa answered JSON of an unknown shape")
        return result

    def restart(self, sender: str) -> None:
        self._on_servers(sender, lambda url: self._post(f"{url}/conversations/{sender}/tracker/events",
                                                        [{"event": "restart"}]))

    def server_for(self, sender: str) -> str:
        """The server this conversation goes to now (the first of its order not marked down)."""
        order = rendezvous_order(sender, self.urls)
        return next((url for url in order if not self._is_down(url)), order[0])

    def servers(self) -> dict[str, bool]:
        """Each server: does it answer now? (A check also updates what this process remembers.)"""
        result = {}
        for url in self.urls:
            try:
                up = self._http.get(url + "/", headers=self._token.header(),
                                    timeout=min(self.timeout, 2.0)).status_code < 500
            except requests.RequestException:
                up = False
            if up:
                self._down_until.pop(url, None)
            else:
                self._mark_down(url, "did not answer the health check")
            result[url] = up
        return result

    def _on_servers(self, sender: str, call: Callable[[str], T]) -> T:
        order = rendezvous_order(sender, self.urls)
        candidates = [url for url in order if not self._is_down(url)] or order[:1]
        error: Optional[RasaUnavailable] = None
        for url in candidates:
            try:
                result = call(url)
            except _ServerSlow as slow:
                self._mark_down(url, str(slow))
                raise
            except _ServerDown as down:
                self._mark_down(url, str(down))
                error = down
                continue
            self._down_until.pop(url, None)
            return result
        raise error or RasaUnavailable("no Rasa server")

    def _post(self, url: str, body: Any, timeout: Optional[float] = None) -> Any:
        timeout = self.timeout if timeout is None else timeout
        try:
            response = self._http.post(url, json=body, headers=self._token.header(), timeout=timeout)
        except requests.ReadTimeout as error:
            raise _ServerSlow(f"Rasa did not answer within {timeout:g} s") from error
        except requests.RequestException as error:
            raise _ServerDown(f"Rasa unreachable: {type(error).__name__}") from error
        if response.status_code >= 500:
            raise _ServerDown(f"Rasa answered {response.status_code}")
        if response.status_code >= 300:
            # 401/403/404: the same on every server (a wrong secret or channel), not a server down.
            raise RasaUnavailable(f"Rasa answered {response.status_code}")
        try:
            return response.json()
        except ValueError as error:
            raise RasaUnavailable("Rasa answered something that is not JSON") from error

    def _is_down(self, url: str) -> bool:
        return self._down_until.get(url, 0.0) > time.monotonic()

    def _mark_down(self, url: str, why: str) -> None:
        if not self._is_down(url):
            log.warning("Rasa server %s is down (%s); skipped for %g s", url, why, self.down_seconds)
        self._down_until[url] = time.monotonic() + self.down_seconds


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
