"""Tsunagi handoff service: the chat gateway between the website widget and Rasa, the queue of
conversations waiting for a person, and the API of the agent console.

    flask --app handoff db-upgrade          # create or migrate the database
    flask --app handoff agents create ...   # an agent account
    gunicorn -c handoff/gunicorn.conf.py 'handoff:create_app()'
"""
from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Optional

import click
from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import ConfigurationError, deployment_refusal, from_environment
from .errors import ApiError

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the blueprints use, built once per app (no module-level globals)."""
    db: Any
    broker: Any
    rasa: Any
    hours: Any
    gateway: Any
    limiter: Any
    stream_settings: Any
    wait_estimate: Any
    sla: Any = None  # handoff/sla.SlaPolicy
    channel_workers: Any = None  # the outbox and webhook-event workers (handoff/channels)


def create_app(test_config: Optional[dict] = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(from_environment())
    if test_config:
        app.config.update(test_config)
    refusal = deployment_refusal(app.config)
    if refusal:
        raise ConfigurationError(refusal)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config["RASA_JWT_SECRET"]:
        app.config["RASA_JWT_SECRET"] = _instance_file(app.instance_path, "rasa_jwt_secret")
    if not app.config["IDENTITY_SECRET"]:
        app.config["IDENTITY_SECRET"] = _instance_file(app.instance_path, "identity_secret")
    if not app.config["DEMO_ORDER_API_TOKEN"]:
        app.config["DEMO_ORDER_API_TOKEN"] = _instance_file(app.instance_path, "demo_order_api_token")
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)
    app.config.update(
        MAX_CONTENT_LENGTH=app.config["MAX_BODY_BYTES"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="tsunagi_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        JSON_SORT_KEYS=False,
    )
    logging.basicConfig(level=app.config["LOG_LEVEL"])
    from .auth import SessionCookies
    app.session_interface = SessionCookies()  # Secure whenever the request came over HTTPS
    if app.config["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"], x_proto=app.config["TRUSTED_PROXIES"])

    app.extensions["tsunagi"] = _build_services(app)

    from . import admin_api, agent_api, customer_api, demo_orders, editor_api, help_api, help_center, operations, pages
    for module in (customer_api, agent_api, admin_api, editor_api, operations, pages, help_center, help_api, demo_orders):
        app.register_blueprint(module.bp)
    from . import channels
    channels.install(app)  # LINE and e-mail routes, their senders, and the outbox workers
    if not app.testing and click.get_current_context(silent=True) is None:
        # The help search's embeddings (also the unanswered list's topic index) are computed in the
        # background from now on, never inside a request (tests start it themselves). Not for a
        # CLI command (`agents create`, `db-upgrade`): a thread still working when the command
        # exits kept SQLite's write-ahead log from being checkpointed into the database file.
        from .help_search import start_warmup
        start_warmup(app)

    _install_error_handlers(app)
    _install_cors(app)
    from .security import install_security_headers
    install_security_headers(app)

    from .cli import register_commands
    register_commands(app)
    return app


def _instance_secret(instance_path: str) -> str:
    path = os.path.join(instance_path, "secret_key")
    try:
        with open(path) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    try:
        # O_EXCL: when several workers start at once, exactly one writes the key, all read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
    except FileExistsError:
        pass
    with open(path) as handle:
        return handle.read().strip() or key


def _instance_file(instance_path: str, name: str) -> str:
    """A secret `make run` keeps in instance/ (empty when there is none)."""
    try:
        with open(os.path.join(instance_path, name)) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""


def _build_services(app: Flask) -> Services:
    from .database import Database, make_engine
    from .events import Dispatcher
    from .gateway import Gateway
    from .help_center import article_path
    from .listeners.assignment_listener import AssignmentListener
    from .listeners.audit_listener import AuditListener
    from .listeners.bot_restart_listener import BotRestartListener
    from .listeners.channel_delivery_listener import ChannelDeliveryListener
    from .listeners.live_push_listener import LivePushListener
    from .listeners.metrics_listener import MetricsListener
    from .listeners.queue_listener import QueueListener
    from .listeners.unanswered_listener import UnansweredListener
    from .live import make_broker
    from .rasa import RasaClient, server_urls
    from .rate_limits import MemoryCounter, RateLimiter, RedisCounter
    from .streams import StreamSettings
    from .agent_queue import WaitEstimate
    from support_hours import SupportHours  # top-level: shared with the bot's actions

    c = app.config
    url = c["DATABASE_URL"]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        os.makedirs(os.path.dirname(os.path.abspath(url[len("sqlite:///"):])) or ".", exist_ok=True)
    broker = make_broker(c["REDIS_URL"], c["REDIS_CHANNEL_PREFIX"], c["REDIS_TIMEOUT"], c["REDIS_RETRY_SECONDS"])
    rasa = RasaClient(server_urls(c["RASA_URLS"], c["RASA_URL"]), c["RASA_CHANNEL_PATH"], c["RASA_TIMEOUT"],
                      c["RASA_JWT_SECRET"], c["RASA_DOWN_SECONDS"])
    from .assignment import check_mode
    from .sla import SlaPolicy
    hours = SupportHours.parse(c["SUPPORT_HOURS"], c["SUPPORT_TIMEZONE"], c["SUPPORT_CLOSED_DATES"],
                               c["SUPPORT_HOLIDAYS"])
    sla = SlaPolicy.from_config(c, hours)
    check_mode(c["ASSIGNMENT"])
    if c["WHEN_NOBODY_ONLINE"] not in ("offline_form", "queue"):
        raise ValueError(f"WHEN_NOBODY_ONLINE must be offline_form or queue, not {c['WHEN_NOBODY_ONLINE']!r}")
    # The channels' worker threads each hold a connection while they work a row: counted on top of
    # the requests' pool, or the pool would keep opening and closing overflow connections under load.
    # (Connections open as needed: an idle pool holds none of them.)
    pool_size = c["DB_POOL_SIZE"] + (c["OUTBOX_THREADS"] + c["CHANNEL_EVENT_THREADS"] if c["CHANNEL_WORKERS"] else 0)
    db = Database(make_engine(url, pool_size, c["DB_MAX_OVERFLOW"]))
    wait_estimate = WaitEstimate.from_config(c)
    db.dispatcher = Dispatcher([
        LivePushListener(broker),
        MetricsListener(),
        QueueListener(broker, db, wait_estimate),
        BotRestartListener(rasa, db),
        UnansweredListener(),
        AuditListener(),
        AssignmentListener(db, c["ASSIGNMENT"], c["AGENT_MAX_CONCURRENT"], c["PRESENCE_TIMEOUT_SECONDS"]),
        ChannelDeliveryListener(app.extensions),
    ])
    counter = RedisCounter(broker) if c["REDIS_URL"] else MemoryCounter()
    return Services(
        db=db, broker=broker, rasa=rasa, hours=hours,
        gateway=Gateway(db, rasa, hours, c["WHEN_NOBODY_ONLINE"], article_path=lambda topic: article_path(app, topic)),
        limiter=RateLimiter(counter, c["REDIS_CHANNEL_PREFIX"]),
        stream_settings=StreamSettings(c["STREAM_HEARTBEAT_SECONDS"], c["STREAM_MAX_SECONDS"], wait_estimate),
        wait_estimate=wait_estimate, sla=sla,
    )


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error.body(), error.status, error.headers

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        codes = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 400: "bad_request"}
        message = error.description or error.name
        if error.code == 413:
            message = f"The body is larger than {app.config['MAX_BODY_BYTES']} bytes."
        response = error.get_response()
        headers = {k: v for k, v in response.headers.items() if k.lower() in ("allow", "retry-after")}
        return {"error": {"code": codes.get(error.code, error.name.lower().replace(" ", "_")),
                          "message": message}}, error.code, headers

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # A 500 is a bug: logged with its traceback, and the client still gets JSON.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}, 500


def _install_cors(app: Flask) -> None:
    allowed = set(app.config["CORS_ORIGINS"])

    @app.after_request
    def cors(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        origin = request.headers.get("Origin")
        if origin and request.path.startswith("/api/v1/") and ("*" in allowed or origin in allowed):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Last-Event-ID"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Max-Age"] = "600"
        if origin and request.path.startswith("/api/v1/"):
            response.vary.add("Origin")
        return response
