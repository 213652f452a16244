"""Metrics: one metric_events row per KPI-relevant happening, committed with the happening itself,
and the running totals in metric_counters moved in the same transaction.

Rows, not prometheus_client counters in memory: every worker process and host reads the same
totals, kept over restarts. The dashboard aggregates metric_events over a date range; /metrics
(operations.MetricCountersCollector) reads the few metric_counters rows, so a scrape costs the
same with a hundred events or ten million.

A transaction adds its totals just before it commits, in one sorted batch: each counter row is
locked only for the commit itself, and two transactions always lock counters in the same order,
so they can wait for each other but never deadlock.
"""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import event as orm_event, update
from sqlalchemy.dialects import postgresql, sqlite

from .. import events
from ..database import utcnow
from ..events import Event, Listener
from ..models import Conversation, MetricCounter, MetricEvent

# metric_events label of a claim of an offline ticket, kept out of live-wait figures (the wait
# estimate, the KPI dashboard's queue wait and /metrics' claim wait read claims without it).
OFFLINE_CLAIM = "offline"

_PENDING = "tsunagi_metric_counts"  # session.info key: (name, label) -> [count, total]


class MetricsListener(Listener):
    handles = frozenset({events.CONVERSATION_STARTED, events.BOT_ANSWERED, events.BOT_FELL_BACK,
                         events.HANDOFF_REQUESTED, events.OFFLINE_TICKET_OPENED, events.CLAIMED,
                         events.MESSAGE_CREATED, events.RESOLVED, events.RATED,
                         events.SUGGESTION_SHOWN, events.SUGGESTION_SETTLED})

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
            # An offline ticket's wait (often overnight) is labelled, kept out of live-wait figures.
            rows.append(("claimed", OFFLINE_CLAIM if data.get("offline") else None, data["wait_seconds"]))
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
            if data.get("nps") is not None:
                rows.append(("rated", "nps", data["nps"]))
        elif event.name == events.SUGGESTION_SHOWN:  # per topic; the value is its rank (1 = closest)
            rows.append(("assist_shown", data["topic"], data["rank"]))
        elif event.name == events.SUGGESTION_SETTLED:
            rows.append(("assist_" + data["outcome"], data["topic"], data["rank"]))
        if not rows:
            return
        now = utcnow()
        for name, label, value in rows:
            session.add(MetricEvent(name=name, at=now, conversation_id=event.conversation_id, agent_id=event.agent_id,
                                    language=data.get("language"), label=label, value=value))
        _count(session, rows)

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


def _count(session, rows) -> None:
    """Adds the rows to this transaction's pending totals; the first call hooks the commit."""
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = {}
        orm_event.listen(session, "before_commit", _add_to_counters)
    for name, label, value in rows:
        totals = pending.setdefault((name, label or ""), [0, 0.0])
        totals[0] += 1
        totals[1] += value or 0.0


def _add_to_counters(session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.execute(_upsert(session.get_bind().dialect.name),
                    [{"name": name, "label": label, "count": count, "total": total}
                     for (name, label), (count, total) in sorted(pending.items())])


@lru_cache(maxsize=None)
def _upsert(dialect: str):
    """INSERT ... ON CONFLICT (name, label) DO UPDATE SET count = count + excluded.count, ...:
    one statement per transaction, built once per dialect."""
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    table = MetricCounter.__table__
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.name, table.c.label],
        set_={"count": table.c.count + statement.excluded["count"],
              "total": table.c.total + statement.excluded.total})
