"""The sentence-embedding featurizer's int8 mode against full precision."""
import numpy as np
import pytest
import torch

from bot.e5_convert import CHECK_SENTENCES
from bot.embedding import (
    Int8Embedding, SentenceEmbeddingFeaturizer, embed_texts, load_sentence_model,
)


def test_int8_embedding_table_reconstructs_every_row():
    torch.manual_seed(0)
    table = torch.nn.Embedding(2000, 16)
    table.weight.data[5] = 0.0  # an all-zero row (padding) stays zero, no division by zero
    quantized = Int8Embedding(table.weight)
    ids = torch.tensor([[0, 5, 1999], [7, 7, 42]])
    exact, approx = table(ids), quantized(ids)
    assert approx.dtype == torch.float32 and approx.shape == exact.shape
    assert torch.all(approx[0, 1] == 0)
    # Rounding to 255 levels per row: at most half a step, i.e. max|row| / 254.
    step = table.weight.abs().amax(dim=1)[ids] / 254
    assert torch.all((approx - exact).abs() <= step.unsqueeze(-1) + 1e-7)
    assert quantized.codes.dtype == torch.int8


def test_int8_model_stays_close_to_full_precision(e5_model_dir):
    int8 = embed_texts(str(e5_model_dir), CHECK_SENTENCES, "query: ", quantize="int8")
    full = embed_texts(str(e5_model_dir), CHECK_SENTENCES, "query: ", quantize="none")
    cosines = (int8 * full).sum(axis=1)
    assert cosines.min() >= 0.95, cosines
    # Each sentence is still nearest to itself among the full-precision vectors.
    assert ((int8 @ full.T).argmax(axis=1) == np.arange(len(CHECK_SENTENCES))).all()


def test_int8_model_quantizes_all_but_the_down_projections(e5_model_dir):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    model = load_sentence_model(str(e5_model_dir), "int8")
    modules = list(model.modules())
    assert sum(isinstance(m, Int8Embedding) for m in modules) == 1  # the vocabulary, 250,037 rows
    assert not any(isinstance(m, torch.nn.Embedding) and m.num_embeddings > 1000 for m in modules)
    quantized = [m for m in modules if isinstance(m, DynamicLinear)]
    kept = [m for m in modules if type(m) is torch.nn.Linear]
    # 12 layers: query, key, value, attention output, intermediate in int8, and BERT's pooler;
    # the 1536 → 384 feed-forward output in float32.
    assert len(quantized) == 12 * 5 + 1 and len(kept) == 12
    assert all(m.in_features > m.out_features for m in kept)
    full = load_sentence_model(str(e5_model_dir), "none")
    assert not any(isinstance(m, (DynamicLinear, Int8Embedding)) for m in full.modules())


@pytest.mark.parametrize("quantize", ["int8", "none"])
def test_one_text_alone_equals_the_same_text_in_a_batch(e5_model_dir, quantize):
    texts = ["送料はいくらですか？", "How much is shipping to Okinawa?"]
    batch = embed_texts(str(e5_model_dir), texts, "query: ", quantize=quantize)
    for text, vector in zip(texts, batch):
        alone = embed_texts(str(e5_model_dir), [text], "query: ", quantize=quantize)[0]
        assert alone.shape == vector.shape and abs(np.linalg.norm(alone) - 1) < 1e-5
        assert float(alone @ vector) > 0.999


def test_an_unknown_quantize_mode_is_refused():
    with pytest.raises(ValueError, match="quantize must be one of int8, none"):
        SentenceEmbeddingFeaturizer.validate_config({"model": "m", "quantize": "int4"})
