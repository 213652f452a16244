"""Operations endpoints: /healthz, /metrics (Prometheus text format, by prometheus_client) and
/api/openapi.json."""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from sqlalchemy import func, select, text

from .errors import Forbidden, Unauthorized
from .lifecycle import HUMAN_SIDE
from .listeners.metrics_listener import OFFLINE_CLAIM
from .models import Conversation, MetricCounter
from . import outbox, schemas
from .openapi import METRICS, PUBLIC, endpoint, openapi_document

bp = Blueprint("operations", __name__)

# The statuses in someone's hands (lifecycle.HUMAN_SIDE), as strings in a stable order.
OPEN_STATUSES = tuple(sorted(status.value for status in HUMAN_SIDE))


def services():
    return current_app.extensions["tsunagi"]


@bp.get("/healthz")
@endpoint({200: schemas.Health, 503: schemas.Health}, PUBLIC, errors=False)
def healthz():
    """Liveness, with database, Redis and each Rasa server's reachability. 503 `unavailable`: the
    database is unreachable. 200 `degraded`: Redis (each process then works on its own) or a Rasa
    server (its conversations move to another; none left: customers are offered a person) is down,
    named in `degraded`."""
    s = services()
    outbox_health = None
    try:
        with s.db.reading() as session:
            session.execute(text("SELECT 1"))
            outbox_health = outbox.health(session)
        database = True
    except Exception:
        database = False
    rasa_servers = s.rasa.servers()
    checks = {"database": database, "redis": s.broker.ping() if current_app.config["REDIS_URL"] else None,
              "rasa": all(rasa_servers.values()),
              # Messages to LINE / e-mail waiting, and failed (after every retry) in the last 24 hours.
              "outbox": outbox_health}
    degraded = [part for part in ("redis", "rasa") if checks[part] is False]
    if outbox_health and outbox_health["failed"]:
        degraded.append("outbox")
    status = "unavailable" if not database else "degraded" if degraded else "ok"
    return {"status": status, "checks": checks, "degraded": degraded,
            "rasa_servers": [{"url": url, "up": up} for url, up in rasa_servers.items()]}, 200 if database else 503


def counter_families(counters):
    """The KPI counters' Prometheus families (all /metrics reports but the gauges), from rows of
    (event name, label, count, total): one per name and label, the label "" where there is none."""
    def total(name, only=None):
        return sum(n for ev, label, n, _ in counters if ev == name and (only is None or label == only))

    def summed(name, only=None):
        return sum(v for ev, label, _, v in counters if ev == name and (only is None or label == only))

    def counter(metric, help_text, name, by_label=None):
        if by_label is None:
            return CounterMetricFamily(metric, help_text, value=total(name))
        family = CounterMetricFamily(metric, help_text, labels=[by_label])
        for ev, label, n, _ in counters:
            if ev == name:
                family.add_metric([label], n)
        return family

    yield counter("tsunagi_conversations_started_total", "Conversations started.", "conversation_started")
    yield counter("tsunagi_topics_answered_total", "Bot turns that recognised a topic.", "topic_answered", "topic")
    yield counter("tsunagi_fallbacks_total", "Bot turns that did not understand.", "fallback")
    yield counter("tsunagi_handoffs_total", "Handoffs to people, by reason.", "handoff", "reason")
    # Live claims only (label ""): an offline ticket's wait (often overnight) says nothing about the
    # live queue, so it has its own summary.
    yield SummaryMetricFamily("tsunagi_claim_wait_seconds", "Live queue wait until an agent claimed.",
                              count_value=total("claimed", ""), sum_value=summed("claimed", ""))
    yield SummaryMetricFamily("tsunagi_offline_ticket_wait_seconds", "Offline ticket wait until an agent claimed.",
                              count_value=total("claimed", OFFLINE_CLAIM), sum_value=summed("claimed", OFFLINE_CLAIM))
    yield SummaryMetricFamily("tsunagi_first_agent_reply_seconds", "Handoff to first agent reply.",
                              count_value=total("first_agent_reply"), sum_value=summed("first_agent_reply"))
    yield counter("tsunagi_resolved_total", "Conversations resolved, by who closed them.", "resolved", "by")
    yield counter("tsunagi_ratings_total", "Ratings given, by scale (csat, ces, nps).", "rated", "scale")
    # Answers at the agent's hand (handoff/agent_assist.py), per topic.
    yield counter("tsunagi_assist_suggestions_shown_total", "Suggested answers shown to agents, by topic.",
                  "assist_shown", "topic")
    yield counter("tsunagi_assist_suggestions_used_total", "Suggested answers agents sent, by topic.",
                  "assist_used", "topic")
    yield counter("tsunagi_assist_suggestions_ignored_total", "Suggested answers agents passed over, by topic.",
                  "assist_ignored", "topic")


class MetricCountersCollector:
    """The KPI counters as Prometheus families, read at each scrape from metric_counters (kept by
    listeners/metrics_listener.py as events happen), so every worker process and host reports the
    same totals and a scrape reads a few dozen rows, not every event."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        s = self.app.extensions["tsunagi"]
        with s.db.reading() as session:
            counters = sorted(tuple(row) for row in session.execute(select(
                MetricCounter.name, MetricCounter.label, MetricCounter.count, MetricCounter.total)))
            # Only the open statuses: an index range of the conversations still in someone's hands.
            # `bot` and `resolved` grow for ever; conversations_started and resolved count them.
            statuses = dict(session.execute(select(Conversation.status, func.count())
                                            .where(Conversation.status.in_(OPEN_STATUSES))
                                            .group_by(Conversation.status)).all())
            unsent = outbox.counts_by_channel(session)

        yield from counter_families(counters)
        conversations = GaugeMetricFamily("tsunagi_conversations", "Open conversations by status (waiting, "
                                          "assigned, offline).", labels=["status"])
        for status in OPEN_STATUSES:
            conversations.add_metric([status], statuses.get(status, 0))
        yield conversations
        rows = GaugeMetricFamily("tsunagi_outbox_rows", "Outbox rows not sent, by channel and status (pending, "
                                 "sending, failed).", labels=["channel", "status"])
        for channel, status, count in unsent:
            rows.add_metric([channel, status], count)
        yield rows
        yield GaugeMetricFamily("tsunagi_open_streams", "Live streams open in this process.",
                                value=s.broker.hub.open_subscriptions)


@bp.record_once
def _register_collector(state) -> None:
    registry = CollectorRegistry(auto_describe=False)  # no query at start-up: only at a scrape
    registry.register(MetricCountersCollector(state.app))
    state.app.extensions["tsunagi_metrics"] = registry


def _from_loopback() -> bool:
    """A request made on this machine, not relayed: a reverse proxy on the same host adds
    X-Forwarded-For (ProxyFix, with TRUSTED_PROXIES, has already put the real client in
    remote_addr), and a relayed request is not the loopback's."""
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    # A dual-stack socket reports an IPv4 client as ::ffff:127.0.0.1.
    local = (getattr(address, "ipv4_mapped", None) or address).is_loopback
    return local and "X-Forwarded-For" not in request.headers and "Forwarded" not in request.headers


def _check_metrics_access() -> None:
    """METRICS_TOKEN set: the scraper sends it as a bearer token (compared in constant time).
    Unset: only a scraper on this machine's loopback may read the figures."""
    expected = current_app.config["METRICS_TOKEN"]
    if not expected:
        if not _from_loopback():
            raise Forbidden("metrics_token_not_configured",
                            "/metrics answers only on the loopback until METRICS_TOKEN is set.")
        return
    header = request.headers.get("Authorization", "")
    sent = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Unauthorized("metrics_token_required",
                           "Send the metrics token as 'Authorization: Bearer <METRICS_TOKEN>'.",
                           headers={"WWW-Authenticate": 'Bearer realm="metrics"'})


@bp.get("/metrics")
@endpoint({200: "text/plain"}, METRICS)
def metrics():
    """Prometheus text format (METRICS_TOKEN as a bearer token; without one, the loopback only)."""
    _check_metrics_access()
    return Response(generate_latest(current_app.extensions["tsunagi_metrics"]), content_type=CONTENT_TYPE_LATEST)


@bp.get("/api/openapi.json")
def openapi():
    return openapi_document(current_app)
