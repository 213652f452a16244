"""The audit log of staff actions: who did what, to what, when and from where.

Entries are written by the audit listener (handoff/listeners/audit_listener.py) in the same
transaction as the action they record. They are append-only: no route changes or deletes one,
the ORM refuses to flush a change or a deletion of one (below), and the database refuses UPDATE
and DELETE with a trigger (migration 0005). Admins read them through /api/admin/audit and its
CSV export.
"""
from __future__ import annotations

import csv
import getpass
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Iterator, Optional
from zoneinfo import ZoneInfo

from flask import g, has_app_context, has_request_context, request
from sqlalchemy import event as orm_event
from sqlalchemy import func, select

from . import events
from .database import utcnow
from .models import AuditEntry
from .transcript import iso

# Domain event -> (audit action, what the target is): what the audit listener writes for each.
EVENT_ACTIONS = {
    events.LOGGED_IN: ("login.succeeded", "agent"),
    events.LOGIN_FAILED: ("login.failed", None),
    events.LOGGED_OUT: ("logout", "agent"),
    events.CLAIMED: ("conversation.claimed", "conversation"),
    events.TRANSFERRED: ("conversation.transferred", "conversation"),
    events.HANDED_BACK: ("conversation.handed_back", "conversation"),
    events.RESOLVED: ("conversation.resolved", "conversation"),
    events.REQUEUED: ("conversation.requeued", "conversation"),
    events.AGENT_CREATED: ("agent.created", "agent"),
    events.AGENT_DEACTIVATED: ("agent.deactivated", "agent"),
    events.AGENT_REACTIVATED: ("agent.reactivated", "agent"),
    events.ROLE_CHANGED: ("agent.role_changed", "agent"),
    events.PASSWORD_RESET: ("agent.password_reset", "agent"),
    events.PASSWORD_CHANGED: ("agent.password_changed", "agent"),
    events.PRESENCE_CHANGED: ("agent.presence_changed", "agent"),
    # Known customers (handoff/privacy.py): the detail names no personal data, only ids and counts,
    # so the append-only log keeps nothing an erasure would have to remove.
    events.CONTACT_IDENTITY_LINKED: ("contact.identity_linked", "contact"),
    events.CONTACT_EXPORTED: ("contact.exported", "contact"),
    events.CONTACT_ERASED: ("contact.erased", "contact"),
    events.RETENTION_PURGED: ("privacy.retention_purged", None),
}
# A claim made by auto-assignment (handoff/assignment.py) rather than by the agent.
ASSIGNED_ACTION = "conversation.assigned"
# An editor's content change (events.CONTENT_CHANGED) -> audit action, by the change's kind.
CONTENT_ACTIONS = {"example_added": "content.examples_added", "topic_drafted": "content.topic_drafted",
                   "dismissed": "content.questions_dismissed"}
# Done outside the service (`make publish`, `make rollback`), recorded with `flask --app handoff audit record`.
OUTSIDE_ACTIONS = ("content.published", "content.rolled_back")
# Every action name the log holds, in the order the console lists them in its filter.
ACTIONS = tuple(dict.fromkeys([action for action, _ in EVENT_ACTIONS.values()] + [ASSIGNED_ACTION]
                              + list(CONTENT_ACTIONS.values()) + list(OUTSIDE_ACTIONS)))

CSV_COLUMNS = ("id", "at", "actor_id", "actor", "action", "target_type", "target_id", "detail", "ip", "user_agent")


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in agent (id and e-mail), or someone without an account (the command line,
    a failed login's typed e-mail)."""
    id: Optional[int]
    label: str

    @classmethod
    def of(cls, agent) -> "Actor":
        return cls(agent.id, agent.email)

    @classmethod
    def command_line(cls) -> "Actor":
        try:
            user = getpass.getuser()
        except Exception:  # no user name in this environment (a container without /etc/passwd entry)
            user = "unknown"
        return cls(None, f"cli:{user}")


def current_actor(fallback_agent_id: Optional[int] = None) -> Actor:
    """The request's signed-in agent, when there is one."""
    if has_app_context() and getattr(g, "agent", None) is not None:
        return Actor.of(g.agent)
    return Actor(fallback_agent_id, f"agent:{fallback_agent_id}" if fallback_agent_id is not None else "system")


def origin() -> tuple[Optional[str], Optional[str]]:
    """(client IP, user agent) of the request being served; (None, None) outside one (the CLI).
    The IP is the proxy-corrected one when TRUSTED_PROXIES > 0 (ProxyFix)."""
    if not has_request_context():
        return None, None
    agent = request.headers.get("User-Agent")
    return request.remote_addr, agent[:400] if agent else None


def new_entry(actor: Actor, action: str, target_type: Optional[str] = None, target_id=None,
              detail: Optional[dict] = None, at: Optional[datetime] = None) -> AuditEntry:
    ip, user_agent = origin()
    return AuditEntry(at=at or utcnow(), actor_id=actor.id, actor_label=actor.label[:254], action=action,
                      target_type=target_type, target_id=None if target_id is None else str(target_id)[:200],
                      detail=detail or None, ip=ip, user_agent=user_agent)


# Reading

def start_of_day(day: Optional[date], zone: str) -> Optional[datetime]:
    """Midnight of a day in the support time zone, as a UTC datetime (None for None)."""
    if day is None:
        return None
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


@dataclass(frozen=True)
class Filters:
    actor_id: Optional[int] = None
    action: Optional[str] = None
    start: Optional[datetime] = None   # inclusive
    end: Optional[datetime] = None     # exclusive


def _filtered(statement, filters: Filters):
    if filters.actor_id is not None:
        statement = statement.where(AuditEntry.actor_id == filters.actor_id)
    if filters.action:
        statement = statement.where(AuditEntry.action == filters.action)
    if filters.start is not None:
        statement = statement.where(AuditEntry.at >= filters.start)
    if filters.end is not None:
        statement = statement.where(AuditEntry.at < filters.end)
    return statement


def page_of(session, filters: Filters, page: int, per_page: int) -> tuple[list[AuditEntry], int]:
    """Newest first: one page of entries, and how many match in all."""
    total = session.scalar(_filtered(select(func.count()).select_from(AuditEntry), filters))
    rows = session.scalars(_filtered(select(AuditEntry), filters)
                           .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def entry_json(entry: AuditEntry) -> dict:
    return {"id": entry.id, "at": iso(entry.at), "actor_id": entry.actor_id, "actor": entry.actor_label,
            "action": entry.action, "target_type": entry.target_type, "target_id": entry.target_id,
            "detail": entry.detail or {}, "ip": entry.ip, "user_agent": entry.user_agent}


def _csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: a leading =, +, - or @ would be read as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(db, filters: Filters, batch: int = 1000) -> Iterator[str]:
    """The matching entries as CSV, oldest first, read in batches so an export of a year stays small
    in memory (keyset pagination on id, which grows with time)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    after = 0
    while True:
        with db.reading() as session:
            rows = list(session.scalars(_filtered(select(AuditEntry), filters).where(AuditEntry.id > after)
                                        .order_by(AuditEntry.id).limit(batch)))
        if not rows:
            return
        buffer.seek(0)
        buffer.truncate()
        for entry in rows:
            writer.writerow([_csv_cell(v) for v in (
                entry.id, iso(entry.at), entry.actor_id, entry.actor_label, entry.action, entry.target_type,
                entry.target_id, json.dumps(entry.detail, ensure_ascii=False) if entry.detail else "",
                entry.ip, entry.user_agent)])
        yield buffer.getvalue()
        after = rows[-1].id


# Append-only, in the ORM too: a changed or deleted entry is refused before it reaches the database.

class AuditLogIsAppendOnly(Exception):
    pass


@orm_event.listens_for(AuditEntry, "before_update")
def _refuse_update(mapper, connection, target):
    raise AuditLogIsAppendOnly("audit entries cannot be changed")


@orm_event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(mapper, connection, target):
    raise AuditLogIsAppendOnly("audit entries cannot be deleted")
