from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.tokenizer import MAX_CHUNK_BYTES, SudachiTokenizer


def tokenize(text, **config):
    tokenizer = SudachiTokenizer({**SudachiTokenizer.get_default_config(), **config})
    return tokenizer.tokenize(Message(data={TEXT: text}), TEXT)


def words(text, **config):
    return [t.text for t in tokenize(text, **config)]


def test_japanese_is_split_into_words():
    assert words("送料はいくらですか？") == ["送料", "は", "いくら", "です", "か"]


def test_offsets_point_back_into_the_text():
    text = "注文をキャンセルしたい。"
    for token in tokenize(text):
        assert text[token.start:token.end] == token.text


def test_english_words_stay_whole_and_spaces_are_dropped():
    assert words("How much is   shipping?") == ["How", "much", "is", "shipping"]


def test_mixed_japanese_and_english():
    assert words("クレカのpaymentが通らない") == ["クレカ", "の", "payment", "が", "通ら", "ない"]


def test_lemma_normalises_half_width_and_full_width():
    lemmas = {t.text: t.lemma for t in tokenize("ｶｰﾄﾞとＶＩＳＡとshipping")}
    assert lemmas["ｶｰﾄﾞ"] == "カード"
    assert lemmas["ＶＩＳＡ"] == "visa"
    # Not Sudachi's katakana spelling (シッピング): English words stay English.
    assert lemmas["shipping"] == "shipping"


def test_emoji_are_kept_and_punctuation_dropped():
    assert words("ありがとう🙏！") == ["ありがとう", "🙏"]


def test_punctuation_only_message_still_has_a_token():
    assert words("？？") == ["？？"]


def test_empty_message_has_no_tokens():
    assert words("") == []
    assert words("   ") == []


def test_split_mode_is_configurable():
    assert words("国家公務員", split_mode="A") == ["国家", "公務", "員"]
    assert words("国家公務員", split_mode="B") == ["国家", "公務員"]
    assert words("国家公務員", split_mode="C") == ["国家公務員"]


def test_very_long_input_beyond_sudachis_limit():
    # Sudachi itself refuses more than 49,149 bytes; 150,000 bytes must still work.
    text = "送料はいくらですか。" * 5000
    assert len(text.encode("utf-8")) > 3 * MAX_CHUNK_BYTES
    tokens = tokenize(text)
    assert len(tokens) == 25000
    assert all(text[t.start:t.end] == t.text for t in tokens[::997])
    assert tokens[-1].end == len(text) - 1  # the last 。 is dropped
