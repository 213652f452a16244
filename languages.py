"""The languages the bot and the service speak, and which one a customer wrote in.

One module for the bot (its `language` slot, evaluation by language) and the handoff service (a
conversation's language), both run from the repo root, so they never disagree about a message.
Standard library only: the bot's environment must not need the service's packages.
"""
from __future__ import annotations

import re
from typing import Optional

LANGUAGES = ("ja", "en")

_LATIN_WORD = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]{2,}")


def detect_language(text: str) -> Optional[str]:
    """"ja", "en", or None when the text has no letters to go by ("？", "👍", "12")."""
    kana = kanji = latin = 0
    for ch in text:
        if "\u3040" <= ch <= "\u30ff" or "\uff66" <= ch <= "\uff9f":  # kana, half-width kana
            kana += 1
        elif "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            kanji += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
        elif "\uff21" <= ch <= "\uff3a" or "\uff41" <= ch <= "\uff5a":
            latin += 1  # full-width Latin letters (ＡＢＣ)
    if kana:
        return "ja"
    # Kanji without kana ("送料無料?") is Japanese unless it is a word inside English text.
    if kanji and kanji * 3 >= latin:
        return "ja"
    if latin:
        return "en"
    return None


def conversation_language(text: str) -> Optional[str]:
    """The language a message moves its conversation to, or None to keep the current one: like
    detect_language, but a button payload (/affirm) or a lone Latin word ("OK", "iPhone") in a
    Japanese conversation says nothing about the customer's language."""
    if text.startswith("/"):
        return None
    language = detect_language(text)
    if language == "en" and len(_LATIN_WORD.findall(text)) < 2:
        return None
    return language


def message_language(text: str, hint: Optional[str] = None) -> Optional[str]:
    """The language to answer a message in: what the text says (conversation_language), else the
    conversation's language the gateway sends as `metadata.language_hint`, when the text alone
    cannot tell ("12345", "👍", "OK" in a Japanese conversation); without a hint, detect_language.
    The gateway and the bot both read a message with this, so they never disagree about it."""
    language = conversation_language(text)
    if language is not None:
        return language
    if hint in LANGUAGES:
        return hint
    return detect_language(text)
