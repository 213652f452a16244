"""Admin API (/api/admin): the KPI dashboard, unanswered questions for editors, canned replies."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from flask import Blueprint, current_app
from sqlalchemy import select

from . import schemas
from .auth import agent_required
from .canned_replies import canned_reply_json, delete_canned_reply, save_canned_reply
from .content_files import ContentError, ContentFiles
from .database import utcnow
from .errors import InvalidInput
from .gateway import FALLBACK_INTENTS
from .kpis import day_range, dashboard
from .models import HandledQuestion, Message
from .openapi import AGENT, endpoint
from .transcript import iso

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")
# The FAQ content whose topic titles name the dashboard's topics (TSUNAGI_PROJECT_DIR overrides).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def services():
    return current_app.extensions["tsunagi"]


def _date_range(query: schemas.DateRangeQuery) -> tuple[date, date]:
    """?from=&to= (inclusive, support time zone); the last 7 days by default."""
    from zoneinfo import ZoneInfo

    today = utcnow().astimezone(ZoneInfo(current_app.config["SUPPORT_TIMEZONE"])).date()
    last = query.last or today
    first = query.first or last - timedelta(days=6)
    if first > last:
        raise InvalidInput("invalid_parameter", "'from' must not be after 'to'.")
    if (last - first).days > 366 or first.year < 2000 or last.year > 9000:
        raise InvalidInput("invalid_parameter", "The range may span at most a year.")
    return first, last


@bp.get("/kpis")
@agent_required("admin")
@endpoint({200: schemas.Kpis}, AGENT, query=schemas.KpisQuery)
def kpis(query: schemas.KpisQuery):
    """The KPI dashboard's figures (admin): the conversations started in the range, followed to their outcome."""
    first, last = _date_range(query)
    try:
        titles = {topic.id: topic.title for topic in
                  ContentFiles(current_app.config.get("TSUNAGI_PROJECT_DIR") or PROJECT_ROOT).topics()}
    except ContentError:  # a file an editor broke: the figures still show, topics by id
        titles = {}
    with services().db.reading() as session:
        return dashboard(session, first, last, current_app.config["SUPPORT_TIMEZONE"], titles,
                         query.lang or current_app.config["DEFAULT_LANGUAGE"])


@bp.get("/unanswered")
@agent_required("editor")
@endpoint({200: schemas.UnansweredQuestions}, AGENT, query=schemas.UnansweredQuery)
def unanswered(query: schemas.UnansweredQuery):
    """Customer messages the bot did not understand: what the FAQ should learn next (editor)."""
    first, last = _date_range(query)
    start, end = day_range(first, last, current_app.config["SUPPORT_TIMEZONE"])
    with services().db.reading() as session:
        questions = select(Message).where(Message.sender == "customer", Message.nlu_intent.in_(FALLBACK_INTENTS),
                                          Message.created_at >= start, Message.created_at < end,
                                          # handled by an editor (handoff/editor_api.py): off the list
                                          Message.id.not_in(select(HandledQuestion.message_id)))
        if query.language:
            questions = questions.where(Message.language == query.language)
        rows = session.scalars(questions.order_by(Message.created_at.desc()).limit(500))
        return {"from": first.isoformat(), "to": last.isoformat(),  # the range used, in the support time zone
                "questions": [{"conversation_id": m.conversation_id, "text": m.text, "language": m.language,
                               "intent": m.nlu_intent, "confidence": m.nlu_confidence,
                               "intent_ranking": m.nlu_ranking or [], "created_at": iso(m.created_at)} for m in rows]}


@bp.post("/canned-replies")
@agent_required("admin")
@endpoint({201: schemas.OneCannedReply}, AGENT, body=schemas.CannedReplyFields)
def create_canned_reply(body: schemas.CannedReplyFields):
    """Create a canned reply (admin)."""
    with services().db.writing() as session:
        reply = save_canned_reply(session, None, body.language, body.title, body.text)
    return {"canned_reply": canned_reply_json(reply)}, 201


@bp.put("/canned-replies/<int:reply_id>")
@agent_required("admin")
@endpoint({200: schemas.OneCannedReply}, AGENT, body=schemas.CannedReplyFields)
def update_canned_reply(reply_id, body: schemas.CannedReplyFields):
    """Change a canned reply (admin)."""
    with services().db.writing() as session:
        reply = save_canned_reply(session, reply_id, body.language, body.title, body.text)
    return {"canned_reply": canned_reply_json(reply)}


@bp.delete("/canned-replies/<int:reply_id>")
@agent_required("admin")
@endpoint({204: None}, AGENT)
def remove_canned_reply(reply_id):
    """Delete a canned reply (admin)."""
    with services().db.writing() as session:
        delete_canned_reply(session, reply_id)
    return "", 204
