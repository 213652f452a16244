"""The gateway's identity on the Rasa servers (docs/architecture.md, "Gateway -> Rasa"): the JWT
Rasa's API and the gateway channel accept, and the list of servers. One module beside intents.py
and languages.py, imported by both environments (PyJWT is in both locks): the gateway
(handoff/rasa.py), the publish command (bot/publish.py), the gateway channel (bot/channel.py)
and the tests."""
from __future__ import annotations

import time
from typing import Optional

import jwt

# The gateway's user in the token; the channel accepts only this role.
JWT_USER = {"username": "tsunagi-gateway", "role": "admin"}
JWT_LIFETIME = 300  # seconds


def rasa_jwt(secret: str, lifetime: float = JWT_LIFETIME, *, now: Optional[float] = None,
             role: str = JWT_USER["role"]) -> str:
    """The HS256 token of the contract, expiring `lifetime` seconds after `now` (default: now);
    `role` differs from the gateway's only in tests of a refusal."""
    user = JWT_USER if role == JWT_USER["role"] else {**JWT_USER, "role": role}
    issued = time.time() if now is None else now
    return jwt.encode({"user": user, "exp": int(issued + lifetime)}, secret, algorithm="HS256")


def server_urls(rasa_urls: list[str], rasa_url: str) -> list[str]:
    """RASA_URLS when set, else the one RASA_URL; without trailing slashes or repeats."""
    urls = [u.strip().rstrip("/") for u in (rasa_urls or [rasa_url]) if u.strip()]
    return list(dict.fromkeys(urls))
