"""Metrics: one metric_events row per KPI-relevant happening, committed with the happening itself.

Rows, not prometheus_client counters in memory: every worker process's /metrics
(operations.MetricEventsCollector) and the KPI dashboard read the same totals, kept over restarts.
"""
from __future__ import annotations

from sqlalchemy import update

from .. import events
from ..database import utcnow
from ..events import Event, Listener
from ..models import Conversation, MetricEvent


class MetricsListener(Listener):
    handles = frozenset({events.CONVERSATION_STARTED, events.BOT_ANSWERED, events.BOT_FELL_BACK,
                         events.HANDOFF_REQUESTED, events.OFFLINE_TICKET_OPENED, events.CLAIMED,
                         events.MESSAGE_CREATED, events.RESOLVED, events.RATED})

    def on_record(self, session, event: Event) -> None:
        data = event.data
        rows: list[tuple[str, str | None, float | None]] = []
        if event.name == events.CONVERSATION_STARTED:
            rows.append(("conversation_started", None, None))
        elif event.name == events.BOT_ANSWERED:
            rows.append(("topic_answered", data["intent"], None))
        elif event.name == events.BOT_FELL_BACK:
            rows.append(("fallback", data["intent"], None))
        elif event.name in (events.HANDOFF_REQUESTED, events.OFFLINE_TICKET_OPENED):
            # An offline message left while already queued is the same handoff, not a new one.
            if data.get("from_status") != "waiting":
                rows.append(("handoff", data["reason"], None))
        elif event.name == events.CLAIMED:
            rows.append(("claimed", None, data["wait_seconds"]))
        elif event.name == events.MESSAGE_CREATED:
            seconds = self._first_agent_reply(session, event)
            if seconds is not None:
                rows.append(("first_agent_reply", None, seconds))
        elif event.name == events.RESOLVED:
            rows.append(("resolved", data["by"], data["handle_seconds"]))
        elif event.name == events.RATED:
            if data.get("csat") is not None:
                rows.append(("rated", "csat", data["csat"]))
            if data.get("ces") is not None:
                rows.append(("rated", "ces", data["ces"]))
        if not rows:
            return
        now = utcnow()
        for name, label, value in rows:
            session.add(MetricEvent(name=name, at=now, conversation_id=event.conversation_id, agent_id=event.agent_id,
                                    language=data.get("language"), label=label, value=value))

    @staticmethod
    def _first_agent_reply(session, event: Event):
        """Seconds from the handoff to the agent's first reply of this handoff, else None.

        The conversation row the message was numbered under tells whether a reply came before, so
        later replies cost no extra query; the conditional UPDATE keeps two racing replies from both
        counting as the first.
        """
        message, conversation = event.data["message"], event.data["conversation"]
        if message.sender != "agent" or conversation.first_reply_at is not None:
            return None
        table = Conversation.__table__
        first = session.execute(update(table).where(table.c.id == event.conversation_id,
                                                    table.c.first_reply_at.is_(None))
                                .values(first_reply_at=message.created_at))
        if first.rowcount != 1 or conversation.queued_at is None:
            return None
        return (message.created_at - conversation.queued_at).total_seconds()
