"""Operations endpoints: /healthz, /metrics (Prometheus text format) and /api/openapi.json."""
from __future__ import annotations

from flask import Blueprint, Response, current_app
from sqlalchemy import func, select, text

from .models import Conversation, MetricEvent
from .openapi import openapi_document

bp = Blueprint("operations", __name__)


def services():
    return current_app.extensions["tsunagi"]


@bp.get("/healthz")
def healthz():
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


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@bp.get("/metrics")
def metrics():
    s = services()
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[dict, float]]):
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            label_text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
            lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")

    with s.db.reading() as session:
        events = session.execute(select(MetricEvent.name, MetricEvent.label, func.count(), func.sum(MetricEvent.value))
                                 .group_by(MetricEvent.name, MetricEvent.label)).all()
        statuses = session.execute(select(Conversation.status, func.count()).group_by(Conversation.status)).all()

    def count(name, by_label=None):
        return [({by_label: label or ""} if by_label else {}, n) for ev, label, n, _ in events if ev == name] or [({}, 0)]

    def total(name):
        return sum(n for ev, _, n, _ in events if ev == name)

    def summed(name):
        return sum(v or 0 for ev, _, _, v in events if ev == name)

    family("tsunagi_conversations_started_total", "counter", "Conversations started.", [({}, total("conversation_started"))])
    family("tsunagi_topics_answered_total", "counter", "Bot turns that recognised a topic.", count("topic_answered", "topic"))
    family("tsunagi_fallbacks_total", "counter", "Bot turns that did not understand.", [({}, total("fallback"))])
    family("tsunagi_handoffs_total", "counter", "Handoffs to people, by reason.", count("handoff", "reason"))
    family("tsunagi_claim_wait_seconds", "summary", "Queue wait until an agent claimed.", [])
    lines.append(f"tsunagi_claim_wait_seconds_sum {summed('claimed')}")
    lines.append(f"tsunagi_claim_wait_seconds_count {total('claimed')}")
    family("tsunagi_first_agent_reply_seconds", "summary", "Handoff to first agent reply.", [])
    lines.append(f"tsunagi_first_agent_reply_seconds_sum {summed('first_agent_reply')}")
    lines.append(f"tsunagi_first_agent_reply_seconds_count {total('first_agent_reply')}")
    family("tsunagi_resolved_total", "counter", "Conversations resolved, by who closed them.", count("resolved", "by"))
    family("tsunagi_ratings_total", "counter", "Ratings given, by scale (csat, ces).", count("rated", "scale"))
    family("tsunagi_conversations", "gauge", "Conversations by current status.",
           [({"status": status}, n) for status, n in statuses] or [({"status": "bot"}, 0)])
    family("tsunagi_open_streams", "gauge", "Live streams open in this process.",
           [({}, s.broker.hub.open_subscriptions)])
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")


@bp.get("/api/openapi.json")
def openapi():
    return openapi_document()
