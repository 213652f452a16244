"""Bot restart: when an agent hands a conversation back, Rasa forgets its past turns (and its
fallback count), as docs/architecture.md "Handing back to the bot" requires. When Rasa cannot be
reached, the conversation keeps bot_restart_pending and the gateway retries before the next message."""
from __future__ import annotations

import logging

from sqlalchemy import update

from .. import events
from ..events import Event, Listener
from ..models import Conversation
from ..rasa import RasaUnavailable

log = logging.getLogger(__name__)


class BotRestartListener(Listener):
    handles = frozenset({events.HANDED_BACK})

    def __init__(self, rasa, db):
        self.rasa = rasa
        self.db = db

    def after_commit(self, event: Event) -> None:
        try:
            self.rasa.restart(event.conversation_id)
        except RasaUnavailable as error:
            # bot_restart_pending stays set: the gateway restarts the bot before the next message.
            log.warning("could not restart the bot for %s (retried with the next message): %s",
                        event.conversation_id, error)
            return
        with self.db.writing() as session:
            restarted(session, event.conversation_id)


def restarted(session, conversation_id: str) -> None:
    session.execute(update(Conversation).where(Conversation.id == conversation_id)
                    .values(bot_restart_pending=False).execution_options(synchronize_session=False))
