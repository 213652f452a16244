"""A Rasa tokenizer for Japanese, English and both mixed, on SudachiPy.

Rasa's WhitespaceTokenizer refuses Japanese (it has no spaces between words); Sudachi
segments Japanese and leaves Latin words whole, so one tokenizer serves both languages.
"""
from __future__ import annotations

import logging
import unicodedata
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.fingerprint import source_fingerprint

logger = logging.getLogger(__name__)

# Sudachi refuses input over 49,149 bytes; long messages are cut into chunks below that.
MAX_CHUNK_BYTES = 40_000
# Parts of speech that carry no meaning for intent recognition.
SKIPPED_POS = {"空白"}


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class SudachiTokenizer(Tokenizer):
    """Splits text into Sudachi morphemes; the lemma is Sudachi's normalised form."""

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        # Rasa's training cache ignores code changes (bot/fingerprint.py).
        return source_fingerprint(__name__)

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Sudachi's split mode: "A" (shortest units), "B" (middle) or "C" (named
            # entities and compounds kept whole). C keeps 送料無料 whole, A splits it.
            "split_mode": "A",
            # Drop punctuation and symbols (補助記号) such as 。、！？ from the tokens.
            "drop_punctuation": True,
            # The lemma (used by featurizers with `use_lemma`) is Sudachi's normalised form
            # for Japanese (ｶｰﾄﾞ → カード, 附属 → 付属) and the NFKC form for Latin words
            # (ＶＩＳＡ → visa), lower-cased.
            "lowercase_lemma": True,
            # Options every Rasa tokenizer has.
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._tokenizer = None
        self._mode = None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SudachiTokenizer":
        return cls(config)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sudachipy", "sudachidict_core"]

    def _sudachi(self):
        # Built lazily: the dictionary takes a moment to load and is not picklable.
        if self._tokenizer is None:
            from sudachipy import dictionary, tokenizer as sudachi_tokenizer

            modes = {
                "A": sudachi_tokenizer.Tokenizer.SplitMode.A,
                "B": sudachi_tokenizer.Tokenizer.SplitMode.B,
                "C": sudachi_tokenizer.Tokenizer.SplitMode.C,
            }
            mode = str(self._config["split_mode"]).upper()
            if mode not in modes:
                raise ValueError(f"split_mode must be A, B or C, not {self._config['split_mode']!r}")
            self._mode = modes[mode]
            self._tokenizer = dictionary.Dictionary(dict="core").tokenizer(mode=self._mode)
        return self._tokenizer

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute) or ""
        tokens = self.tokenize_text(text)
        if not tokens and text.strip():
            # Only punctuation or symbols ("？？", "🙏"): keep them, Rasa needs a token.
            tokens = [Token(text.strip(), text.index(text.strip()[0]))]
        return self._apply_token_pattern(tokens)

    def tokenize_text(self, text: Text) -> List[Token]:
        tokens: List[Token] = []
        for offset, chunk in _chunks(text):
            for morpheme in self._sudachi().tokenize(chunk):
                surface = morpheme.surface()
                pos = morpheme.part_of_speech()[0]
                if pos in SKIPPED_POS or not surface.strip():
                    continue
                if self._config["drop_punctuation"] and _is_punctuation(surface, pos):
                    continue
                # Sudachi spells known English words in katakana (shipping → シッピング);
                # Latin words keep their own (NFKC) spelling instead.
                if surface.isascii() or unicodedata.normalize("NFKC", surface).isascii():
                    lemma = unicodedata.normalize("NFKC", surface)
                else:
                    lemma = morpheme.normalized_form()
                if self._config["lowercase_lemma"]:
                    lemma = lemma.lower()
                tokens.append(
                    Token(surface, offset + morpheme.begin(), offset + morpheme.end(), lemma=lemma)
                )
        return tokens


def _is_punctuation(surface: Text, pos: Text) -> bool:
    # Emoji are 補助記号 to Sudachi but carry meaning ("🙏", "😡"); keep them.
    return pos == "補助記号" and all(unicodedata.category(ch)[0] == "P" for ch in surface)


def _chunks(text: Text):
    """Yields (offset, chunk) pieces under Sudachi's input limit, cut at whitespace if possible."""
    start = 0
    while start < len(text):
        end = start
        size = 0
        while end < len(text) and size + len(text[end].encode("utf-8")) <= MAX_CHUNK_BYTES:
            size += len(text[end].encode("utf-8"))
            end += 1
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end), text.rfind("。", start, end))
            if cut > start:
                end = cut + 1
        yield start, text[start:end]
        start = end
