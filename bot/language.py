"""Per-message language detection (Japanese or English) for the bot and the gateway.

The result is added to the parse result as a `language` entity, which fills the `language`
slot, so the answer is given in the language of the customer's latest message.
"""
from __future__ import annotations

import logging
import unicodedata
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

LANGUAGE_ENTITY = "language"


def detect_language(text: Text) -> Optional[Text]:
    """"ja", "en", or None when the text has no letters to go by ("？", "👍", "12")."""
    kana = kanji = latin = 0
    for ch in text:
        if "\u3040" <= ch <= "\u30ff" or "\uff66" <= ch <= "\uff9f":  # kana, half-width kana
            kana += 1
        elif "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            kanji += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
        elif unicodedata.category(ch).startswith("L") and "\uff21" <= ch <= "\uff5a":
            latin += 1  # full-width Latin letters (ＡＢＣ)
    if kana:
        return "ja"
    # Kanji without kana ("送料無料?") is Japanese unless it is a word inside English text.
    if kanji and kanji * 3 >= latin:
        return "ja"
    if latin:
        return "en"
    return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class LanguageDetector(GraphComponent):
    """Adds a `language` entity ("ja"/"en") to every message whose language can be told."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LanguageDetector":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            language = detect_language(text)
            if language is None:
                logger.debug("No language detected in %r; the slot keeps its value.", text)
                continue
            entity = {
                "entity": LANGUAGE_ENTITY, "value": language, "start": 0, "end": len(text),
                "confidence": 1.0, "extractor": self.__class__.__name__,
            }
            message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages
