"""Assignment: keeps each agent's "last given a conversation" time (the tie-break of auto-assignment)
and, with ASSIGNMENT=round_robin, assigns waiting conversations whenever the queue or the team
changes: a customer joins the queue, an agent comes online, or an agent's capacity frees up."""
from __future__ import annotations

from sqlalchemy import update

from .. import events
from ..assignment import ROUND_ROBIN, assign_waiting
from ..database import utcnow
from ..events import Event, Listener
from ..models import Agent

# After these, a waiting conversation may have an agent to go to.
TRIGGERS = frozenset({events.HANDOFF_REQUESTED, events.PRESENCE_CHANGED, events.RESOLVED, events.HANDED_BACK,
                      events.TRANSFERRED, events.REQUEUED, events.AGENT_REACTIVATED})


class AssignmentListener(Listener):
    handles = TRIGGERS | {events.CLAIMED}

    def __init__(self, db, mode: str, default_limit: int, presence_timeout: float):
        self.db = db
        self.mode = mode
        self.default_limit = default_limit
        self.presence_timeout = presence_timeout

    def on_record(self, session, event: Event) -> None:
        if event.name in (events.CLAIMED, events.TRANSFERRED) and event.agent_id is not None:
            session.execute(update(Agent).where(Agent.id == event.agent_id).values(last_assigned_at=utcnow())
                            .execution_options(synchronize_session=False))

    def after_commit_batch(self, batch: list[Event]) -> None:
        # Its own transaction after the commit: the customer's or agent's request is done and saved
        # whatever happens here; a failed run leaves the queue as it was for the next trigger.
        if self.mode != ROUND_ROBIN or not any(event.name in TRIGGERS for event in batch):
            return
        with self.db.writing() as session:
            assign_waiting(session, self.default_limit, self.mode, self.presence_timeout)
