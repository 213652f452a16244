"""Canned replies: ready-made answers agents insert; admins maintain them."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select

from .database import utcnow
from .errors import NotFound
from .models import CannedReply


def list_canned_replies(session, language: Optional[str] = None) -> list[CannedReply]:
    query = select(CannedReply)
    if language:
        query = query.where(CannedReply.language == language)
    return list(session.scalars(query.order_by(CannedReply.language, CannedReply.title, CannedReply.id)))


def save_canned_reply(session, reply_id: Optional[int], language: str, title: str, text: str) -> CannedReply:
    if reply_id is None:
        reply = CannedReply(created_at=utcnow())
        session.add(reply)
    else:
        reply = session.get(CannedReply, reply_id)
        if reply is None:
            raise NotFound("canned_reply_not_found", "No such canned reply.")
    reply.language, reply.title, reply.text, reply.updated_at = language, title, text, utcnow()
    session.flush()
    return reply


def delete_canned_reply(session, reply_id: int) -> None:
    reply = session.get(CannedReply, reply_id)
    if reply is None:
        raise NotFound("canned_reply_not_found", "No such canned reply.")
    session.delete(reply)


def canned_reply_json(reply: CannedReply) -> dict:
    return {"id": reply.id, "language": reply.language, "title": reply.title, "text": reply.text}
