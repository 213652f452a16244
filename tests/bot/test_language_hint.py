"""The gateway's `metadata.language_hint` (the conversation's language) decides a message's language
when its text cannot: digits, an order number, an emoji, a lone "OK" (issue 14). The text wins
whenever it can tell; without a hint the detector is as before."""
import asyncio

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.language import LanguageDetector
from languages import message_language


@pytest.mark.parametrize("text, hint, language", [
    ("12345", "en", "en"),
    ("ご注文番号 A-10023", "en", "ja"),   # the text says Japanese: the hint does not override it
    ("A-10023", "ja", "ja"),            # an order number in a Japanese conversation
    ("👍", "en", "en"),
    ("OK", "ja", "ja"),                 # a lone Latin word keeps a Japanese conversation Japanese
    ("OK", "en", "en"),
    ("how much is shipping", "ja", "en"),
    ("送料はいくら？", "en", "ja"),
    ("12345", None, None),              # no hint: nothing to go by
    ("OK", None, "en"),                 # no hint: as detect_language
    ("12345", "fr", None),              # not a language we speak: ignored
])
def test_message_language(text, hint, language):
    assert message_language(text, hint) == language


def _language_entity(text, metadata=None):
    message = Message(data={"text": text, **({"metadata": metadata} if metadata is not None else {})})
    LanguageDetector().process([message])
    found = [e["value"] for e in message.get("entities", []) if e["entity"] == "language"]
    return found[0] if found else None


def test_the_detector_reads_the_hint_from_the_message_metadata():
    assert _language_entity("12345", {"language_hint": "en"}) == "en"
    assert _language_entity("OK", {"language_hint": "ja"}) == "ja"
    assert _language_entity("送料は？", {"language_hint": "en"}) == "ja"
    assert _language_entity("12345") is None
    assert _language_entity("12345", {"something": "else"}) is None
    assert _language_entity("12345", "not a dict") is None


@pytest.fixture(scope="module")
def agent(trained_model):
    from rasa.core.agent import Agent

    return Agent.load(str(trained_model))


def test_the_trained_model_answers_in_the_hinted_language(agent):
    """The hint travels as Rasa carries a channel's metadata: UserMessage.metadata, which its
    NLUMessageConverter puts in the pipeline's message (what bot/channel.py passes on)."""
    from rasa.core.channels.channel import UserMessage

    def language(text, hint):
        message = UserMessage(text, sender_id="hint-test", metadata={"language_hint": hint} if hint else None)
        parsed = asyncio.run(agent.processor.parse_message(message))
        return next((e["value"] for e in parsed["entities"] if e["entity"] == "language"), None)

    assert language("12345", "en") == "en"
    assert language("A-10023", "ja") == "ja"
    assert language("OK", "ja") == "ja"
    assert language("送料はいくら？", "en") == "ja"
    assert language("12345", None) is None
