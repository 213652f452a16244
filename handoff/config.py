"""Settings of the handoff service: every environment variable, its default and how it is parsed.

The README's configuration table is written from SETTINGS; keep the two in step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any]
    doc: str


SETTINGS: list[Setting] = [
    Setting("DATABASE_URL", "sqlite:///instance/handoff.sqlite3", str,
            "SQLAlchemy URL. SQLite (WAL mode) by default; `postgresql+psycopg://user@host/db` for several processes or hosts. A relative SQLite path is relative to the working directory."),
    Setting("DB_POOL_SIZE", 10, int, "Connections kept per process (PostgreSQL)."),
    Setting("DB_MAX_OVERFLOW", 20, int, "Extra connections a process may open under load (PostgreSQL)."),
    Setting("REDIS_URL", "", str,
            "When set, live events and rate-limit counters go through Redis, so several processes share them. Empty: in-process only (one process)."),
    Setting("REDIS_CHANNEL_PREFIX", "tsunagi:", str, "Prefix of the Redis pub/sub channels and keys (lets several installations share one Redis)."),
    Setting("REDIS_TIMEOUT", 2.0, float,
            "Seconds a Redis command may take before Redis counts as down: the process then uses its own rate-limit counters and delivers live events to its own streams."),
    Setting("REDIS_RETRY_SECONDS", 5.0, float,
            "How long a process keeps using its own counters and streams after Redis failed, before it tries Redis again."),
    Setting("RASA_URL", "http://127.0.0.1:5005", str, "Base URL of the Rasa server (the one-server form of RASA_URLS)."),
    Setting("RASA_URLS", [], _list,
            "Comma-separated base URLs of several Rasa servers (e.g. `http://10.0.0.5:5005,http://10.0.0.6:5005`); overrides RASA_URL. Each conversation goes to one of them by rendezvous hashing of its id, and to the next in its order while that one is down."),
    Setting("RASA_DOWN_SECONDS", 10.0, float,
            "How long a process skips a Rasa server that refused, timed out or answered 5xx before trying it again."),
    Setting("RASA_JWT_SECRET", "", str,
            "The secret Rasa was started with (`--jwt-secret`); the gateway signs an HS256 token with it on every call. Empty: `instance/rasa_jwt_secret` when `make run` created it, else no token."),
    Setting("RASA_CHANNEL_PATH", "/webhooks/gateway/webhook", str,
            "Rasa channel the gateway posts to (the real bot serves only this one: Rasa's `rest` channel checks no token, so credentials.yml leaves it out)."),
    Setting("RASA_TIMEOUT", 8.0, float, "Seconds to wait for Rasa before telling the customer the assistant is unavailable."),
    Setting("SECRET_KEY", "", str,
            "Signs customer tokens and agent sessions. Empty: a random key is created once in `instance/secret_key` and shared by the processes of this host; with PostgreSQL (several hosts) it must be set, or the service refuses to start."),
    Setting("WEB_CONCURRENCY", 0, int,
            "gunicorn worker processes (handoff/gunicorn.conf.py); 0: 2 with REDIS_URL, else 1. More than 1 without REDIS_URL is refused: live events and rate limits would stay inside each process."),
    Setting("CUSTOMER_TOKEN_MAX_AGE", 30 * 24 * 3600, int, "Seconds a customer token stays valid."),
    Setting("SESSION_COOKIE_SECURE", False, _bool,
            "Always mark the agent session cookie `Secure`. Off, it is still `Secure` whenever the request came over HTTPS (directly, or through a trusted proxy's `X-Forwarded-Proto`, see TRUSTED_PROXIES)."),
    Setting("CORS_ORIGINS", [], _list,
            "Comma-separated shop origins allowed to call the customer API from a browser (e.g. `https://shop.example`). `*` allows any origin."),
    Setting("TRUSTED_PROXIES", 0, int, "Number of reverse proxies in front of the service whose `X-Forwarded-For` is trusted for the client IP."),
    Setting("SUPPORT_HOURS", "Mon-Fri 10:00-18:00", str, "When agents are online; `always` or `never` for tests and 24h shops. Several ranges: `Mon-Fri 10:00-18:00; Sat 10:00-14:00`."),
    Setting("SUPPORT_TIMEZONE", "Asia/Tokyo", str, "Time zone of SUPPORT_HOURS (and of the KPI date range)."),
    Setting("SUPPORT_CLOSED_DATES", ["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"], _list, "MM-DD days closed every year."),
    Setting("DEFAULT_LANGUAGE", "ja", str, "Language of a conversation when the widget does not say (`ja` or `en`)."),
    Setting("MAX_MESSAGE_CHARS", 2000, int, "Longest message text, in characters (422 `message_too_long`)."),
    Setting("MAX_BODY_BYTES", 65536, int, "Largest request body, in bytes (413 `body_too_large`)."),
    Setting("RATE_LIMIT_PER_IP", "600/minute", str, "Customer API writes (POST) per client IP (429 `rate_limited` with `Retry-After`)."),
    Setting("RATE_LIMIT_CONVERSATIONS_PER_IP", "30/minute", str, "Conversations started per client IP."),
    Setting("RATE_LIMIT_PER_CONVERSATION", "30/minute", str, "Messages, handoff requests and offline messages per conversation."),
    Setting("RATE_LIMIT_LOGIN", "10/minute", str, "Agent login attempts per client IP (429 `rate_limited` with `Retry-After`)."),
    Setting("RATE_LIMIT_LOGIN_PER_ACCOUNT", "10/minute", str,
            "Agent login attempts per e-mail address, from any address; counted alike whether an account has it or not, so a 429 reveals nothing."),
    Setting("AUDIT_PAGE_SIZE", 50, int, "Entries per page of the audit log (`/api/admin/audit`, `/console/audit`)."),
    Setting("AGENT_MAX_CONCURRENT", 5, int, "Conversations one agent may own at once (409 `agent_at_capacity`); an agent's own limit overrides it."),
    Setting("QUEUE_DEFAULT_WAIT_SECONDS", 120, int, "Estimated wait per queue position for one online agent when the queue was not served in the last `QUEUE_ETA_WINDOW_MINUTES` (divided by the agents online)."),
    Setting("QUEUE_ETA_WINDOW_MINUTES", 60, int, "The wait estimate uses the live claims (never offline tickets) of the last this many minutes: claims per minute per claiming agent, times the agents online now."),
    Setting("AGENT_ONLINE_MINUTES", 15, int, "An agent counts as online for the wait estimate while owning an open conversation or for this many minutes after a claim or resolve. No agent online: no estimate (`eta_seconds` null)."),
    Setting("STREAM_HEARTBEAT_SECONDS", 15.0, float, "Seconds between SSE heartbeat comments (keeps proxies from closing idle streams)."),
    Setting("STREAM_MAX_SECONDS", 3600.0, float, "A stream is closed after this long; the browser reconnects with Last-Event-ID and misses nothing."),
    Setting("STREAM_TICKET_SECONDS", 60, int,
            "How long a stream ticket (POST .../stream-ticket) may wait before it opens the conversation's stream; each ticket opens it once."),
    Setting("METRICS_TOKEN", "", str,
            "Bearer token a Prometheus scraper sends to `GET /metrics` (`Authorization: Bearer ...`). Empty: /metrics answers only requests from this machine's loopback that no proxy relayed (403 `metrics_token_not_configured` otherwise)."),
    Setting("IDENTITY_SECRET", "", str,
            "Shared with the shop's server, which signs its signed-in customer's id with it (hex HMAC-SHA256, docs/identity.md) so the widget's conversations belong to one verified contact. Empty: every identity the widget sends is ignored (chats stay anonymous). Never put it in a page."),
    Setting("RETENTION_DAYS", 0, int,
            "Resolved conversations older than this many days have their personal data erased by `flask --app handoff privacy purge` (run daily; docs/identity.md). 0 or unset: kept forever."),
    Setting("DEMO_ORDER_API_TOKEN", "", str,
            "Bearer token of the demo shop's order API (`/demo/api/orders/<number>`, handoff/demo_orders.py, docs/order-api.md), which the bot's ORDER_API_URL points at under `make run`. Empty: `instance/demo_order_api_token` when `make run` created it, else the demo order API is off (404)."),
    Setting("LOG_LEVEL", "INFO", str, "Python logging level."),
    Setting("TSUNAGI_PROJECT_DIR", "", str,
            "The Rasa project whose FAQ content editors change from `/console/unanswered` (`data/nlu`, `domain.yml`, `data/topics`). Empty: this repository."),
    Setting("UNANSWERED_SIMILARITY", 0.88, float,
            "Unanswered questions whose average similarity (multilingual-e5-small cosine; see handoff/unanswered.py) is at least this form one group in `/console/unanswered`. Higher: smaller, tighter groups."),
    Setting("EMBEDDING_CACHE_DIR", "", str,
            "Where the embeddings of questions and topic examples are cached. Empty: `$TSUNAGI_CACHE/embeddings` (default `~/.cache/tsunagi/embeddings`)."),
]


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Defaults overlaid with whatever the environment sets."""
    environ = os.environ if environ is None else environ
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        config[setting.name] = setting.default if raw is None or not raw.strip() else setting.parse(raw)
    return config


def parse_rate(text: str) -> tuple[int, int]:
    """'30/minute' -> (30, 60): how many hits per how many seconds."""
    count, _, period = text.partition("/")
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
    period = period.strip().lower().rstrip("s") or "minute"
    if period not in seconds:
        raise ValueError(f"unknown rate period in {text!r}")
    return int(count), seconds[period]


class ConfigurationError(RuntimeError):
    """Settings the service cannot run on safely; the message says what to set."""


def deployment_refusal(config: dict[str, Any], workers: int | None = None) -> str | None:
    """Why these settings must not serve (several hosts or processes would break), or None."""
    database = str(config.get("DATABASE_URL", ""))
    if database.startswith("postgresql") and not config.get("SECRET_KEY"):
        return ("SECRET_KEY is not set: with PostgreSQL the service may run on several hosts, and a key made up "
                "per host would make customer tokens and agent sessions fail on the others. Set the same "
                "SECRET_KEY on every host (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))').")
    workers = (config.get("WEB_CONCURRENCY") or 0) if workers is None else workers
    if workers > 1 and not config.get("REDIS_URL"):
        return (f"{workers} worker processes without REDIS_URL: live events and rate limits would stay inside "
                "each process. Set REDIS_URL, or WEB_CONCURRENCY=1.")
    return None
