import pytest

from bot.language import detect_language


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
