"""Queue broadcast: after anything that reshapes the queue, tell every stream the new order, so
waiting customers see their position and estimated wait move, and agents see the queue change."""
from __future__ import annotations

import logging

from .. import events
from ..agent_queue import WaitEstimate, snapshot
from ..events import Event, Listener

log = logging.getLogger(__name__)

QUEUE_CHANNEL = "queue"


class QueueListener(Listener):
    handles = events.QUEUE_CHANGES

    def __init__(self, broker, db, estimate: WaitEstimate):
        self.broker = broker
        self.db = db
        self.estimate = estimate

    def after_commit_batch(self, batch: list[Event]) -> None:
        # One broadcast per commit: it carries the whole order, so the last change sums up all.
        with self.db.reading() as session:
            state = snapshot(session, self.estimate)
        state["conversation_id"] = batch[-1].conversation_id
        state["change"] = batch[-1].name
        self.broker.publish(QUEUE_CHANNEL, state)
