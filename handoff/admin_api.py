"""Admin API (/api/admin): the KPI dashboard, unanswered questions for editors, canned replies, staff
accounts and the audit log."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import select

from . import presence, privacy, schemas
from . import agents as staff
from .audit import ACTIONS, Actor, Filters, csv_rows, entry_json, page_of, start_of_day
from .auth import agent_required
from .canned_replies import canned_reply_json, delete_canned_reply, save_canned_reply
from .content_files import ContentError, project_content, topic_titles
from .database import utcnow
from .errors import InvalidInput
from .gateway import FALLBACK_INTENTS
from .kpis import day_range, dashboard, sla_attainment
from .models import HandledQuestion, Message
from .openapi import AGENT, endpoint
from .transcript import iso

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")


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
        titles = topic_titles(project_content())
    except ContentError:  # a file an editor broke: the figures still show, topics by id
        titles = {}
    timezone = current_app.config["SUPPORT_TIMEZONE"]
    with services().db.reading() as session:
        figures = dashboard(session, first, last, timezone, titles,
                            query.lang or current_app.config["DEFAULT_LANGUAGE"],
                            help_origin=request.host_url.rstrip("/"))  # the help center is served here
        states = presence.states(session)
        for agent in figures["agents"]:
            agent["presence"] = states.get(agent["agent_id"])
        figures["sla"] = sla_attainment(session, first, last, timezone, services().sla, states)
        return figures


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


# Staff accounts

def _staff_member(session, agent) -> dict:
    return staff.staff_json(agent, staff.open_count_of(session, agent.id))


@bp.get("/agents")
@agent_required("admin")
@endpoint({200: schemas.Staff}, AGENT)
def list_staff():
    """Every account, active or not (admin)."""
    with services().db.reading() as session:
        counts, states = staff.open_counts(session), presence.states(session)
        return {"agents": [{**staff.staff_json(a, counts.get(a.id, 0)), "presence": states.get(a.id)}
                           for a in staff.list_all_agents(session)]}


@bp.post("/agents")
@agent_required("admin")
@endpoint({201: schemas.StaffChange}, AGENT, body=schemas.NewAgent)
def create_staff(body: schemas.NewAgent):
    """Create an account; without a password, a temporary one to change at first sign-in (admin)."""
    temporary = None if body.password else staff.temporary_password()
    with services().db.writing() as session:
        agent = staff.create_agent(session, body.email, body.name, body.role, body.password or temporary,
                                   actor=Actor.of(g.agent), must_change_password=temporary is not None)
        return {"agent": _staff_member(session, agent), "temporary_password": temporary}, 201


@bp.post("/agents/<int:agent_id>/deactivate")
@agent_required("admin")
@endpoint({200: schemas.StaffChange}, AGENT)
def deactivate_staff(agent_id):
    """Deactivate: the agent's sessions end at once and their conversations go back to the queue;
    409 last_admin for the last active admin (admin)."""
    with services().db.writing() as session:
        agent = staff.find_agent(session, str(agent_id))
        requeued = staff.deactivate(session, agent, Actor.of(g.agent))
        return {"agent": _staff_member(session, agent), "requeued_conversations": requeued}


@bp.post("/agents/<int:agent_id>/reactivate")
@agent_required("admin")
@endpoint({200: schemas.StaffChange}, AGENT)
def reactivate_staff(agent_id):
    """Reactivate a deactivated account (admin)."""
    with services().db.writing() as session:
        agent = staff.find_agent(session, str(agent_id))
        staff.reactivate(session, agent, Actor.of(g.agent))
        return {"agent": _staff_member(session, agent)}


@bp.post("/agents/<int:agent_id>/reset-password")
@agent_required("admin")
@endpoint({200: schemas.StaffChange}, AGENT, body=schemas.PasswordReset)
def reset_staff_password(agent_id, body: schemas.PasswordReset):
    """Set a password, or make a temporary one (answered once); the agent must change it at next
    sign-in, and their sessions end (admin)."""
    with services().db.writing() as session:
        agent = staff.find_agent(session, str(agent_id))
        temporary = staff.reset_password(session, agent, Actor.of(g.agent), body.password)
        return {"agent": _staff_member(session, agent), "temporary_password": temporary}


@bp.post("/agents/<int:agent_id>/role")
@agent_required("admin")
@endpoint({200: schemas.StaffChange}, AGENT, body=schemas.RoleChange)
def change_staff_role(agent_id, body: schemas.RoleChange):
    """Change a role; effective at the agent's next request; 409 last_admin for the last active admin (admin)."""
    with services().db.writing() as session:
        agent = staff.find_agent(session, str(agent_id))
        staff.set_role(session, agent, Actor.of(g.agent), body.role)
        return {"agent": _staff_member(session, agent)}


# The audit log: read and export only; no route changes or deletes an entry.

def _audit_filters(query: schemas.AuditQuery) -> Filters:
    if query.action and query.action not in ACTIONS:
        raise InvalidInput("invalid_parameter", f"'action' must be one of {', '.join(ACTIONS)}.")
    if query.first and query.last and query.first > query.last:
        raise InvalidInput("invalid_parameter", "'from' must not be after 'to'.")
    zone = current_app.config["SUPPORT_TIMEZONE"]
    return Filters(actor_id=query.actor_id, action=query.action, start=start_of_day(query.first, zone),
                   end=start_of_day(query.last + timedelta(days=1), zone) if query.last else None)


@bp.get("/audit")
@agent_required("admin")
@endpoint({200: schemas.AuditPage}, AGENT, query=schemas.AuditQuery)
def audit_log(query: schemas.AuditQuery):
    """Staff actions, newest first, AUDIT_PAGE_SIZE a page; filters: actor_id, action, from, to (admin)."""
    filters = _audit_filters(query)
    per_page = current_app.config["AUDIT_PAGE_SIZE"]
    with services().db.reading() as session:
        entries, total = page_of(session, filters, query.page, per_page)
    return {"entries": [entry_json(e) for e in entries], "page": query.page, "per_page": per_page, "total": total,
            "actions": list(ACTIONS)}


@bp.get("/audit.csv")
@agent_required("admin")
@endpoint({200: "text/csv"}, AGENT, query=schemas.AuditQuery)
def audit_export(query: schemas.AuditQuery):
    """The matching entries as CSV, oldest first, every page (admin)."""
    filters = _audit_filters(query)
    name = "tsunagi-audit-" + utcnow().strftime("%Y%m%d-%H%M%S") + ".csv"
    return Response(csv_rows(services().db, filters), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


# Privacy (handoff/privacy.py): an admin answers a customer's request to see or delete their data.

@bp.post("/contacts/<int:contact_id>/export")
@agent_required("admin")
@endpoint({200: schemas.ContactExport}, AGENT)
def export_contact(contact_id):
    """Everything held about a contact, as a JSON download (admin; recorded in the audit log)."""
    with services().db.writing() as session:
        exported = privacy.export_contact(session, contact_id, Actor.of(g.agent))
    response = current_app.json.response(exported)
    response.headers["Content-Disposition"] = f'attachment; filename="contact-{contact_id}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/contacts/<int:contact_id>/erase")
@agent_required("admin")
@endpoint({200: schemas.ContactErased}, AGENT)
def erase_contact(contact_id):
    """Erase a contact: transcripts, addresses, notes (admin; recorded in the audit log). The KPI
    totals stay as they were. 409 contact_has_open_conversation while agents work on one of theirs."""
    with services().db.writing() as session:
        erasure = privacy.erase_contact(session, contact_id, Actor.of(g.agent))
    return {"contact_id": erasure.contact_id, "conversations": erasure.conversations}
