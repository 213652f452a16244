"""Conversation trackers kept in memory for the whole Rasa process, across model swaps.

Rasa's `PUT /model` builds a new agent, and with it a new tracker store: with the default
in-memory store every conversation would start over after `make publish` or `make rollback`
(the language slot, the fallback count and "did this help?" forgotten). This store keeps one
dictionary per process, so the new model carries on each conversation where the old one left it.
Like Rasa's default, nothing survives a restart of the Rasa server.
"""
from __future__ import annotations

import threading
from typing import Any, Dict, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain

_conversations: Dict[Text, Text] = {}
_conversations_lock = threading.Lock()


class SwapSafeTrackerStore(InMemoryTrackerStore):
    """Rasa's InMemoryTrackerStore, with its serialised trackers shared by every instance."""

    def __init__(
        self,
        domain: Domain,
        event_broker: Optional[EventBroker] = None,
        host: Optional[Text] = None,
        **kwargs: Any,
    ) -> None:
        # `host` is the endpoint's url, which an in-memory store has no use for.
        super().__init__(domain, event_broker, **kwargs)
        with _conversations_lock:
            self.store = _conversations
