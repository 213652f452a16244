"""Per-message language detection (Japanese or English) in the NLU pipeline; the rule itself is
in the root languages.py (message_language), shared with the handoff service.

The result is added to the parse result as a `language` entity, which fills the `language`
slot, so the answer is given in the language of the customer's latest message. When the text
cannot tell ("12345", an order number, "👍", "OK" in a Japanese conversation), the conversation's
language decides: the gateway sends it as the message's `metadata.language_hint`, which Rasa's
NLUMessageConverter hands to the pipeline in the message's `metadata`.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.fingerprint import source_fingerprint
from languages import message_language

logger = logging.getLogger(__name__)

LANGUAGE_ENTITY = "language"
METADATA = "metadata"
LANGUAGE_HINT = "language_hint"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class LanguageDetector(GraphComponent):
    """Adds a `language` entity ("ja"/"en") to every message whose language can be told."""

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        # Rasa's training cache ignores code changes (bot/fingerprint.py).
        return source_fingerprint(__name__, "languages")

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
            metadata = message.get(METADATA)
            hint = metadata.get(LANGUAGE_HINT) if isinstance(metadata, dict) else None
            language = message_language(text, hint)
            if language is None:
                logger.debug("No language detected in %r and no language hint; the slot keeps its value.", text)
                continue
            logger.debug("Language of %r: %s (language hint: %s).", text, language, hint)
            entity = {
                "entity": LANGUAGE_ENTITY, "value": language, "start": 0, "end": len(text),
                "confidence": 1.0, "extractor": self.__class__.__name__,
            }
            message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages
