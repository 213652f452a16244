"""Customer API (/api/v1): what the website widget calls. A token opens one conversation only."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from . import events
from .agent_queue import position_of, snapshot
from .auth import issue_customer_token, require_customer
from .contacts import ClaimedIdentity, contact_email, identify
from .database import utcnow
from .errors import ApiError, InvalidInput
from .lifecycle import (Status, end_by_customer, get_conversation, leave_offline_message,
                        request_handoff, start_conversation)
from .models import Agent
from .stream_tickets import issue_ticket, redeem_ticket
from .streams import customer_stream
from .system_messages import LANGUAGES, email_replies
from .transcript import message_json, messages_after
from . import schemas
from .openapi import CUSTOMER, CUSTOMER_STREAM, PUBLIC, endpoint

bp = Blueprint("customer_api", __name__, url_prefix="/api/v1")


def services():
    return current_app.extensions["tsunagi"]


def _limit(scope: str, key: str, setting: str) -> None:
    services().limiter.check(scope, key, current_app.config[setting])


@bp.before_request
def _refuse_token_in_url():
    # A long-lived token in a URL ends up in access logs, proxies and browser history.
    if "token" in request.args:
        raise ApiError("token_in_url", "Never put the conversation token in a URL: send it as 'Authorization: "
                                       "Bearer <token>'; open the stream with a ticket from POST "
                                       "/api/v1/conversations/<id>/stream-ticket.")


@bp.before_request
def _limit_writes_per_ip():
    if request.method == "POST":
        _limit("ip", request.remote_addr or "unknown", "RATE_LIMIT_PER_IP")


def conversation_view(session, conversation) -> dict:
    s = services()
    queue = None
    if conversation.status == Status.WAITING:
        state = snapshot(session, s.wait_estimate)
        queue = position_of(conversation.id, state["positions"], state["seconds_per_position"])
    agent = None
    if conversation.status == Status.ASSIGNED and conversation.agent_id is not None:
        agent = {"name": session.get(Agent, conversation.agent_id).name}
    return {"id": conversation.id, "status": conversation.status, "language": conversation.language,
            "queue": queue, "agent": agent, "online": s.hours.is_open(utcnow()), "surveys": _surveys(),
            "email_replies": email_replies()}


def _surveys() -> list[str]:
    """The questions the widget asks after the chat (SURVEYS), in order."""
    return list(current_app.config["SURVEYS"])


def _view_of(conversation_id: str) -> dict:
    with services().db.reading() as session:
        return conversation_view(session, get_conversation(session, conversation_id))


@bp.post("/conversations")
@endpoint({201: schemas.StartedConversation}, PUBLIC, body=schemas.NewConversation)
def create_conversation(body: schemas.NewConversation):
    """Start a conversation."""
    _limit("start", request.remote_addr or "unknown", "RATE_LIMIT_CONVERSATIONS_PER_IP")
    language = body.language
    if language is None:
        best = request.accept_languages.best_match(LANGUAGES)
        language = best or current_app.config["DEFAULT_LANGUAGE"]
    claimed = None
    if body.customer is not None:
        claimed = ClaimedIdentity(body.customer.id, body.customer.hash, body.customer.name or None,
                                  contact_email(body.customer.email))
    with services().db.writing() as session:
        conversation = start_conversation(session, language, body.page_url)
        contact = identify(session, conversation.id, claimed, current_app.config["IDENTITY_SECRET"])
    started = {"id": conversation.id, "token": issue_customer_token(conversation.id),
               "status": conversation.status, "language": conversation.language, "surveys": _surveys(),
               "email_replies": email_replies()}
    if claimed is not None:  # said only to a page that sent an identity (docs/identity.md)
        started["identified"] = contact is not None
    return started, 201


@bp.get("/conversations/<conversation_id>")
@endpoint({200: schemas.Conversation}, CUSTOMER)
def show_conversation(conversation_id):
    """The conversation's status, queue place and agent."""
    require_customer(conversation_id)
    return _view_of(conversation_id)


@bp.get("/conversations/<conversation_id>/messages")
@endpoint({200: schemas.Messages}, CUSTOMER, query=schemas.AfterQuery)
def list_messages(conversation_id, query: schemas.AfterQuery):
    """The transcript, for page reloads."""
    require_customer(conversation_id)
    with services().db.reading() as session:
        get_conversation(session, conversation_id)
        return {"messages": [message_json(m) for m in messages_after(session, conversation_id, query.after)]}


@bp.post("/conversations/<conversation_id>/messages")
@endpoint({200: schemas.Exchange, 201: schemas.Exchange}, CUSTOMER, body=schemas.CustomerMessage)
def post_message(conversation_id, body: schemas.CustomerMessage):
    """Send a message; the bot's replies come back while the bot is in charge (200 for a repeated client_message_id)."""
    require_customer(conversation_id)
    _limit("conversation", conversation_id, "RATE_LIMIT_PER_CONVERSATION")
    display_text = body.display_text if body.display_text and body.display_text.strip() else None
    exchange = services().gateway.customer_message(conversation_id, body.text, body.client_message_id or None,
                                                   display_text=display_text)
    return {"message": message_json(exchange.message), "replies": [message_json(m) for m in exchange.replies]}, \
        200 if exchange.repeated else 201


@bp.post("/conversations/<conversation_id>/stream-ticket")
@endpoint({201: schemas.StreamTicket}, CUSTOMER)
def stream_ticket(conversation_id):
    """A ticket that opens this conversation's stream once, within STREAM_TICKET_SECONDS (for EventSource, which cannot send the token in a header)."""
    require_customer(conversation_id)
    lifetime = current_app.config["STREAM_TICKET_SECONDS"]
    with services().db.writing() as session:
        get_conversation(session, conversation_id)
        ticket = issue_ticket(session, conversation_id, lifetime)
    return {"ticket": ticket, "expires_in": lifetime}, 201


@bp.get("/conversations/<conversation_id>/stream")
@endpoint({200: "text/event-stream"}, CUSTOMER_STREAM, query=schemas.StreamQuery, headers=schemas.StreamHeaders)
def stream(conversation_id, query: schemas.StreamQuery, headers: schemas.StreamHeaders):
    """Live events (message, status, queue, typing); resumes after Last-Event-ID. Opened with the token in the Authorization header, or with a stream ticket (?ticket=)."""
    s = services()
    if query.ticket is not None:
        # A ticket is only issued for an existing conversation (stream_ticket), and none is deleted.
        with s.db.writing() as session:
            redeem_ticket(session, conversation_id, query.ticket)
    else:
        require_customer(conversation_id)
        with s.db.reading() as session:
            get_conversation(session, conversation_id)
    last_event_id = next((i for i in (headers.last_event_id, query.last_event_id) if i is not None), 0)
    return Response(customer_stream(s.db, s.broker, s.stream_settings, conversation_id, last_event_id),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.post("/conversations/<conversation_id>/typing")
@endpoint({204: None}, CUSTOMER, body=schemas.Typing)
def typing(conversation_id, body: schemas.Typing):
    """The customer is typing."""
    require_customer(conversation_id)
    is_typing = body.typing
    with services().db.writing() as session:
        conversation = get_conversation(session, conversation_id)
        if conversation.status == Status.ASSIGNED:  # only a person on the other side cares
            events.record(session, events.Event(events.TYPING, conversation_id, agent_id=conversation.agent_id,
                                                data={"typing": is_typing, "sender": "customer"}))
    return "", 204


@bp.post("/conversations/<conversation_id>/handoff")
@endpoint({200: schemas.Conversation}, CUSTOMER, body=schemas.HandoffRequest)
def handoff(conversation_id, body: schemas.HandoffRequest):
    """Ask for a person."""
    require_customer(conversation_id)
    _limit("conversation", conversation_id, "RATE_LIMIT_PER_CONVERSATION")
    with services().db.writing() as session:
        conversation, _ = request_handoff(session, conversation_id, services().hours,
                                          reason=body.reason or "request_human",
                                          when_nobody_online=current_app.config["WHEN_NOBODY_ONLINE"])
    return _view_of(conversation_id)


@bp.post("/conversations/<conversation_id>/offline-message")
@endpoint({201: schemas.Conversation}, CUSTOMER, body=schemas.OfflineMessage)
def offline_message(conversation_id, body: schemas.OfflineMessage):
    """Leave an e-mail address and a message for the team."""
    require_customer(conversation_id)
    _limit("conversation", conversation_id, "RATE_LIMIT_PER_CONVERSATION")
    with services().db.writing() as session:
        conversation = get_conversation(session, conversation_id)
        leave_offline_message(session, conversation_id, body.email.strip(), body.text, conversation.language,
                              support_open=services().hours.is_open(utcnow()))
    return _view_of(conversation_id), 201


@bp.post("/conversations/<conversation_id>/end")
@endpoint({200: schemas.Conversation}, CUSTOMER, body=schemas.Ending)
def end(conversation_id, body: schemas.Ending):
    """End the conversation, optionally with a rating: CSAT and effort (1-5, one comment), NPS (0-10,
    its "why?" in nps_comment); only the surveys SURVEYS offers (else 422 survey_not_offered), once
    per conversation (409 already_rated)."""
    require_customer(conversation_id)
    offered = set(_surveys())
    given = [name for name in ("csat", "ces", "nps") if getattr(body, name) is not None]
    if body.nps_comment and "nps" not in given:
        given.append("nps")  # a "why?" alone is the NPS survey's answer too, kept as written
    if any(name not in offered for name in given):
        raise InvalidInput("survey_not_offered", f"This service does not ask for {', '.join(n for n in given if n not in offered)}.")
    with services().db.writing() as session:
        end_by_customer(session, conversation_id, body.csat, body.ces, body.comment,
                        nps=body.nps, nps_comment=body.nps_comment)
    return _view_of(conversation_id)
