"""Agents' presence: online, away or offline, and who can take a conversation now.

The agent chooses online or away in the console's header; signing out is offline. The console
sends a heartbeat while it is open (POST /api/agent/presence/heartbeat), and an agent whose console
has not been heard from for PRESENCE_TIMEOUT_SECONDS counts as offline whatever they chose (a closed
laptop must not keep receiving customers). Everything lives in the agents table, so every process
and host reads the same presence without a presence service of its own.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from flask import current_app, has_app_context
from sqlalchemy import and_, func, select, update

from . import events
from .database import utcnow
from .errors import InvalidInput
from .models import Agent, Conversation

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
STATES = (ONLINE, AWAY, OFFLINE)
DEFAULT_TIMEOUT_SECONDS = 90
DEFAULT_MAX_CONCURRENT = 5


def _setting(name: str, default):
    if has_app_context():
        return current_app.config.get(name, default)
    return default


def _timeout(timeout: Optional[float]) -> float:
    return float(_setting("PRESENCE_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS) if timeout is None else timeout)


def effective_state(chosen: str, seen_at: Optional[datetime], active: bool, now: datetime, timeout: float) -> str:
    """What an agent is, from what they chose and when their console was last heard from."""
    if not active or chosen not in (ONLINE, AWAY) or seen_at is None:
        return OFFLINE
    if now - seen_at > timedelta(seconds=timeout):
        return OFFLINE
    return chosen


def state_of(session, agent_id: int, now: Optional[datetime] = None, timeout: Optional[float] = None) -> str:
    """"online", "away" or "offline" (also for an unknown or deactivated agent)."""
    row = session.execute(select(Agent.presence, Agent.presence_seen_at, Agent.active)
                          .where(Agent.id == agent_id)).first()
    if row is None:
        return OFFLINE
    return effective_state(row.presence, row.presence_seen_at, row.active, now or utcnow(), _timeout(timeout))


def states(session, now: Optional[datetime] = None, timeout: Optional[float] = None) -> dict[int, str]:
    """Every agent's state, for the team lists of the console and the dashboard."""
    now, timeout = now or utcnow(), _timeout(timeout)
    return {row.id: effective_state(row.presence, row.presence_seen_at, row.active, now, timeout)
            for row in session.execute(select(Agent.id, Agent.presence, Agent.presence_seen_at, Agent.active))}


# Causes of a change. Only an agent's own choice goes to the audit log: signing in and out have
# their own entries there, and a heartbeat's return after a timeout is no one's action.
CHOSEN, SIGNED_IN, SIGNED_OUT, HEARTBEAT = "chosen", "signed_in", "signed_out", "heartbeat"


def _record_change(session, agent_id: int, before: str, after: str, cause: str) -> None:
    if before != after:
        events.record(session, events.Event(events.PRESENCE_CHANGED, agent_id=agent_id, data={
            "from": before, "state": after, "cause": cause, "target_agent_id": agent_id,
            "audit": {"from": before, "to": after}}))


def set_state(session, agent_id: int, state: str, now: Optional[datetime] = None, cause: str = CHOSEN) -> str:
    """The agent chose a state (or signed in or out: `cause`). Counts as a heartbeat too. Returns the state."""
    if state not in STATES:
        raise InvalidInput("invalid_presence", f"state must be one of {', '.join(STATES)}.")
    now = now or utcnow()
    before = state_of(session, agent_id, now)
    session.execute(update(Agent).where(Agent.id == agent_id)
                    .values(presence=state, presence_seen_at=now).execution_options(synchronize_session=False))
    after = state_of(session, agent_id, now)
    _record_change(session, agent_id, before, after, cause)
    return after


def heartbeat(session, agent_id: int, now: Optional[datetime] = None) -> str:
    """The agent's console is still open. An agent who timed out (say, a laptop that slept) is back
    in the state they chose, which is a change like any other. Returns the state."""
    now = now or utcnow()
    before = state_of(session, agent_id, now)
    session.execute(update(Agent).where(Agent.id == agent_id)
                    .values(presence_seen_at=now).execution_options(synchronize_session=False))
    after = state_of(session, agent_id, now)
    _record_change(session, agent_id, before, after, HEARTBEAT)
    return after


def _online_clause(now: datetime, timeout: float):
    return and_(Agent.active.is_(True), Agent.presence == ONLINE,
                Agent.presence_seen_at >= now - timedelta(seconds=timeout))


def online_agent_ids(session, now: Optional[datetime] = None, timeout: Optional[float] = None) -> list[int]:
    """Agents online now, by id."""
    now = now or utcnow()
    return list(session.scalars(select(Agent.id).where(_online_clause(now, _timeout(timeout))).order_by(Agent.id)))


def free_capacity(session, agent_ids: list[int], default_limit: Optional[int] = None) -> dict[int, int]:
    """How many more conversations each agent may own now (their own limit, else AGENT_MAX_CONCURRENT)."""
    if not agent_ids:
        return {}
    default_limit = int(_setting("AGENT_MAX_CONCURRENT", DEFAULT_MAX_CONCURRENT) if default_limit is None
                        else default_limit)
    owned = dict(session.execute(select(Conversation.agent_id, func.count())
                                 .where(Conversation.agent_id.in_(agent_ids), Conversation.status == "assigned")
                                 .group_by(Conversation.agent_id)).all())
    limits = dict(session.execute(select(Agent.id, Agent.max_concurrent).where(Agent.id.in_(agent_ids))).all())
    return {agent_id: (default_limit if limits.get(agent_id) is None else limits[agent_id]) - owned.get(agent_id, 0)
            for agent_id in agent_ids}


def available_agents(session, now: Optional[datetime] = None, default_limit: Optional[int] = None,
                     timeout: Optional[float] = None) -> list[int]:
    """Agents who can take a conversation now: online, active, below their limit; the one with the
    most free capacity first, ties to whoever has waited longest since their last conversation
    (never assigned: longest of all), then by id so the order is total."""
    now = now or utcnow()
    online = online_agent_ids(session, now, timeout)
    free = free_capacity(session, online, default_limit)
    idle_since = dict(session.execute(select(Agent.id, Agent.last_assigned_at).where(Agent.id.in_(online))).all())
    never = datetime.min.replace(tzinfo=now.tzinfo)
    return sorted((agent_id for agent_id in online if free[agent_id] > 0),
                  key=lambda agent_id: (-free[agent_id], idle_since.get(agent_id) or never, agent_id))
