"""Admin API (/api/admin): the KPI dashboard, unanswered questions for editors, canned replies."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, current_app, request
from sqlalchemy import select

from . import validation
from .auth import agent_required
from .canned_replies import canned_reply_json, delete_canned_reply, save_canned_reply
from .database import utcnow
from .errors import InvalidInput
from .gateway import FALLBACK_INTENTS
from .kpis import day_range, dashboard
from .models import HandledQuestion, Message
from .system_messages import LANGUAGES
from .transcript import iso

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")


def services():
    return current_app.extensions["tsunagi"]


def _date_range() -> tuple[date, date]:
    """?from=&to= (YYYY-MM-DD, inclusive, support time zone); the last 7 days by default."""
    from zoneinfo import ZoneInfo

    today = utcnow().astimezone(ZoneInfo(current_app.config["SUPPORT_TIMEZONE"])).date()
    try:
        last = date.fromisoformat(request.args["to"]) if request.args.get("to") else today
        first = date.fromisoformat(request.args["from"]) if request.args.get("from") else last - timedelta(days=6)
    except ValueError:
        raise InvalidInput("invalid_parameter", "'from' and 'to' must be dates as YYYY-MM-DD.")
    if first > last:
        raise InvalidInput("invalid_parameter", "'from' must not be after 'to'.")
    if (last - first).days > 366 or first.year < 2000 or last.year > 9000:
        raise InvalidInput("invalid_parameter", "The range may span at most a year.")
    return first, last


@bp.get("/kpis")
@agent_required("admin")
def kpis():
    first, last = _date_range()
    with services().db.reading() as session:
        return dashboard(session, first, last, current_app.config["SUPPORT_TIMEZONE"])


@bp.get("/unanswered")
@agent_required("editor")
def unanswered():
    """Customer messages the bot did not understand: what the FAQ should learn next."""
    first, last = _date_range()
    language = validation.query_choice("language", LANGUAGES)
    start, end = day_range(first, last, current_app.config["SUPPORT_TIMEZONE"])
    with services().db.reading() as session:
        query = select(Message).where(Message.sender == "customer", Message.nlu_intent.in_(FALLBACK_INTENTS),
                                      Message.created_at >= start, Message.created_at < end,
                                      # handled by an editor (handoff/editor_api.py): off the list
                                      Message.id.not_in(select(HandledQuestion.message_id)))
        if language:
            query = query.where(Message.language == language)
        rows = session.scalars(query.order_by(Message.created_at.desc()).limit(500))
        return {"from": first.isoformat(), "to": last.isoformat(),  # the range used, in the support time zone
                "questions": [{"conversation_id": m.conversation_id, "text": m.text, "language": m.language,
                               "intent": m.nlu_intent, "confidence": m.nlu_confidence,
                               "intent_ranking": m.nlu_ranking or [], "created_at": iso(m.created_at)} for m in rows]}


def _canned_fields():
    body = validation.json_body()
    language = validation.choice(body, "language", LANGUAGES)
    if language is None:
        raise InvalidInput("missing_field", "'language' is required.")
    return language, validation.text(body, "title", max_chars=200), validation.message_text(body)


@bp.post("/canned-replies")
@agent_required("admin")
def create_canned_reply():
    language, title, text = _canned_fields()
    with services().db.writing() as session:
        reply = save_canned_reply(session, None, language, title, text)
    return {"canned_reply": canned_reply_json(reply)}, 201


@bp.put("/canned-replies/<int:reply_id>")
@agent_required("admin")
def update_canned_reply(reply_id):
    language, title, text = _canned_fields()
    with services().db.writing() as session:
        reply = save_canned_reply(session, reply_id, language, title, text)
    return {"canned_reply": canned_reply_json(reply)}


@bp.delete("/canned-replies/<int:reply_id>")
@agent_required("admin")
def remove_canned_reply(reply_id):
    with services().db.writing() as session:
        delete_canned_reply(session, reply_id)
    return "", 204
