"""Bot restart: when an agent hands a conversation back, Rasa forgets its past turns (and its
fallback count), as docs/architecture.md "Handing back to the bot" requires."""
from __future__ import annotations

import logging

from .. import events
from ..events import Event, Listener
from ..rasa import RasaUnavailable

log = logging.getLogger(__name__)


class BotRestartListener(Listener):
    handles = frozenset({events.HANDED_BACK})

    def __init__(self, rasa):
        self.rasa = rasa

    def after_commit(self, event: Event) -> None:
        try:
            self.rasa.restart(event.conversation_id)
        except RasaUnavailable as error:
            # The bot then keeps its old tracker; the conversation itself goes on regardless.
            log.warning("could not restart the bot for %s: %s", event.conversation_id, error)
