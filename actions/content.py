"""The FAQ content the actions need besides the answers: topic titles and button labels.

Read from data/topics/*.yml and the answers (data/nlu/*.yml, domain.yml), so editors change
content, never code.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Dict, Optional

import yaml

from actions import config


@lru_cache(maxsize=1)
def topics() -> Dict[str, dict]:
    """{topic id: {"title": {"ja", "en"}, "offer_human": bool}} from every data/topics file."""
    merged: Dict[str, dict] = {}
    for path in sorted((config.CONTENT_DIR / "data" / "topics").glob("*.yml")):
        merged.update((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("topics") or {})
    return merged


@lru_cache(maxsize=1)
def _responses() -> Dict[str, list]:
    """Every answer, as Rasa merges them: domain.yml's, then those beside the examples."""
    merged: Dict[str, list] = {}
    for path in [config.CONTENT_DIR / "domain.yml", *sorted((config.CONTENT_DIR / "data" / "nlu").glob("*.yml"))]:
        if path.is_file():
            merged.update((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {})
    return merged


def response_text(name: str, language: str) -> Optional[str]:
    """The text of a response's variation for `language` (e.g. a button label)."""
    for variation in _responses().get(name, []):
        conditions = variation.get("condition") or []
        if any(c.get("name") == "language" and c.get("value") == language for c in conditions):
            return variation.get("text")
    return None


def topic_title(topic: str, language: str) -> Optional[str]:
    title = (topics().get(topic) or {}).get("title") or {}
    return title.get(language) or title.get("ja")


def offers_human(topic: str) -> bool:
    return bool((topics().get(topic) or {}).get("offer_human"))
