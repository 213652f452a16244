import pytest

from languages import conversation_language, detect_language


@pytest.mark.parametrize("text, language", [
    ("送料はいくら？", "ja"),
    ("そうりょう", "ja"),
    ("ｿｳﾘｮｳ", "ja"),
    ("送料無料", "ja"),
    ("クレカのpaymentが通らない", "ja"),
    ("how much is shipping", "en"),
    ("my card is not accept", "en"),
    ("ＨＥＬＰ", "en"),
    ("what does 送料 mean here in this shop", "en"),
    ("？", None),
    ("👍", None),
    ("12345", None),
    ("", None),
])
def test_detect_language(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize("text, language", [
    ("送料はいくら？", "ja"),
    ("how much is shipping", "en"),
    ("what does 送料 mean here in this shop", "en"),
    ("OK", None),        # a lone Latin word keeps the conversation's language
    ("iPhoneの充電器", "ja"),
    ("/request_human", None),  # a button payload says nothing about the customer
    ("/affirm yes please", None),
    ("👍", None),
])
def test_conversation_language(text, language):
    assert conversation_language(text) == language
