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
    Setting("RASA_URL", "http://127.0.0.1:5005", str, "Base URL of the Rasa server."),
    Setting("RASA_CHANNEL_PATH", "/webhooks/gateway/webhook", str,
            "Rasa channel the gateway posts to; `/webhooks/rest/webhook` also works (then no NLU result is stored)."),
    Setting("RASA_TIMEOUT", 8.0, float, "Seconds to wait for Rasa before telling the customer the assistant is unavailable."),
    Setting("SECRET_KEY", "", str,
            "Signs customer tokens and agent sessions. Empty: a random key is created once in `instance/secret_key` and shared by the processes of this host."),
    Setting("CUSTOMER_TOKEN_MAX_AGE", 30 * 24 * 3600, int, "Seconds a customer token stays valid."),
    Setting("SESSION_COOKIE_SECURE", False, _bool, "Send the agent session cookie over HTTPS only (set in production)."),
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
    Setting("RATE_LIMIT_LOGIN", "10/minute", str, "Agent login attempts per client IP."),
    Setting("AGENT_MAX_CONCURRENT", 5, int, "Conversations one agent may own at once (409 `agent_at_capacity`); an agent's own limit overrides it."),
    Setting("QUEUE_DEFAULT_WAIT_SECONDS", 120, int, "Estimated wait per queue position until there are recent claims to learn from."),
    Setting("QUEUE_ETA_SAMPLE", 20, int, "How many recent claims (last 24 h) the wait estimate uses."),
    Setting("STREAM_HEARTBEAT_SECONDS", 15.0, float, "Seconds between SSE heartbeat comments (keeps proxies from closing idle streams)."),
    Setting("STREAM_MAX_SECONDS", 3600.0, float, "A stream is closed after this long; the browser reconnects with Last-Event-ID and misses nothing."),
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
