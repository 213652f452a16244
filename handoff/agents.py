"""Agent accounts: creation (hashed passwords), sign-in, and what admins do to them (deactivate,
reactivate, reset a password, change a role), each recorded for the audit log."""
from __future__ import annotations

import hashlib
import secrets
from typing import Optional

from flask import current_app
from sqlalchemy import bindparam, func, select, text
from werkzeug.security import check_password_hash, generate_password_hash

from . import events
from .audit import Actor
from .auth import ROLES
from .database import utcnow
from .errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from .lifecycle import Status, requeue_conversations_of
from .models import Agent, Conversation
from .transcript import iso

# Compared against when the e-mail is unknown, so a wrong e-mail takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")
MIN_PASSWORD_CHARS = 8
_ADMIN_COUNT_LOCK = 0x7473_0001  # pg_advisory_xact_lock key: changes that may remove an admin


def temporary_password() -> str:
    """A random password to hand over once; its holder must choose their own at first sign-in."""
    return secrets.token_urlsafe(12)


def _check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput("weak_password", f"A password needs at least {MIN_PASSWORD_CHARS} characters.")


def create_agent(session, email: str, name: str, role: str, password: str, max_concurrent: Optional[int] = None,
                 actor: Optional[Actor] = None, must_change_password: bool = False) -> Agent:
    email = email.strip().lower()
    if role not in ROLES:
        raise InvalidInput("invalid_role", f"role must be one of {', '.join(ROLES)}")
    _check_password_strength(password)
    if session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise Conflict("agent_exists", f"An agent with e-mail {email} already exists.")
    agent = Agent(email=email, name=name.strip(), role=role, password_hash=generate_password_hash(password),
                  active=True, max_concurrent=max_concurrent, created_at=utcnow(), session_epoch=0,
                  must_change_password=must_change_password)
    session.add(agent)
    session.flush()
    if actor is not None:
        _record(session, events.AGENT_CREATED, actor, agent, role=role)
    return agent


def check_credentials(session, email: str, password: str) -> tuple[Optional[Agent], str]:
    """(the account of that e-mail or None, the outcome: "ok", unknown_account, inactive or
    wrong_password). Only "ok" signs in; the account is returned on a failure too, as the failed
    login's target. The outcome is for the audit log only; the client hears "wrong e-mail or
    password" in every case."""
    agent = session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    if agent is None:
        check_password_hash(_DUMMY_HASH, password)
        return None, "unknown_account"
    if not check_password_hash(agent.password_hash, password):
        return agent, "wrong_password"
    if not agent.active:
        return agent, "inactive"
    return agent, "ok"


def account_key(email: str) -> str:
    """The per-account login throttle's key: the same for an e-mail that has an account and one that
    has not (so a 429 tells nothing about which), and no e-mail address in Redis."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def sign_in(db, limiter, config, email: str, password: str, ip: str) -> Agent:
    """Throttled per address and per account (429 with Retry-After, before the password is even
    checked), then checked; success and failure both go to the audit log."""
    limiter.check("login", ip, config["RATE_LIMIT_LOGIN"])
    limiter.check("login-account", account_key(email), config["RATE_LIMIT_LOGIN_PER_ACCOUNT"])
    with db.reading() as session:
        account, outcome = check_credentials(session, email, password)
    agent, known = (account if outcome == "ok" else None), (account.id if account is not None else None)
    with db.writing() as session:
        if agent is not None:
            _record(session, events.LOGGED_IN, Actor.of(agent), agent)
        else:
            events.record(session, events.Event(events.LOGIN_FAILED, data={
                "actor": Actor(None, email.strip().lower()[:254]), "target_agent_id": known,
                "audit": {"reason": outcome}}))
    if agent is None:
        raise Unauthorized("invalid_credentials", "Wrong e-mail or password.")
    return agent


def sign_out(db, agent: Agent) -> None:
    """Recorded for the audit log; the caller ends the session."""
    with db.writing() as session:
        _record(session, events.LOGGED_OUT, Actor.of(agent), agent)


_SELECT_AGENT = select(Agent.__table__).where(Agent.__table__.c.id == bindparam("agent_id"))  # built once


def load_agent(agent_id, epoch: int = 0) -> Optional[Agent]:
    """The session's agent, when still active and the session still current (its epoch is the
    account's: a deactivation or a password reset ends every older session). Runs on every agent
    request: a Core SELECT and a plain (transient) Agent, without the ORM's identity-map load."""
    return agent_of_session(current_app.extensions["tsunagi"].db, agent_id, epoch)


def agent_of_session(db, agent_id, epoch: int) -> Optional[Agent]:
    row = db.first_row(_SELECT_AGENT, {"agent_id": agent_id})
    if row is None or not row.active or row.session_epoch != epoch:
        return None
    return Agent(**row._mapping)


def open_counts(session) -> dict[int, int]:
    rows = session.execute(select(Conversation.agent_id, func.count()).where(
        Conversation.status == Status.ASSIGNED.value).group_by(Conversation.agent_id))
    return {agent_id: count for agent_id, count in rows}


def open_count_of(session, agent_id: int) -> int:
    """How many conversations one agent has open (open_counts, for that agent only)."""
    return session.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.agent_id == agent_id, Conversation.status == Status.ASSIGNED.value))


def agent_json(agent: Agent, open_count: Optional[int] = None, default_limit: Optional[int] = None) -> dict:
    body = {"id": agent.id, "email": agent.email, "name": agent.name, "role": agent.role}
    if open_count is not None:
        body["open_conversations"] = open_count
    if default_limit is not None:
        body["max_concurrent"] = agent.max_concurrent if agent.max_concurrent is not None else default_limit
    return body


def list_agents(session) -> list[Agent]:
    return list(session.scalars(select(Agent).where(Agent.active.is_(True)).order_by(Agent.name, Agent.id)))


# What admins do to accounts (the admin API and `flask --app handoff agents ...`)

def list_all_agents(session) -> list[Agent]:
    return list(session.scalars(select(Agent).order_by(Agent.active.desc(), Agent.name, Agent.id)))


def staff_json(agent: Agent, open_count: int = 0) -> dict:
    return {"id": agent.id, "email": agent.email, "name": agent.name, "role": agent.role, "active": bool(agent.active),
            "must_change_password": bool(agent.must_change_password), "open_conversations": open_count,
            "created_at": iso(agent.created_at)}


def locked_agent(session, agent_id: int) -> Agent:
    """The agent's row, read afresh and locked for the rest of the transaction (404 agent_not_found)."""
    # FOR NO KEY UPDATE (PostgreSQL): it does not block the key-share locks that inserting rows which
    # refer to this agent takes (an audit entry naming them as its actor), which would deadlock two
    # admins acting on each other at once.
    agent = session.get(Agent, agent_id, with_for_update={"key_share": True}, populate_existing=True)
    if agent is None:
        raise NotFound("agent_not_found", "No agent with that id.")
    return agent


def find_agent(session, id_or_email: str) -> Agent:
    """By id or e-mail (the command line takes either)."""
    text = str(id_or_email).strip()
    agent_id = int(text) if text.isdigit() else session.scalar(select(Agent.id).where(Agent.email == text.lower()))
    if agent_id is None:
        raise NotFound("agent_not_found", f"No agent {text}.")
    return locked_agent(session, agent_id)


def _keep_an_admin(session, agent: Agent) -> None:
    """The last active admin may be neither deactivated nor demoted (409 last_admin): nobody could
    manage accounts any more. Whatever may remove an admin takes one lock first (PostgreSQL: a
    transaction-level advisory lock; SQLite has a single writer anyway), so two admins demoting each
    other at once cannot both succeed: the second counts after the first has committed. A lock on the
    admins' rows instead could deadlock with a transfer to an admin."""
    if agent.role != "admin" or not agent.active:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADMIN_COUNT_LOCK})
    others = session.scalar(select(func.count()).select_from(Agent).where(
        Agent.role == "admin", Agent.active.is_(True), Agent.id != agent.id))
    if not others:
        raise Conflict("last_admin", "This is the last active admin; make another admin first.")


def _record(session, name: str, actor: Actor, agent: Agent, **audit) -> None:
    events.record(session, events.Event(name, agent_id=agent.id, data={
        "actor": actor, "target_agent_id": agent.id, "audit": audit}))


def deactivate(session, agent: Agent, actor: Actor) -> int:
    """Deactivates an account: its sessions end at once (the epoch moves on; open streams close at
    their next heartbeat or sooner), and the conversations it owned go back to the queue, at the
    place they had, so customers are not left with nobody. Returns how many went back."""
    if not agent.active:
        raise Conflict("already_inactive", f"{agent.email} is already deactivated.")
    _keep_an_admin(session, agent)
    agent.active = False
    agent.session_epoch += 1
    session.flush()
    requeued = requeue_conversations_of(session, agent.id, actor)
    _record(session, events.AGENT_DEACTIVATED, actor, agent, requeued_conversations=requeued)
    return requeued


def reactivate(session, agent: Agent, actor: Actor) -> None:
    if agent.active:
        raise Conflict("already_active", f"{agent.email} is already active.")
    agent.active = True
    session.flush()
    _record(session, events.AGENT_REACTIVATED, actor, agent)


def reset_password(session, agent: Agent, actor: Actor, password: Optional[str] = None) -> Optional[str]:
    """Sets the password given, or a random temporary one (returned, to be handed over once); either
    way the agent must choose their own at next sign-in, and their current sessions end."""
    temporary = None
    if password is None:
        temporary = password = temporary_password()
    _check_password_strength(password)
    agent.password_hash = generate_password_hash(password)
    agent.must_change_password = True
    agent.session_epoch += 1
    session.flush()
    _record(session, events.PASSWORD_RESET, actor, agent, temporary=temporary is not None)
    return temporary


def change_own_password(session, agent: Agent, current: str, new: str) -> None:
    """The agent's own change (required after a reset): the current password proves it is them."""
    if not check_password_hash(agent.password_hash, current):
        raise Forbidden("wrong_password", "The current password is wrong.")
    _check_password_strength(new)
    if new == current:
        raise InvalidInput("same_password", "Choose a password different from the current one.")
    agent.password_hash = generate_password_hash(new)
    agent.must_change_password = False
    agent.session_epoch += 1  # other sessions (e.g. someone who knew the temporary password) end
    session.flush()
    _record(session, events.PASSWORD_CHANGED, Actor.of(agent), agent)


def set_role(session, agent: Agent, actor: Actor, role: str) -> None:
    """Takes effect at the agent's next request: the role is read from the database on each one."""
    if role not in ROLES:
        raise InvalidInput("invalid_role", f"role must be one of {', '.join(ROLES)}")
    if role == agent.role:
        return
    if role != "admin":
        _keep_an_admin(session, agent)
    previous, agent.role = agent.role, role
    session.flush()
    _record(session, events.ROLE_CHANGED, actor, agent, previous=previous, role=role)
