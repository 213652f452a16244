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


SURVEY_NAMES = ("csat", "ces", "nps")


def _surveys(value: str) -> list[str]:
    """SURVEYS: names from SURVEY_NAMES, in the order asked; `none` for no survey."""
    names = [] if value.strip().lower() == "none" else _list(value.lower())
    unknown = [name for name in names if name not in SURVEY_NAMES]
    if unknown:
        raise ValueError(f"SURVEYS: unknown survey {', '.join(unknown)} (known: {', '.join(SURVEY_NAMES)}, or none)")
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any]
    doc: str


SETTINGS: list[Setting] = [
    Setting("DATABASE_URL", "sqlite:///instance/handoff.sqlite3", str,
            "SQLAlchemy URL. SQLite (WAL mode) by default; `postgresql+psycopg://user@host/db` for several processes or hosts. A relative SQLite path is relative to the working directory."),
    Setting("DB_POOL_SIZE", 10, int, "Connections kept per process (PostgreSQL); one more per outbox and webhook-event worker thread when CHANNEL_WORKERS is on."),
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
    Setting("RATE_LIMIT_HELP_FEEDBACK", "20/hour", str,
            "Help-center \"Was this article helpful?\" votes and comments per client IP (429 page with `Retry-After`)."),
    Setting("HELP_FORM_MAX_AGE_SECONDS", 86400, int,
            "How long a help-center feedback form stays valid after the page was shown (its token is signed with SECRET_KEY); older: 403, reload the page."),
    Setting("RATE_LIMIT_HELP_SEARCH_PER_IP", "120/minute", str,
            "Help-center searches (`GET /api/v1/help/search`) per client IP (429 `rate_limited` with `Retry-After`)."),
    Setting("RATE_LIMIT_LOGIN_PER_ACCOUNT", "10/minute", str,
            "Agent login attempts per e-mail address, from any address; counted alike whether an account has it or not, so a 429 reveals nothing."),
    Setting("AUDIT_PAGE_SIZE", 50, int, "Entries per page of the audit log (`/api/admin/audit`, `/console/audit`)."),
    Setting("AGENT_MAX_CONCURRENT", 5, int, "Conversations one agent may own at once (409 `agent_at_capacity`); an agent's own limit overrides it."),
    Setting("QUEUE_DEFAULT_WAIT_SECONDS", 120, int, "Estimated wait per queue position for one online agent when the queue was not served in the last `QUEUE_ETA_WINDOW_MINUTES` (divided by the agents online)."),
    Setting("QUEUE_ETA_WINDOW_MINUTES", 60, int, "The wait estimate uses the live claims (never offline tickets) of the last this many minutes: claims per minute per claiming agent, times the agents online now."),
    Setting("PRESENCE_TIMEOUT_SECONDS", 90, int,
            "An agent whose console has sent no heartbeat (every 30 s while open) for this long counts as offline, whatever they chose; the wait estimate counts agents online by this presence (no agent online: `eta_seconds` null)."),
    Setting("WHEN_NOBODY_ONLINE", "offline_form", str,
            "Inside support hours with no agent online, a customer asking for a person is told so and offered the leave-a-message form (`offline_form`: the conversation becomes an offline ticket), or waits in the queue anyway (`queue`)."),
    Setting("ASSIGNMENT", "manual", str,
            "`manual`: agents claim from the queue. `round_robin`: a waiting conversation goes at once to the online agent with the most free capacity (ties: longest since their last conversation); claiming by hand still works."),
    Setting("SLA_FIRST_RESPONSE", "high=5m,normal=15m", str,
            "First-response target per priority (`priority=duration`, durations `90s`, `15m`, `2h`, `1d`), counted in support hours only from the handoff to the agent's first reply. A priority left out has no target."),
    Setting("SLA_RESOLUTION", "high=2h,normal=8h", str,
            "Resolution target per priority, in support hours from the handoff to the resolve; same format as SLA_FIRST_RESPONSE."),
    Setting("SUPPORT_HOLIDAYS", [], _list,
            "Comma-separated single closed days `YYYY-MM-DD` (public holidays, a stock-take day), besides the yearly SUPPORT_CLOSED_DATES; closed for the bot, offline tickets and SLA clocks alike."),
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
    # Channels (docs/channels.md): the outbox and the webhook events' workers, then LINE.
    Setting("CHANNEL_WORKERS", True, _bool,
            "Run the outbox and webhook-event workers (background threads) in this process when a channel (LINE, e-mail) is configured. Off: this process only stores rows, and the processes (on any host) that have it on send them; at least one must."),
    Setting("OUTBOX_THREADS", 2, int, "Outbox worker threads per process (each sends one row at a time)."),
    Setting("CHANNEL_EVENT_THREADS", 8, int,
            "Threads per process that process stored webhook events (each waits for the bot's answer to one customer message at a time)."),
    Setting("OUTBOX_MAX_ATTEMPTS", 10, int,
            "Tries of one outbox row (or stored webhook event) before it is `failed` (shown in `/healthz`, `/metrics` and the console)."),
    Setting("OUTBOX_BACKOFF_SECONDS", 2.0, float,
            "Wait before the second try; doubled after each failed try (with +-20 % jitter), at most OUTBOX_BACKOFF_MAX_SECONDS."),
    Setting("OUTBOX_BACKOFF_MAX_SECONDS", 300.0, float, "Longest wait between two tries of an outbox row."),
    Setting("OUTBOX_LEASE_SECONDS", 60.0, float,
            "A row being sent is leased for this long: if its process dies, another takes the row over after it (and sends with the same idempotency keys). Longer than any send may take."),
    Setting("OUTBOX_POLL_SECONDS", 0.5, float,
            "How often an idle worker looks for rows written by other processes (rows of its own process wake it at once)."),
    Setting("LINE_CHANNEL_SECRET", "", str,
            "The LINE channel secret (LINE Developers console, Basic settings): verifies `X-Line-Signature`. LINE is on when it and LINE_CHANNEL_ACCESS_TOKEN are set."),
    Setting("LINE_CHANNEL_ACCESS_TOKEN", "", str,
            "The LINE channel access token (long-lived), sent as `Authorization: Bearer` to the Messaging API; never logged."),
    Setting("LINE_API_BASE", "https://api.line.me", str, "Base URL of the LINE Messaging API (tests point it at a stand-in)."),
    Setting("LINE_TIMEOUT", 10.0, float, "Seconds to wait for one LINE API call before it counts as failed (and is retried)."),
    Setting("LINE_REPLY_TOKEN_SECONDS", 25.0, float,
            "A reply token is used (free reply API) only this many seconds after the webhook received its event; after that the message is pushed (counts against the month's quota). LINE documents no fixed lifetime for a token, and tokens are reported refused after about 30 s (cofacts/rumors-line-bot#154); 25 s stays under that."),
    # The e-mail channel (handoff/channels/email.py, docs/channels.md).
    Setting("SMTP_URL", "", str,
            "Where mail is sent: `smtp://user:pass@host:587` (STARTTLS; credentials are never sent without it except to the loopback), `smtps://user:pass@host:465` (TLS from the start), `smtp://host:25` (no credentials, a trusted relay). Percent-encode `@`, `:` and `/` in the user and password. E-mail is on when it and MAIL_FROM are set; the password is never logged."),
    Setting("SMTP_CA_FILE", "", str,
            "A CA bundle (PEM) that verifies the SMTP server's certificate, for a relay with a private CA. Empty: the system's CAs. The certificate is always verified, host name included."),
    Setting("SMTP_TIMEOUT", 10.0, float, "Seconds one SMTP conversation may take before it counts as failed (and is retried)."),
    Setting("MAIL_FROM", "", str,
            "The shop's support address mail is sent from (e.g. `support@shop.example`). Its domain is the Message-ID domain and the only domain the receiver takes mail for; replies go to `<local>+<token>@<domain>`, so the shop's server must deliver plus-addresses (`support+...@`) to the receiver."),
    Setting("MAIL_FROM_NAME", "", str, "Display name of the From address (e.g. `つなぎ商店 サポート`); also the shop name in the subject of a reply to an offline ticket."),
    Setting("MAIL_RECEIVE_HOST", "127.0.0.1", str,
            "Address `flask --app handoff mail serve` listens on for the mail the shop's server forwards. Keep it private (loopback or an internal network): the receiver is not meant to face the internet."),
    Setting("MAIL_RECEIVE_PORT", 0, int, "Port of the SMTP receiver (e.g. 2525); 0: no receiver (`mail serve` exits at once)."),
    Setting("MAIL_MAX_BYTES", 10485760, int,
            "Largest inbound mail, attachments included (refused with SMTP 552 while it is sent, so the sender's server tells the sender)."),
    Setting("MAIL_MAX_TEXT_CHARS", 4000, int,
            "Longest text kept from one inbound mail (after the quote is stripped); the rest is cut, with a note the agent sees. Attachments are never stored: the agent sees `[attachment omitted: name]`."),
    Setting("TSUNAGI_PROJECT_DIR", "", str,
            "The Rasa project whose FAQ content editors change from `/console/unanswered` (`data/nlu`, `domain.yml`, `data/topics`). Empty: this repository."),
    Setting("UNANSWERED_SIMILARITY", 0.88, float,
            "Unanswered questions whose average similarity (multilingual-e5-small cosine; see handoff/unanswered.py) is at least this form one group in `/console/unanswered`. Higher: smaller, tighter groups."),
    Setting("ASSIST_PARSE_TIMEOUT", 1.0, float,
            "Seconds the console's suggested answers wait for Rasa to read a customer message the bot did not see (written after the handoff, `POST /model/parse`); past it the console shows no suggestions for that message, and asks again when it reloads."),
    Setting("SURVEYS", ["csat", "ces", "nps"], _surveys,
            "The questions the widget asks after the chat, in this order, from `csat` (satisfaction 1-5), `ces` (effort 1-5) and `nps` (recommend 0-10, with \"why?\"). `none` asks none (the customer just ends the chat); an unknown name is refused at start. A rating of a survey not listed is refused (422 `survey_not_offered`)."),
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
