"""Customer API (/api/v1): what the website widget calls. A token opens one conversation only."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from . import events
from .agent_queue import position_of, snapshot
from .auth import issue_customer_token, require_customer
from .database import utcnow
from .lifecycle import (HANDOFF_REASONS, Status, end_by_customer, get_conversation, leave_offline_message,
                        request_handoff, start_conversation)
from .models import Agent
from .streams import customer_stream
from .system_messages import LANGUAGES
from .transcript import message_json, messages_after
from . import validation

bp = Blueprint("customer_api", __name__, url_prefix="/api/v1")


def services():
    return current_app.extensions["tsunagi"]


def _limit(scope: str, key: str, setting: str) -> None:
    services().limiter.check(scope, key, current_app.config[setting])


@bp.before_request
def _limit_writes_per_ip():
    if request.method == "POST":
        _limit("ip", request.remote_addr or "unknown", "RATE_LIMIT_PER_IP")


def conversation_view(session, conversation) -> dict:
    s = services()
    queue = None
    if conversation.status == Status.WAITING:
        state = snapshot(session, current_app.config["QUEUE_ETA_SAMPLE"], current_app.config["QUEUE_DEFAULT_WAIT_SECONDS"])
        queue = position_of(conversation.id, state["positions"], state["seconds_per_position"])
    agent = None
    if conversation.status == Status.ASSIGNED and conversation.agent_id is not None:
        agent = {"name": session.get(Agent, conversation.agent_id).name}
    return {"id": conversation.id, "status": conversation.status, "language": conversation.language,
            "queue": queue, "agent": agent, "online": s.hours.is_open(utcnow())}


@bp.post("/conversations")
def create_conversation():
    body = validation.json_body(required=False)
    _limit("start", request.remote_addr or "unknown", "RATE_LIMIT_CONVERSATIONS_PER_IP")
    language = validation.choice(body, "language", LANGUAGES, default=None)
    if language is None:
        best = request.accept_languages.best_match(LANGUAGES)
        language = best or current_app.config["DEFAULT_LANGUAGE"]
    page_url = validation.text(body, "page_url", required=False, max_chars=2000)
    with services().db.writing() as session:
        conversation = start_conversation(session, language, page_url)
    return {"id": conversation.id, "token": issue_customer_token(conversation.id),
            "status": conversation.status, "language": conversation.language}, 201


@bp.get("/conversations/<conversation_id>")
def show_conversation(conversation_id):
    require_customer(conversation_id)
    with services().db.reading() as session:
        return conversation_view(session, get_conversation(session, conversation_id))


@bp.get("/conversations/<conversation_id>/messages")
def list_messages(conversation_id):
    require_customer(conversation_id)
    after = validation.query_int("after", 0)
    with services().db.reading() as session:
        get_conversation(session, conversation_id)
        return {"messages": [message_json(m) for m in messages_after(session, conversation_id, after)]}


@bp.post("/conversations/<conversation_id>/messages")
def post_message(conversation_id):
    require_customer(conversation_id)
    body = validation.json_body()
    text = validation.message_text(body)
    client_message_id = validation.text(body, "client_message_id", required=False, max_chars=100)
    display_text = validation.text(body, "display_text", required=False, max_chars=200)
    _limit("conversation", conversation_id, "RATE_LIMIT_PER_CONVERSATION")
    exchange = services().gateway.customer_message(conversation_id, text, client_message_id or None,
                                                   display_text=display_text if display_text and display_text.strip() else None)
    return {"message": message_json(exchange.message), "replies": [message_json(m) for m in exchange.replies]}, \
        200 if exchange.repeated else 201


@bp.get("/conversations/<conversation_id>/stream")
def stream(conversation_id):
    require_customer(conversation_id)
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0"
    last_event_id = int(raw) if raw.isdigit() and len(raw) < 10 else 0
    s = services()
    with s.db.reading() as session:
        get_conversation(session, conversation_id)
    return Response(customer_stream(s.db, s.broker, s.stream_settings, conversation_id, last_event_id),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.post("/conversations/<conversation_id>/typing")
def typing(conversation_id):
    require_customer(conversation_id)
    is_typing = validation.boolean(validation.json_body(), "typing")
    with services().db.writing() as session:
        conversation = get_conversation(session, conversation_id)
        if conversation.status == Status.ASSIGNED:  # only a person on the other side cares
            events.record(session, events.Event(events.TYPING, conversation_id, agent_id=conversation.agent_id,
                                                data={"typing": is_typing, "sender": "customer"}))
    return "", 204


@bp.post("/conversations/<conversation_id>/handoff")
def handoff(conversation_id):
    require_customer(conversation_id)
    body = validation.json_body(required=False)
    reason = validation.choice(body, "reason", HANDOFF_REASONS, default="request_human")
    _limit("conversation", conversation_id, "RATE_LIMIT_PER_CONVERSATION")
    with services().db.writing() as session:
        conversation, _ = request_handoff(session, conversation_id, services().hours, reason=reason)
    with services().db.reading() as session:
        return conversation_view(session, get_conversation(session, conversation_id))


@bp.post("/conversations/<conversation_id>/offline-message")
def offline_message(conversation_id):
    require_customer(conversation_id)
    body = validation.json_body()
    email = validation.email(body)
    text = validation.message_text(body)
    _limit("conversation", conversation_id, "RATE_LIMIT_PER_CONVERSATION")
    with services().db.writing() as session:
        conversation = get_conversation(session, conversation_id)
        leave_offline_message(session, conversation_id, email, text, conversation.language)
    with services().db.reading() as session:
        return conversation_view(session, get_conversation(session, conversation_id)), 201


@bp.post("/conversations/<conversation_id>/end")
def end(conversation_id):
    require_customer(conversation_id)
    body = validation.json_body(required=False)
    csat = validation.integer(body, "csat", 1, 5)
    ces = validation.integer(body, "ces", 1, 5)
    comment = validation.text(body, "comment", required=False, max_chars=current_app.config["MAX_MESSAGE_CHARS"],
                              code_too_long="message_too_long")
    with services().db.writing() as session:
        end_by_customer(session, conversation_id, csat, ces, comment)
    with services().db.reading() as session:
        return conversation_view(session, get_conversation(session, conversation_id))
