"""Agent API (/api/agent): log in, work the queue, talk to customers. Session cookie + X-CSRF-Token."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Optional

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import select

from . import agent_assist, agent_desk, contacts, events, presence, schemas
from .agent_queue import first_questions, last_message_times, queue_items
from .agents import (agent_json, agent_of_session, change_own_password, list_agents, locked_agent, open_counts,
                     sign_in, sign_out)
from .auth import agent_required, check_csrf, csrf_token, ensure_csrf_token, has_role, log_in, log_out
from .canned_replies import canned_reply_json, list_canned_replies
from .content_files import project_content
from .errors import ApiError
from .lifecycle import Status, claim, get_conversation, hand_back, resolve, transfer
from .models import Agent, Conversation
from .openapi import AGENT, PUBLIC, endpoint
from .streams import agent_stream
from .transcript import iso, message_json, messages_after

bp = Blueprint("agent_api", __name__, url_prefix="/api/agent")


def services():
    return current_app.extensions["tsunagi"]


def _limit_of_agents() -> int:
    return current_app.config["AGENT_MAX_CONCURRENT"]


def conversation_summary(conversation: Conversation, agent_names: dict[int, str], first_question: Optional[str],
                         last_message_at: Optional[datetime]) -> dict:
    return {
        "id": conversation.id, "status": conversation.status, "language": conversation.language,
        "reason": conversation.handoff_reason, "priority": conversation.priority, "offline": bool(conversation.offline),
        "email": conversation.email,
        "agent": {"id": conversation.agent_id, "name": agent_names.get(conversation.agent_id, "")}
        if conversation.agent_id is not None else None,
        "created_at": iso(conversation.created_at), "queued_at": iso(conversation.queued_at),
        "claimed_at": iso(conversation.claimed_at), "updated_at": iso(conversation.updated_at),
        "first_question": first_question, "last_message_at": iso(last_message_at),
        "channel": conversation.channel, "channel_address": conversation.channel_address,
        "customer_name": conversation.customer_name,
    }


def _names(session) -> dict[int, str]:
    return dict(session.execute(select(Agent.id, Agent.name)).all())


def conversation_detail(session, conversation_id: str) -> dict:
    conversation = get_conversation(session, conversation_id)
    messages = messages_after(session, conversation_id, 0, limit=100000)
    first_question = next((m.text for m in messages if m.sender == "customer"), None)
    body = conversation_summary(conversation, _names(session), first_question,
                                messages[-1].created_at if messages else None)
    body["handoff_turns"] = conversation.handoff_turns or []
    body["sla"] = services().sla.status(conversation)
    body["page_url"] = conversation.page_url
    body["rating"] = None if conversation.rated_at is None else {
        "csat": conversation.csat, "ces": conversation.ces, "comment": conversation.rating_comment,
        "nps": conversation.nps, "nps_comment": conversation.nps_comment}
    body["messages"] = [message_json(m, with_nlu=True) for m in messages]
    body["notes"] = [{"id": note.id, "text": note.text, "agent_name": name or "", "created_at": iso(note.created_at)}
                     for note, name in agent_desk.notes_of(session, conversation_id)]
    return body


@bp.get("/login")
@endpoint({200: schemas.SignInToken}, PUBLIC)
def login_token():
    """The sign-in CSRF token for clients without the /console page (scripts, tests): POST /login needs it."""
    return {"csrf_token": ensure_csrf_token()}


def _sign_in_form(view):
    """Login CSRF: a cross-site form can send neither application/json nor X-CSRF-Token."""
    @functools.wraps(view)
    def checked(*args, **kwargs):
        if not request.is_json:
            raise ApiError("unsupported_media_type", "Send the body as application/json.", 415)
        check_csrf()
        return view(*args, **kwargs)
    return checked


@bp.post("/login")
@_sign_in_form
@endpoint({200: schemas.Session}, [{"csrfToken": []}], body=schemas.Login)
def login(body: schemas.Login):
    """Log in (X-CSRF-Token from the sign-in page or GET /api/agent/login; application/json only, else 415).
    Throttled per address (RATE_LIMIT_LOGIN) and per account (RATE_LIMIT_LOGIN_PER_ACCOUNT): 429."""
    s = services()
    agent = sign_in(s.db, s.limiter, current_app.config, body.email, body.password, request.remote_addr or "unknown")
    with s.db.writing() as session:  # signing in is going online; the console's header changes it
        presence.set_state(session, agent.id, presence.ONLINE, cause=presence.SIGNED_IN)
    token = log_in(agent)
    return {"agent": agent_json(agent), "csrf_token": token,
            "password_change_required": bool(agent.must_change_password)}


@bp.post("/logout")
@agent_required(while_password_change=True)
@endpoint({204: None}, AGENT)
def logout():
    """Log out (and go offline)."""
    with services().db.writing() as session:
        presence.set_state(session, g.agent.id, presence.OFFLINE, cause=presence.SIGNED_OUT)
    sign_out(services().db, g.agent)
    log_out()
    return "", 204


@bp.post("/password")
@agent_required(while_password_change=True)
@endpoint({200: schemas.Session}, AGENT, body=schemas.PasswordChange)
def change_password(body: schemas.PasswordChange):
    """Change one's own password (required after a reset); the agent's other sessions end."""
    with services().db.writing() as session:
        agent = locked_agent(session, g.agent.id)
        change_own_password(session, agent, body.current_password, body.new_password)
    token = log_in(agent)  # this session carries on with the account's new epoch
    return {"agent": agent_json(agent), "csrf_token": token, "password_change_required": False}


@bp.get("/me")
@agent_required()
@endpoint({200: schemas.Session}, AGENT)
def me():
    """The logged-in agent."""
    with services().db.reading() as session:
        count = open_counts(session).get(g.agent.id, 0)
        state = presence.state_of(session, g.agent.id)
    return {"agent": {**agent_json(g.agent, count, _limit_of_agents()), "presence": state}, "csrf_token": csrf_token()}


@bp.post("/presence")
@agent_required()
@endpoint({200: schemas.Presence}, AGENT, body=schemas.PresenceChange)
def set_presence(body: schemas.PresenceChange):
    """Go online, away or offline (the console's header). Online agents count in the wait estimate
    and, with ASSIGNMENT=round_robin, get new conversations."""
    with services().db.writing() as session:
        state = presence.set_state(session, g.agent.id, body.state)
    return {"presence": state, "timeout_seconds": current_app.config["PRESENCE_TIMEOUT_SECONDS"]}


@bp.post("/presence/heartbeat")
@agent_required()
@endpoint({200: schemas.Presence}, AGENT)
def presence_heartbeat():
    """The console is open (sent every 30 s); without it for PRESENCE_TIMEOUT_SECONDS the agent is offline."""
    with services().db.writing() as session:
        state = presence.heartbeat(session, g.agent.id)
    return {"presence": state, "timeout_seconds": current_app.config["PRESENCE_TIMEOUT_SECONDS"]}


@bp.get("/queue")
@agent_required()
@endpoint({200: schemas.Queue}, AGENT, query=schemas.LanguageQuery)
def queue(query: schemas.LanguageQuery):
    """Waiting conversations and offline tickets, by priority then wait."""
    with services().db.reading() as session:
        return {"queue": queue_items(session, query.language, services().sla)}


@bp.get("/conversations")
@agent_required()
@endpoint({200: schemas.Conversations}, AGENT, query=schemas.ConversationsQuery)
def conversations(query: schemas.ConversationsQuery):
    """Open (assigned) conversations; mine=true for the agent's own."""
    with services().db.reading() as session:
        assigned = select(Conversation).where(Conversation.status == Status.ASSIGNED.value)
        if query.mine:
            assigned = assigned.where(Conversation.agent_id == g.agent.id)
        names = _names(session)
        rows = list(session.scalars(assigned.order_by(Conversation.claimed_at).limit(500)))
        ids = [c.id for c in rows]
        firsts, lasts = first_questions(session, ids), last_message_times(session, ids)
        sla = services().sla
        return {"conversations": [{**conversation_summary(c, names, firsts.get(c.id), lasts.get(c.id)),
                                   "sla": sla.status(c)} for c in rows]}


@bp.get("/conversations/<conversation_id>")
@agent_required()
@endpoint({200: schemas.ConversationDetail}, AGENT)
def conversation(conversation_id):
    """A conversation with its transcript (NLU included) and notes."""
    with services().db.reading() as session:
        return conversation_detail(session, conversation_id)


def _after_move(conversation_id):
    with services().db.reading() as session:
        return conversation_detail(session, conversation_id)


@bp.post("/conversations/<conversation_id>/claim")
@agent_required()
@endpoint({200: schemas.ConversationDetail}, AGENT)
def claim_conversation(conversation_id):
    """Claim (409 already_claimed when another agent won)."""
    with services().db.writing() as session:
        claim(session, conversation_id, g.agent, _limit_of_agents())
    return _after_move(conversation_id)


@bp.post("/conversations/<conversation_id>/messages")
@agent_required()
@endpoint({201: schemas.AgentMessage}, AGENT, body=schemas.AgentReply)
def reply(conversation_id, body: schemas.AgentReply):
    """Reply to the customer; suggestion_topic names the suggested answer it was written from."""
    with services().db.writing() as session:
        message = agent_desk.reply(session, conversation_id, g.agent, body.text)
        agent_assist.settle(session, message, body.suggestion_topic)
    return {"message": message_json(message)}, 201


@bp.get("/conversations/<conversation_id>/suggestions")
@agent_required()
@endpoint({200: schemas.Suggestions}, AGENT)
def suggestions(conversation_id):
    """Suggested FAQ answers (three at most) for the customer's latest message, in the customer's language."""
    s = services()
    with s.db.reading() as session:
        conversation = get_conversation(session, conversation_id)
    # Counted as shown only to the agent who can use them (the owner): a colleague or an admin
    # looking on, or a resolved conversation, would count suggestions nobody could send.
    owner = conversation.status == Status.ASSIGNED.value and conversation.agent_id == g.agent.id
    return agent_assist.suggestions_for(s.db, s.rasa, project_content(), conversation_id,
                                        current_app.config["ASSIST_PARSE_TIMEOUT"], g.agent.id, count_shown=owner)


@bp.post("/conversations/<conversation_id>/notes")
@agent_required()
@endpoint({201: schemas.NoteCreated}, AGENT, body=schemas.AgentText)
def note(conversation_id, body: schemas.AgentText):
    """Internal note, never shown to the customer."""
    with services().db.writing() as session:
        created = agent_desk.add_note(session, conversation_id, g.agent, body.text)
    return {"note": {"id": created.id, "text": created.text, "agent_name": g.agent.name,
                     "created_at": iso(created.created_at)}}, 201


@bp.post("/conversations/<conversation_id>/typing")
@agent_required()
@endpoint({204: None}, AGENT, body=schemas.Typing)
def typing(conversation_id, body: schemas.Typing):
    """The agent is typing."""
    with services().db.writing() as session:
        agent_desk.agent_typing(session, conversation_id, g.agent, body.typing)
    return "", 204


@bp.post("/conversations/<conversation_id>/transfer")
@agent_required()
@endpoint({200: schemas.ConversationDetail}, AGENT, body=schemas.Transfer)
def transfer_conversation(conversation_id, body: schemas.Transfer):
    """Transfer to another agent."""
    with services().db.writing() as session:
        transfer(session, conversation_id, g.agent, body.agent_id, _limit_of_agents(),
                 may_override=has_role(g.agent, "admin"))
    return _after_move(conversation_id)


@bp.post("/conversations/<conversation_id>/handback")
@agent_required()
@endpoint({200: schemas.ConversationDetail}, AGENT)
def handback(conversation_id):
    """Hand back to the bot."""
    with services().db.writing() as session:
        hand_back(session, conversation_id, g.agent, may_override=has_role(g.agent, "admin"))
    return _after_move(conversation_id)


@bp.post("/conversations/<conversation_id>/resolve")
@agent_required()
@endpoint({200: schemas.ConversationDetail}, AGENT)
def resolve_conversation(conversation_id):
    """Resolve."""
    with services().db.writing() as session:
        resolve(session, conversation_id, g.agent, may_override=has_role(g.agent, "admin"))
    return _after_move(conversation_id)


@bp.get("/agents")
@agent_required()
@endpoint({200: schemas.Agents}, AGENT)
def agents():
    """Agents, for transfer."""
    with services().db.reading() as session:
        counts, states = open_counts(session), presence.states(session)
        return {"agents": [{**agent_json(a, counts.get(a.id, 0), _limit_of_agents()), "presence": states.get(a.id)}
                           for a in list_agents(session)]}


@bp.get("/canned-replies")
@agent_required()
@endpoint({200: schemas.CannedReplies}, AGENT, query=schemas.LanguageQuery)
def canned_replies(query: schemas.LanguageQuery):
    """Canned replies."""
    with services().db.reading() as session:
        return {"canned_replies": [canned_reply_json(r) for r in list_canned_replies(session, query.language)]}


@bp.get("/stream")
@agent_required()
@endpoint({200: "text/event-stream"}, AGENT)
def stream():
    """Live queue changes and the agent's conversation events."""
    s = services()
    agent_id, epoch = g.agent.id, g.agent.session_epoch
    still_signed_in = lambda: agent_of_session(s.db, agent_id, epoch) is not None  # noqa: E731
    return Response(agent_stream(s.broker, s.stream_settings, agent_id, still_signed_in), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# Known customers (handoff/contacts.py): who the customer is, their earlier conversations (each
# opens read-only through GET /conversations/<id>), their addresses and the agents' notes.

def _contact_card(session, contact, verified: bool, exclude: Optional[str] = None) -> dict:
    if contact is None:
        return {"contact": None, "verified": False, "history": []}
    return {"contact": contacts.contact_json(session, contact), "verified": verified,
            "history": contacts.history(session, contact.id, exclude_conversation_id=exclude)}


@bp.get("/conversations/<conversation_id>/contact")
@agent_required()
@endpoint({200: schemas.ContactCard}, AGENT)
def conversation_contact(conversation_id):
    """The conversation's contact (null when anonymous) and their other conversations, newest first."""
    with services().db.reading() as session:
        conversation = get_conversation(session, conversation_id)
        contact = contacts.contact_of_conversation(session, conversation_id)
        return _contact_card(session, contact, bool(conversation.contact_verified), exclude=conversation_id)


@bp.get("/contacts")
@agent_required()
@endpoint({200: schemas.ContactList}, AGENT, query=schemas.ContactsQuery)
def find_contacts(query: schemas.ContactsQuery):
    """Contacts whose name, e-mail, shop customer id or a linked address contains q (at most 20)."""
    with services().db.reading() as session:
        return {"contacts": [contacts.contact_json(session, c) for c in contacts.search_contacts(session, query.q)]}


@bp.get("/contacts/<int:contact_id>")
@agent_required()
@endpoint({200: schemas.ContactCard}, AGENT)
def contact(contact_id):
    """A contact with all their conversations, newest first."""
    with services().db.reading() as session:
        return _contact_card(session, contacts.get_contact(session, contact_id), False)


@bp.post("/contacts/<int:contact_id>/identities")
@agent_required()
@endpoint({201: schemas.ContactIdentityLinked}, AGENT, body=schemas.IdentityLink)
def link_contact_identity(contact_id, body: schemas.IdentityLink):
    """Link an address (e-mail, LINE user, phone) to the contact (409 identity_taken when it is another's);
    earlier conversations left with that e-mail join the contact's history (unverified)."""
    with services().db.writing() as session:
        identity = contacts.link_identity(session, contact_id, body.kind, body.value, g.agent)
        linked = contacts.attach_conversations_with(session, contact_id, body.kind, body.value)
        events.record(session, events.Event(events.CONTACT_IDENTITY_LINKED, agent_id=g.agent.id, data={
            "target_contact_id": contact_id, "audit": {"kind": body.kind, "linked_conversations": linked}}))
        return {"identity": {"kind": identity.kind, "value": identity.value, "created_at": iso(identity.created_at)},
                "linked_conversations": linked}, 201


@bp.post("/contacts/<int:contact_id>/notes")
@agent_required()
@endpoint({201: schemas.ContactNoteCreated}, AGENT, body=schemas.AgentText)
def contact_note(contact_id, body: schemas.AgentText):
    """A note about the contact, for every agent who helps them later (never shown to the customer)."""
    with services().db.writing() as session:
        note = contacts.add_contact_note(session, contact_id, g.agent, body.text)
        return {"note": contacts.note_json(note, g.agent.name)}, 201
