"""Agent accounts: creation (hashed passwords), authentication, and how they are shown."""
from __future__ import annotations

from typing import Optional

from flask import current_app
from sqlalchemy import bindparam, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .auth import ROLES
from .database import utcnow
from .errors import Conflict, InvalidInput
from .lifecycle import Status
from .models import Agent, Conversation

# Compared against when the e-mail is unknown, so a wrong e-mail takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


def create_agent(session, email: str, name: str, role: str, password: str, max_concurrent: Optional[int] = None) -> Agent:
    email = email.strip().lower()
    if role not in ROLES:
        raise InvalidInput("invalid_role", f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise InvalidInput("weak_password", "A password needs at least 8 characters.")
    if session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise Conflict("agent_exists", f"An agent with e-mail {email} already exists.")
    agent = Agent(email=email, name=name.strip(), role=role, password_hash=generate_password_hash(password),
                  active=True, max_concurrent=max_concurrent, created_at=utcnow())
    session.add(agent)
    session.flush()
    return agent


def authenticate(session, email: str, password: str) -> Optional[Agent]:
    agent = session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    if agent is None or not agent.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return agent if check_password_hash(agent.password_hash, password) else None


_SELECT_AGENT = select(Agent.__table__).where(Agent.__table__.c.id == bindparam("agent_id"))  # built once


def load_agent(agent_id) -> Optional[Agent]:
    """The session's agent, when still active. Runs on every agent request: a Core SELECT and a
    plain (transient) Agent, without the ORM's identity-map load."""
    row = current_app.extensions["tsunagi"].db.first_row(_SELECT_AGENT, {"agent_id": agent_id})
    return Agent(**row._mapping) if row is not None and row.active else None


def open_counts(session) -> dict[int, int]:
    rows = session.execute(select(Conversation.agent_id, func.count()).where(
        Conversation.status == Status.ASSIGNED.value).group_by(Conversation.agent_id))
    return {agent_id: count for agent_id, count in rows}


def agent_json(agent: Agent, open_count: Optional[int] = None, default_limit: Optional[int] = None) -> dict:
    body = {"id": agent.id, "email": agent.email, "name": agent.name, "role": agent.role}
    if open_count is not None:
        body["open_conversations"] = open_count
    if default_limit is not None:
        body["max_concurrent"] = agent.max_concurrent if agent.max_concurrent is not None else default_limit
    return body


def list_agents(session) -> list[Agent]:
    return list(session.scalars(select(Agent).where(Agent.active.is_(True)).order_by(Agent.name, Agent.id)))
