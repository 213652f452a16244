"""Stream tickets: how a browser opens a customer's event stream without putting the long-lived
conversation token in a URL (EventSource cannot send an Authorization header, and URLs land in
access logs, proxies and browser history).

The widget asks for a ticket with its token in the Authorization header; the ticket opens that
one conversation's stream once, within STREAM_TICKET_SECONDS, and every reconnection asks for a
fresh one. Tickets are rows (only their SHA-256 is stored), so any process or host can redeem a
ticket another one issued, and redeeming is one DELETE ... RETURNING: two requests racing with the
same ticket cannot both open a stream.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete

from .database import utcnow
from .errors import Forbidden, Unauthorized
from .models import StreamTicket


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue_ticket(session, conversation_id: str, lifetime_seconds: int) -> str:
    now = utcnow()
    # Tickets nobody used are swept here, so the table holds about a minute's worth.
    session.execute(delete(StreamTicket).where(StreamTicket.expires_at < now)
                    .execution_options(synchronize_session=False))
    ticket = secrets.token_urlsafe(32)
    session.add(StreamTicket(ticket_hash=_digest(ticket), conversation_id=conversation_id,
                             expires_at=now + timedelta(seconds=lifetime_seconds)))
    return ticket


def redeem_ticket(session, conversation_id: str, ticket: str) -> None:
    """Spends the ticket; it must be unspent, unexpired and issued for this conversation."""
    spent = session.execute(delete(StreamTicket).where(StreamTicket.ticket_hash == _digest(ticket))
                            .returning(StreamTicket.conversation_id, StreamTicket.expires_at)
                            .execution_options(synchronize_session=False)).first()
    if spent is None:
        raise Unauthorized("ticket_invalid", "This stream ticket is unknown or already used; get a new one "
                                             "with POST /api/v1/conversations/<id>/stream-ticket.")
    granted, expires_at = spent
    if expires_at <= utcnow():
        raise Unauthorized("ticket_expired", "This stream ticket has expired; get a new one with "
                                             "POST /api/v1/conversations/<id>/stream-ticket.")
    if not hmac.compare_digest(granted.encode(), conversation_id.encode()):
        raise Forbidden("ticket_mismatch", "This stream ticket opens another conversation's stream.")
