"""A compact Unigram (SentencePiece) tokenizer for the embedding model.

`tokenizers` keeps a Unigram vocabulary as a byte trie: multilingual-e5-small's 250,002
pieces take about 280 MB of the Rasa server's memory that way (measured with the model's
tokenizer.json; README, "The encoder's tokenizer"). This class gives the same token ids from
a Python dict (73 MB), and borrows everything else from `tokenizers` itself: the normaliser
and the pre-tokeniser of the same tokenizer.json run unchanged, so only the Viterbi search
over pieces is ours, written after `tokenizers`' Unigram::encode_optimized:
- at each character, every piece that starts there is a candidate; a character that no
  one-character piece covers becomes `unk`, scored at the lowest piece score minus 10;
- the best path keeps the first candidate on a tie (candidates come shortest first);
- consecutive `unk` characters fuse into one token.
Special tokens typed in the text (`<s>`, `<mask>`, ...) are split out first, as `tokenizers`
does. tests/bot/test_unigram.py checks the ids against `tokenizers` on the training and test
data and on random text from many scripts.

`UnigramTokenizer.from_spec` returns None for a tokenizer.json this class does not
reproduce (another model type, byte fallback, stripped or normalised added tokens, another
post-processor); the embedding model then keeps its own tokenizer.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, List, Optional, Sequence, Text

logger = logging.getLogger(__name__)

UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY


class UnigramTokenizer:
    def __init__(self, spec: Dict[Text, Any], max_length: int) -> None:
        from tokenizers import Tokenizer

        model = spec["model"]
        scores = [float(score) for _, score in model["vocab"]]
        # A piece listed twice keeps its last id, as tokenizers' own map does.
        self.ids: Dict[Text, int] = {piece: i for i, (piece, _) in enumerate(model["vocab"])}
        self.scores = scores
        self.unk_id: int = model["unk_id"]
        self.unk_score = min(scores) - UNK_PENALTY
        self.longest = max(len(piece) for piece in self.ids)
        self.max_length = max_length
        single = spec["post_processor"]["single"]
        self.bos_id = spec["post_processor"]["special_tokens"][single[0]["SpecialToken"]["id"]]["ids"][0]
        self.eos_id = spec["post_processor"]["special_tokens"][single[-1]["SpecialToken"]["id"]]["ids"][0]
        self.added = {token["content"]: token["id"] for token in spec.get("added_tokens") or []}
        self.pad_id = self.added.get("<pad>", 0)
        # Longest first: at one position the longest special token wins (leftmost-longest).
        contents = sorted(self.added, key=len, reverse=True)
        self._added_pattern = re.compile("|".join(re.escape(c) for c in contents)) if contents else None
        # The same normaliser and pre-tokeniser, on a one-piece model (a few kilobytes).
        pipeline = dict(spec, added_tokens=[], post_processor=None, truncation=None, padding=None,
                        model=dict(model, vocab=[["<unk>", 0.0]], unk_id=0))
        pipeline = Tokenizer.from_str(json.dumps(pipeline))
        # Read once: each access builds a new Python wrapper.
        self._normalizer, self._pre_tokenizer = pipeline.normalizer, pipeline.pre_tokenizer

    @classmethod
    def from_spec(cls, spec: Dict[Text, Any], max_length: int) -> Optional["UnigramTokenizer"]:
        reason = unsupported(spec)
        if reason:
            logger.info("Keeping the model's own tokenizer: %s", reason)
            return None
        return cls(spec, max_length)

    # ---- encoding -------------------------------------------------------------------
    def encode(self, text: Text) -> List[int]:
        """The token ids with <s> and </s>, cut to `max_length` as the model's tokenizer would."""
        ids: List[int] = []
        position = 0
        for match in self._added_pattern.finditer(text) if self._added_pattern else ():
            ids += self._encode_segment(text[position:match.start()])
            ids.append(self.added[match.group()])
            position = match.end()
        ids += self._encode_segment(text[position:])
        return [self.bos_id, *ids[: self.max_length - 2], self.eos_id]

    def _encode_segment(self, segment: Text) -> List[int]:
        if not segment:
            return []
        normalized = self._normalizer.normalize_str(segment) if self._normalizer else segment
        if self._pre_tokenizer is None:
            splits = [normalized] if normalized else []
        else:
            splits = [piece for piece, _ in self._pre_tokenizer.pre_tokenize_str(normalized)]
        ids: List[int] = []
        for split in splits:
            ids += self._viterbi(split)
        return ids

    def _viterbi(self, text: Text) -> List[int]:
        if not text:
            return []
        size, ids, scores = len(text), self.ids, self.scores
        best = [0.0] * (size + 1)
        starts = [-1] * (size + 1)
        chosen = [0] * (size + 1)
        for start in range(size):
            so_far = best[start]
            single = False
            for end in range(start + 1, min(size, start + self.longest) + 1):
                piece = ids.get(text[start:end])
                if piece is None:
                    continue
                candidate = scores[piece] + so_far
                if starts[end] < 0 or candidate > best[end]:
                    best[end], starts[end], chosen[end] = candidate, start, piece
                if end == start + 1:
                    single = True
            if not single:
                candidate = self.unk_score + so_far
                if starts[start + 1] < 0 or candidate > best[start + 1]:
                    best[start + 1], starts[start + 1], chosen[start + 1] = candidate, start, self.unk_id
        # Back from the end; runs of unknown characters become one token.
        tokens: List[Text] = []
        unknown: List[Text] = []
        end = size
        while end > 0:
            start = starts[end]
            if chosen[end] == self.unk_id:
                unknown.append(text[start:end])
            else:
                if unknown:
                    tokens.append("".join(reversed(unknown)))
                    unknown = []
                tokens.append(text[start:end])
            end = start
        if unknown:
            tokens.append("".join(reversed(unknown)))
        return [ids.get(token, self.unk_id) for token in reversed(tokens)]

    def arrays(self, texts: Sequence[Text]):
        """(input_ids, attention_mask), int64 numpy arrays padded on the right: what ONNX
        Runtime takes, without PyTorch."""
        import numpy as np

        encoded = [self.encode(text) for text in texts]
        width = max(len(ids) for ids in encoded)
        input_ids = np.full((len(encoded), width), self.pad_id, dtype=np.int64)
        attention = np.zeros((len(encoded), width), dtype=np.int64)
        for row, ids in enumerate(encoded):
            input_ids[row, : len(ids)] = ids
            attention[row, : len(ids)] = 1
        return input_ids, attention

    def features(self, texts: Sequence[Text]) -> Dict[Text, Any]:
        """What sentence-transformers' preprocess() gives the model: ids padded on the right."""
        import torch

        input_ids, attention = self.arrays(texts)
        return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention),
                "modality": "text"}


def unsupported(spec: Dict[Text, Any]) -> Optional[Text]:
    """Why this class would not reproduce the tokenizer.json `spec`; None if it would."""
    model = spec.get("model") or {}
    if model.get("type") != "Unigram":
        return f"a {model.get('type')} model, not Unigram"
    if model.get("byte_fallback"):
        return "byte fallback"
    if model.get("unk_id") is None:
        return "no unk_id"
    for token in spec.get("added_tokens") or []:
        if token.get("normalized") or token.get("lstrip") or token.get("rstrip") or token.get("single_word"):
            return f"added token {token.get('content')!r} is normalised or strips"
    post = spec.get("post_processor") or {}
    single = post.get("single") or []
    if (post.get("type") != "TemplateProcessing" or len(single) != 3
            or "SpecialToken" not in single[0] or "Sequence" not in single[1] or "SpecialToken" not in single[2]):
        return "the post-processor is not <s> $A </s>"
    return None
