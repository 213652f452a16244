"""Auto-assignment (ASSIGNMENT=round_robin): waiting conversations go to online agents, in queue
order (priority, then age), each to the agent with the most free capacity, ties to the one idle
longest (handoff/presence.available_agents). Manual claiming stays; `manual` (the default) assigns
nothing.

Race safety, on SQLite and PostgreSQL alike: one transaction assigns, and the move itself is
lifecycle.claim (a conditional UPDATE, with the agent's capacity checked under the agent's row
lock). On PostgreSQL a run first takes the next waiting conversation with FOR UPDATE SKIP LOCKED,
then the online agents' rows FOR UPDATE in id order: the same order as a manual claim (conversation,
then agent), so a run and a claim never deadlock, and two runs take turns on the agents instead of
both seeing the same free place. SQLite has one writer at a time (BEGIN IMMEDIATE) anyway.
"""
from __future__ import annotations

import logging
from typing import Optional

from sqlalchemy import select

from . import presence
from .database import utcnow
from .errors import Conflict
from .lifecycle import Status, claim
from .models import Agent, Conversation

log = logging.getLogger(__name__)

MANUAL, ROUND_ROBIN = "manual", "round_robin"
MODES = (MANUAL, ROUND_ROBIN)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"ASSIGNMENT must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def _next_waiting(session, skip: set[str]) -> Optional[str]:
    query = (select(Conversation.id).where(Conversation.status == Status.WAITING.value)
             .order_by(Conversation.priority_rank, Conversation.queued_at, Conversation.id))
    if skip:
        query = query.where(Conversation.id.not_in(skip))
    return session.scalar(query.limit(1).with_for_update(skip_locked=True))


def assign_waiting(session, default_limit: int, mode: str = ROUND_ROBIN, timeout: Optional[float] = None,
                   limit: int = 1000) -> list[tuple[str, int]]:
    """Assign waiting conversations while an online agent has room. Returns (conversation, agent) pairs."""
    if mode != ROUND_ROBIN:
        return []
    assigned: list[tuple[str, int]] = []
    skipped: set[str] = set()
    while len(assigned) < limit:
        conversation_id = _next_waiting(session, skipped)
        if conversation_id is None:
            break
        now = utcnow()
        # Locked again on every round (cheap for rows already held): an agent who came online
        # meanwhile is locked before anything is counted for them.
        session.execute(select(Agent.id).where(Agent.id.in_(presence.online_agent_ids(session, now, timeout)))
                        .order_by(Agent.id).with_for_update()).all()
        candidates = presence.available_agents(session, now, default_limit, timeout)
        if not candidates:
            break
        agent = session.get(Agent, candidates[0], populate_existing=True)
        try:
            with session.begin_nested():
                claim(session, conversation_id, agent, default_limit, now=now, assigned_by=mode)
        except Conflict as error:  # claimed by hand meanwhile, or the agent's limit moved: next one
            log.info("auto-assignment skipped %s: %s", conversation_id, error.code)
            skipped.add(conversation_id)
            continue
        assigned.append((conversation_id, agent.id))
    return assigned
