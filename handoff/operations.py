"""Operations endpoints: /healthz, /metrics (Prometheus text format, by prometheus_client) and
/api/openapi.json."""
from __future__ import annotations

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from sqlalchemy import func, select, text

from .models import Conversation, MetricEvent
from . import schemas
from .openapi import PUBLIC, endpoint, openapi_document

bp = Blueprint("operations", __name__)


def services():
    return current_app.extensions["tsunagi"]


@bp.get("/healthz")
@endpoint({200: schemas.Health, 503: schemas.Health}, PUBLIC, errors=False)
def healthz():
    """Liveness, with database, Redis and Rasa reachability (503: database or Redis unreachable)."""
    s = services()
    try:
        with s.db.reading() as session:
            session.execute(text("SELECT 1"))
        database = True
    except Exception:
        database = False
    checks = {"database": database, "redis": s.broker.ping() if current_app.config["REDIS_URL"] else None,
              "rasa": s.rasa.ping()}
    # Rasa down is degraded service (customers still reach people), not a dead process.
    healthy = database and checks["redis"] is not False
    return {"status": "ok" if healthy else "unavailable", "checks": checks}, 200 if healthy else 503


class MetricEventsCollector:
    """The KPI counters as Prometheus families, aggregated from metric_events at each scrape, so
    every worker process reports the same totals."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        s = self.app.extensions["tsunagi"]
        with s.db.reading() as session:
            events = session.execute(select(MetricEvent.name, MetricEvent.label, func.count(),
                                            func.sum(MetricEvent.value))
                                     .group_by(MetricEvent.name, MetricEvent.label)).all()
            statuses = session.execute(select(Conversation.status, func.count())
                                       .group_by(Conversation.status)).all()

        def total(name):
            return sum(n for ev, _, n, _ in events if ev == name)

        def summed(name):
            return sum(v or 0 for ev, _, _, v in events if ev == name)

        def counter(metric, help_text, name, by_label=None):
            if by_label is None:
                return CounterMetricFamily(metric, help_text, value=total(name))
            family = CounterMetricFamily(metric, help_text, labels=[by_label])
            for ev, label, n, _ in events:
                if ev == name:
                    family.add_metric([label or ""], n)
            return family

        yield counter("tsunagi_conversations_started_total", "Conversations started.", "conversation_started")
        yield counter("tsunagi_topics_answered_total", "Bot turns that recognised a topic.", "topic_answered", "topic")
        yield counter("tsunagi_fallbacks_total", "Bot turns that did not understand.", "fallback")
        yield counter("tsunagi_handoffs_total", "Handoffs to people, by reason.", "handoff", "reason")
        yield SummaryMetricFamily("tsunagi_claim_wait_seconds", "Queue wait until an agent claimed.",
                                  count_value=total("claimed"), sum_value=summed("claimed"))
        yield SummaryMetricFamily("tsunagi_first_agent_reply_seconds", "Handoff to first agent reply.",
                                  count_value=total("first_agent_reply"), sum_value=summed("first_agent_reply"))
        yield counter("tsunagi_resolved_total", "Conversations resolved, by who closed them.", "resolved", "by")
        yield counter("tsunagi_ratings_total", "Ratings given, by scale (csat, ces).", "rated", "scale")
        conversations = GaugeMetricFamily("tsunagi_conversations", "Conversations by current status.",
                                          labels=["status"])
        for status, n in statuses or [("bot", 0)]:
            conversations.add_metric([status], n)
        yield conversations
        yield GaugeMetricFamily("tsunagi_open_streams", "Live streams open in this process.",
                                value=s.broker.hub.open_subscriptions)


@bp.record_once
def _register_collector(state) -> None:
    registry = CollectorRegistry(auto_describe=False)  # no query at start-up: only at a scrape
    registry.register(MetricEventsCollector(state.app))
    state.app.extensions["tsunagi_metrics"] = registry


@bp.get("/metrics")
@endpoint({200: "text/plain"}, PUBLIC, errors=False)
def metrics():
    """Prometheus text format."""
    return Response(generate_latest(current_app.extensions["tsunagi_metrics"]), content_type=CONTENT_TYPE_LATEST)


@bp.get("/api/openapi.json")
def openapi():
    return openapi_document(current_app)
