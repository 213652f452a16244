"""Which language a customer wrote in, when Rasa does not tell us."""
from __future__ import annotations

import re
from typing import Optional

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str) -> Optional[str]:
    """'ja' if any kana or kanji, 'en' if at least two Latin words, else None (keep the current)."""
    if _JAPANESE.search(text):
        return "ja"
    if text.startswith("/"):  # a button payload such as /affirm says nothing about language
        return None
    if len(_LATIN_WORD.findall(text)) >= 2:
        return "en"
    return None
