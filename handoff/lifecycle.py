"""The conversation lifecycle: its statuses, the moves allowed between them, and the functions
that make those moves (hand off, claim, transfer, hand back, resolve, end).

Every move is one conditional UPDATE ... WHERE status IN (allowed sources), so two requests that
race for the same move cannot both win: the database decides, not a read-then-write in Python.
"""
from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import func, select, update

from . import events
from .database import utcnow
from .contacts import attach_if_linked, previous_agent_id
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .models import Agent, Conversation
from languages import LANGUAGES
from support_hours import SupportHours
from .system_messages import system_text
from .masking import mask_card_numbers
from .presence import online_agent_ids, state_of
from .transcript import add_message

if TYPE_CHECKING:
    from .audit import Actor


class Status(str, enum.Enum):
    BOT = "bot"              # the bot answers
    WAITING = "waiting"      # in the queue for an agent
    ASSIGNED = "assigned"    # an agent owns it
    OFFLINE = "offline"      # an offline ticket waiting for the team
    RESOLVED = "resolved"    # closed


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.BOT: frozenset({Status.WAITING, Status.OFFLINE, Status.RESOLVED}),
    Status.WAITING: frozenset({Status.ASSIGNED, Status.OFFLINE, Status.RESOLVED}),
    Status.OFFLINE: frozenset({Status.ASSIGNED, Status.RESOLVED}),
    # ASSIGNED->ASSIGNED: transfer; ->WAITING/OFFLINE: back to the queue when its agent is deactivated
    Status.ASSIGNED: frozenset({Status.ASSIGNED, Status.BOT, Status.RESOLVED, Status.WAITING, Status.OFFLINE}),
    Status.RESOLVED: frozenset(),
}

# Once handed off, customer messages go to people only: the bot never sees them.
HUMAN_SIDE = frozenset({Status.WAITING, Status.ASSIGNED, Status.OFFLINE})

HANDOFF_REASONS = ("request_human", "repeated_fallback", "complaint", "not_helpful", "offline_message")
PRIORITIES = {"high": 0, "normal": 1}


def _move(session, conversation_id: str, sources: set[Status], target: Status, *conditions,
          returning: tuple = (), **values) -> Optional[Any]:
    """The one place a status changes. Returns the RETURNING row, or None if nothing matched."""
    for source in sources:
        if target not in TRANSITIONS[source]:
            raise AssertionError(f"{source.value} -> {target.value} is not an allowed transition")
    statement = (
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.status.in_([s.value for s in sources]), *conditions)
        .values(status=target.value, updated_at=utcnow(), **values)
        .returning(Conversation.id, *returning)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).first()


def get_conversation(session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None:
        raise NotFound("conversation_not_found", "No such conversation.")
    return conversation


def _agent_name(session, agent_id: int) -> str:
    return session.scalar(select(Agent.name).where(Agent.id == agent_id)) or ""


def start_conversation(session, language: str, page_url: Optional[str] = None) -> Conversation:
    conversation = Conversation(id=secrets.token_hex(16), status=Status.BOT.value, language=language,
                                page_url=page_url, created_at=utcnow(), updated_at=utcnow())
    session.add(conversation)
    session.flush()
    events.record(session, events.Event(events.CONVERSATION_STARTED, conversation.id,
                                        data={"language": language}))
    return conversation


def request_handoff(session, conversation_id: str, hours: SupportHours, *, reason: str = "request_human",
                    language: Optional[str] = None, priority: Optional[str] = None,
                    turns: Optional[list] = None, offline: bool = False,
                    reply_to_id: Optional[int] = None, now: Optional[datetime] = None,
                    bot_said_offline: Optional[bool] = None,
                    when_nobody_online: str = "queue") -> tuple[Conversation, bool]:
    """Put a bot conversation in the queue, or open an offline ticket outside support hours.

    when_nobody_online (WHEN_NOBODY_ONLINE): "offline_form" opens an offline ticket inside support
    hours too when no agent is online (handoff/presence.py), and says so, rather than leaving the
    customer in a queue nobody serves; "queue" queues them anyway.

    bot_said_offline: the bot's own reply already announced the handoff (False: "connecting you",
    True: "we are closed"); the service then adds no near-duplicate line of its own, unless its
    reading of the support hours differs from the bot's.

    Returns (conversation, opened). A conversation already on the human side is returned as it
    is: a repeated signal never opens a second ticket.
    """
    now = now or utcnow()
    conversation = get_conversation(session, conversation_id)
    if conversation.status in HUMAN_SIDE:
        return conversation, False
    if conversation.status == Status.RESOLVED:
        raise Conflict("conversation_resolved", "This conversation has ended; start a new one.")
    reason = reason if reason in HANDOFF_REASONS else "request_human"
    if priority not in PRIORITIES:
        priority = "high" if reason == "complaint" else "normal"
    language = language if language in LANGUAGES else conversation.language
    offline = offline or not hours.is_open(now)
    nobody_online = (not offline and when_nobody_online == "offline_form"
                     and not online_agent_ids(session, now))
    offline = offline or nobody_online
    target = Status.OFFLINE if offline else Status.WAITING
    moved = _move(session, conversation_id, {Status.BOT}, target,
                  handoff_reason=reason, priority=priority, priority_rank=PRIORITIES[priority],
                  handoff_turns=turns, queued_at=now, offline=offline, language=language,
                  agent_id=None, claimed_at=None, first_reply_at=None, resolved_at=None)
    if moved is None:  # someone else moved it first; whatever it is now, no second ticket
        conversation = get_conversation(session, conversation_id)
        if conversation.status in HUMAN_SIDE:
            return conversation, False
        raise Conflict("conversation_resolved", "This conversation has ended; start a new one.")
    previous = None if offline else route_to_previous_agent(session, conversation_id, now)
    if previous is not None:
        add_message(session, conversation_id, "system", system_text("returning_agent", language, name=previous.name),
                    language, reply_to_id=reply_to_id)
    elif bot_said_offline is None or bot_said_offline != offline:
        said = "nobody_online" if nobody_online else "offline" if offline else "queued"
        add_message(session, conversation_id, "system", system_text(said, language, channel=conversation.channel),
                    language, reply_to_id=reply_to_id)
    name = events.OFFLINE_TICKET_OPENED if offline else events.HANDOFF_REQUESTED
    events.record(session, events.Event(name, conversation_id, data={
        "reason": reason, "priority": priority, "language": language, "status": target.value,
        **({"nobody_online": True} if nobody_online else {})}))
    if previous is not None:
        from .audit import Actor  # at run time only, as the TYPE_CHECKING import above

        events.record(session, events.Event(events.CLAIMED, conversation_id, agent_id=previous.id, data={
            "wait_seconds": 0.0, "agent_name": previous.name, "language": language, "offline": False,
            "returning_customer": True, "actor": Actor(None, RETURNING_CUSTOMER_ROUTING)}))
    return get_conversation(session, conversation_id), True


# Who the audit log names for a conversation the service itself gave to a returning customer's agent.
RETURNING_CUSTOMER_ROUTING = "routing:returning-customer"


def _default_limit() -> int:
    """AGENT_MAX_CONCURRENT of the app serving this request; the default outside one."""
    from flask import current_app, has_app_context

    return current_app.config.get("AGENT_MAX_CONCURRENT", 5) if has_app_context() else 5


def _agent_is_available(session, agent_id: int, now: datetime) -> bool:
    """Whether this agent can take one more conversation now: active, online (handoff/presence.py),
    below their limit. The agent's row is locked first (as a claim locks it, _check_capacity), so
    this conversation and a claim by the same agent cannot both see the last free place."""
    default_limit = _default_limit()
    agent = session.execute(select(Agent.active, Agent.max_concurrent).where(Agent.id == agent_id)
                            .with_for_update()).first()
    if agent is None or not agent.active or state_of(session, agent_id, now) != "online":
        return False
    limit = agent.max_concurrent if agent.max_concurrent is not None else default_limit
    owned = session.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.agent_id == agent_id, Conversation.status == Status.ASSIGNED.value))
    return owned < limit


def route_to_previous_agent(session, conversation_id: str, now: datetime) -> Optional[Agent]:
    """A returning verified customer who was just queued goes straight to the agent who last helped
    them, when that agent is available (_agent_is_available); otherwise they stay in the queue as
    anyone would, so nobody waits for someone who is away. Returns that agent, or None."""
    conversation = get_conversation(session, conversation_id)
    if conversation.contact_id is None or not conversation.contact_verified:
        return None  # an anonymous customer, or one only an agent linked: no claim to anyone
    agent_id = previous_agent_id(session, conversation.contact_id, conversation_id)
    if agent_id is None or not _agent_is_available(session, agent_id, now):
        return None
    moved = _move(session, conversation_id, {Status.WAITING}, Status.ASSIGNED, agent_id=agent_id, claimed_at=now,
                  first_reply_at=None)
    if moved is None:
        return None
    return session.get(Agent, agent_id)


def leave_offline_message(session, conversation_id: str, email: str, text: str, language: str,
                          now: Optional[datetime] = None, support_open: bool = False) -> Conversation:
    """The customer leaves an e-mail address and a message for the team (an offline ticket).
    support_open: left inside support hours (nobody was online), so the reply comes when someone
    is back, not "when support opens"."""
    now = now or utcnow()
    conversation = get_conversation(session, conversation_id)
    status = Status(conversation.status)
    if status == Status.ASSIGNED:
        raise Conflict("agent_present", "An agent is in this conversation; write to them directly.")
    if status == Status.RESOLVED:
        raise Conflict("conversation_resolved", "This conversation has ended; start a new one.")
    opened = False
    if status == Status.OFFLINE:
        session.execute(update(Conversation).where(Conversation.id == conversation_id)
                        .values(email=email).execution_options(synchronize_session=False))
    else:
        reason = conversation.handoff_reason if status == Status.WAITING else "offline_message"
        priority = conversation.priority or "normal"
        moved = _move(session, conversation_id, {status}, Status.OFFLINE, email=email, offline=True,
                      handoff_reason=reason, priority=priority, priority_rank=PRIORITIES[priority],
                      queued_at=conversation.queued_at or now)
        if moved is None:
            raise Conflict("conversation_changed", "The conversation changed meanwhile; try again.")
        opened = True
    attach_if_linked(session, conversation_id, "email", email)  # an e-mail an agent linked: the contact's
    message = add_message(session, conversation_id, "customer", text, language)
    received = "offline_received_open" if support_open else "offline_received"
    add_message(session, conversation_id, "system", system_text(received, conversation.language, channel=conversation.channel),
                conversation.language, reply_to_id=message.id)
    if opened:
        events.record(session, events.Event(events.OFFLINE_TICKET_OPENED, conversation_id, data={
            "reason": "offline_message" if status == Status.BOT else conversation.handoff_reason,
            "priority": conversation.priority or "normal", "language": conversation.language,
            "status": Status.OFFLINE.value, "from_status": status.value}))
    return get_conversation(session, conversation_id)


def _check_capacity(session, agent: Agent, default_limit: int) -> None:
    # Serialise this agent's claims (PostgreSQL row lock; SQLite already has one writer), so two
    # claims by one agent cannot both see room for one more.
    active = session.scalar(select(Agent.active).where(Agent.id == agent.id).with_for_update())
    if not active:  # deactivated while this request was on its way (handoff/agents.py)
        raise Conflict("agent_inactive", f"{agent.name}'s account is deactivated.")
    limit = agent.max_concurrent if agent.max_concurrent is not None else default_limit
    owned = session.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.agent_id == agent.id, Conversation.status == Status.ASSIGNED.value))
    if owned > limit:
        raise Conflict("agent_at_capacity", f"{agent.name} already has {limit} open conversations.")


def claim(session, conversation_id: str, agent: Agent, default_limit: int, now: Optional[datetime] = None,
          assigned_by: Optional[str] = None) -> Conversation:
    """Exactly one agent wins a waiting conversation or offline ticket; the others get 409.
    assigned_by: the auto-assignment mode that gave it to the agent (handoff/assignment.py), None
    when the agent claimed it."""
    now = now or utcnow()
    won = _move(session, conversation_id, {Status.WAITING, Status.OFFLINE}, Status.ASSIGNED,
                returning=(Conversation.queued_at, Conversation.language, Conversation.offline),
                agent_id=agent.id, claimed_at=now, first_reply_at=None)
    if won is None:
        conversation = get_conversation(session, conversation_id)
        if conversation.status == Status.ASSIGNED:
            raise Conflict("already_claimed", "Another agent has already claimed this conversation.")
        raise Conflict("not_claimable", f"The conversation is {conversation.status}, not in the queue.")
    _check_capacity(session, agent, default_limit)
    _, queued_at, language, offline = won
    add_message(session, conversation_id, "system", system_text("agent_joined", language, name=agent.name), language)
    wait = (now - queued_at).total_seconds() if queued_at else None
    events.record(session, events.Event(events.CLAIMED, conversation_id, agent_id=agent.id,
                                        data={"wait_seconds": wait, "agent_name": agent.name, "language": language,
                                              "offline": bool(offline),
                                              **({"assigned_by": assigned_by} if assigned_by else {})}))
    return get_conversation(session, conversation_id)


def _owned(agent: Agent, may_override: bool) -> tuple:
    return () if may_override else (Conversation.agent_id == agent.id,)


def _explain_not_owned(session, conversation_id: str, agent: Agent) -> None:
    conversation = get_conversation(session, conversation_id)
    if conversation.status != Status.ASSIGNED:
        raise Conflict("not_assigned", f"The conversation is {conversation.status}, not assigned.")
    if conversation.agent_id != agent.id:
        raise Forbidden("not_your_conversation", "Another agent owns this conversation.")


def transfer(session, conversation_id: str, agent: Agent, target_agent_id: int, default_limit: int,
             may_override: bool = False) -> Conversation:
    target = session.get(Agent, target_agent_id)
    if target is None or not target.active:
        raise InvalidInput("unknown_agent", "No active agent with that id.")
    moved = _move(session, conversation_id, {Status.ASSIGNED}, Status.ASSIGNED,
                  Conversation.agent_id != target.id, *_owned(agent, may_override),
                  returning=(Conversation.language,), agent_id=target.id, claimed_at=utcnow())
    if moved is None:
        conversation = get_conversation(session, conversation_id)
        if conversation.status == Status.ASSIGNED and conversation.agent_id == target.id:
            raise Conflict("already_assigned", f"{target.name} already owns this conversation.")
        _explain_not_owned(session, conversation_id, agent)
    _check_capacity(session, target, default_limit)
    language = moved[1]
    add_message(session, conversation_id, "system", system_text("transferred", language, name=target.name), language)
    events.record(session, events.Event(events.TRANSFERRED, conversation_id, agent_id=target.id,
                                        data={"from_agent_id": agent.id, "agent_name": target.name}))
    return get_conversation(session, conversation_id)


def hand_back(session, conversation_id: str, agent: Agent, may_override: bool = False) -> Conversation:
    """The bot takes over again. Rasa must start fresh: the restart listener tells it at once, and
    while that has not gone through (Rasa down), the gateway does it before the next message."""
    moved = _move(session, conversation_id, {Status.ASSIGNED}, Status.BOT, *_owned(agent, may_override),
                  returning=(Conversation.language,), agent_id=None, offline=False, bot_restart_pending=True)
    if moved is None:
        _explain_not_owned(session, conversation_id, agent)
    language = moved[1]
    add_message(session, conversation_id, "system", system_text("handed_back", language), language)
    events.record(session, events.Event(events.HANDED_BACK, conversation_id, agent_id=agent.id))
    return get_conversation(session, conversation_id)


def resolve(session, conversation_id: str, agent: Agent, may_override: bool = False,
            now: Optional[datetime] = None) -> Conversation:
    """An agent closes a conversation they own, or a queued one (e.g. spam) that nobody owns."""
    now = now or utcnow()
    conversation = get_conversation(session, conversation_id)
    if conversation.status == Status.ASSIGNED:
        sources, conditions = {Status.ASSIGNED}, _owned(agent, may_override)
    else:
        sources, conditions = {Status.WAITING, Status.OFFLINE}, ()
    moved = _move(session, conversation_id, sources, Status.RESOLVED, *conditions,
                  returning=(Conversation.claimed_at, Conversation.language, Conversation.agent_id),
                  resolved_at=now)
    if moved is None:
        if conversation.status == Status.RESOLVED:
            raise Conflict("already_resolved", "The conversation is already resolved.")
        if conversation.status == Status.BOT:
            raise Conflict("not_handed_off", "The bot is in charge of this conversation.")
        _explain_not_owned(session, conversation_id, agent)
    _, claimed_at, language, owner = moved
    add_message(session, conversation_id, "system", system_text("resolved", language), language)
    events.record(session, events.Event(events.RESOLVED, conversation_id, agent_id=owner, data={
        "handle_seconds": (now - claimed_at).total_seconds() if claimed_at and owner else None, "by": "agent"}))
    return get_conversation(session, conversation_id)


def requeue_conversations_of(session, agent_id: int, actor: Optional["Actor"] = None) -> int:
    """An agent's account was deactivated: each conversation they owned goes back where it came from
    (the queue, or the offline tickets), keeping its priority and its original place in line, so the
    customer is not left with nobody. Returns how many went back. `actor` (who deactivated) goes into
    each event for the audit log: the command line has no signed-in agent to fall back on."""
    owned = session.execute(select(Conversation.id, Conversation.offline, Conversation.language).where(
        Conversation.agent_id == agent_id, Conversation.status == Status.ASSIGNED.value)
        .order_by(Conversation.queued_at)).all()
    moved_back = 0
    for conversation_id, offline, language in owned:
        target = Status.OFFLINE if offline else Status.WAITING
        if _move(session, conversation_id, {Status.ASSIGNED}, target, Conversation.agent_id == agent_id,
                 agent_id=None, claimed_at=None) is None:
            continue  # moved meanwhile (resolved by the customer, say)
        if target == Status.WAITING:
            add_message(session, conversation_id, "system", system_text("queued", language), language)
        events.record(session, events.Event(events.REQUEUED, conversation_id, data={
            "from_agent_id": agent_id, "status": target.value, "language": language,
            **({"actor": actor} if actor is not None else {})}))
        moved_back += 1
    return moved_back


def end_by_customer(session, conversation_id: str, csat: Optional[int], ces: Optional[int],
                    comment: Optional[str], now: Optional[datetime] = None, *, nps: Optional[int] = None,
                    nps_comment: Optional[str] = None) -> Conversation:
    """The customer closes the chat, optionally rating it (CSAT, effort, NPS: one rating per
    conversation). An offline ticket stays open for the team."""
    now = now or utcnow()
    conversation = get_conversation(session, conversation_id)
    status = Status(conversation.status)
    if status in (Status.BOT, Status.WAITING, Status.ASSIGNED):
        moved = _move(session, conversation_id, {status}, Status.RESOLVED,
                      returning=(Conversation.claimed_at, Conversation.agent_id), resolved_at=now)
        if moved is None:
            raise Conflict("conversation_changed", "The conversation changed meanwhile; try again.")
        _, claimed_at, owner = moved
        events.record(session, events.Event(events.RESOLVED, conversation_id, agent_id=owner, data={
            "handle_seconds": (now - claimed_at).total_seconds() if claimed_at and owner else None,
            "by": "customer"}))
    if csat is not None or ces is not None or comment or nps is not None or nps_comment:
        rated = session.execute(
            update(Conversation).where(Conversation.id == conversation_id, Conversation.rated_at.is_(None))
            .values(csat=csat, ces=ces, rating_comment=mask_card_numbers(comment) if comment else None, rated_at=now,
                    nps=nps, nps_comment=mask_card_numbers(nps_comment) if nps_comment else None)
            .execution_options(synchronize_session=False))
        if rated.rowcount != 1:
            raise Conflict("already_rated", "This conversation has already been rated.")
        events.record(session, events.Event(events.RATED, conversation_id, agent_id=conversation.agent_id,
                                            data={"csat": csat, "ces": ces, "nps": nps,
                                                  "language": conversation.language}))
    return get_conversation(session, conversation_id)
