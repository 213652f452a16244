"""The compact Unigram tokenizer gives exactly the ids of the model's own tokenizer."""
import gc
import json
import random
import weakref

import numpy as np
import pytest
import yaml

from bot.unigram import UnigramTokenizer, unsupported

SPECIAL = ["<s>", "</s>", "<mask>", "<pad>", "<unk>", " <s> ", "<s", "mask>"]
# Scripts a shop's customers type, and some they rarely do: unknown characters (private
# use, Thai), control characters the normaliser drops, combining marks, odd spaces.
RANGES = [(0x20, 0x7E), (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF), (0xAC00, 0xD7A3),
          (0x0400, 0x04FF), (0x1F300, 0x1F6FF), (0x00, 0x1F), (0x2000, 0x206F), (0xE000, 0xE0FF),
          (0x0300, 0x036F), (0x0E00, 0x0E7F)]
EDGE_CASES = ["", " ", "   ", "\t", "\n", "\u3000", "<s>", "<s><s>", "a<mask>b", "ｸﾞﾚｰ", "ｶﾞｲﾄﾞ",
              "e\u0301", "👍🏻", "\ue000\ue001 x \ue002", "query: 送料", "送料" * 600, "x" * 3000]


@pytest.fixture(scope="module")
def tokenizers(e5_model_dir):
    from transformers import AutoTokenizer

    original = AutoTokenizer.from_pretrained(str(e5_model_dir))
    compact = UnigramTokenizer.from_spec(json.loads(original.backend_tokenizer.to_str()), 512)
    assert compact is not None
    return original, compact


def project_texts(root):
    texts = []
    for path in sorted((root / "data" / "nlu").glob("*.yml")) + [root / "data" / "tests" / "nlu_test.yml"]:
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            texts += ["query: " + line.strip()[2:] for line in block.get("examples", "").splitlines()
                      if line.strip().startswith("- ")]
    return texts


def random_texts(count, seed=0):
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        text = "".join(chr(rng.randint(*rng.choice(RANGES))) for _ in range(rng.randint(0, 40)))
        if rng.random() < 0.2:
            at = rng.randint(0, len(text))
            text = text[:at] + rng.choice(SPECIAL) + text[at:]
        texts.append(text)
    return texts


def test_same_ids_as_the_model_tokenizer(tokenizers, project_root):
    original, compact = tokenizers
    texts = project_texts(project_root) + random_texts(3000) + EDGE_CASES
    assert len(texts) > 6000
    mismatches = [(text, ours, theirs) for text in texts
                  for ours, theirs in [(compact.encode(text), original(text, truncation=True, max_length=512)["input_ids"])]
                  if ours != theirs]
    assert not mismatches, mismatches[:5]


def test_unknown_characters_fuse_into_one_unk(tokenizers):
    original, compact = tokenizers
    # Three characters the vocabulary has no piece for (Linear B).
    unknown = [chr(cp) for cp in range(0x10000, 0x10080) if chr(cp) not in compact.ids][:3]
    text = "x " + "".join(unknown) + " y"
    ids = compact.encode(text)
    assert len(unknown) == 3 and ids.count(compact.unk_id) == 1
    assert ids == original(text)["input_ids"]


def test_long_text_is_cut_to_the_model_length(tokenizers):
    _, compact = tokenizers
    ids = compact.encode("送料はいくらですか" * 400)
    assert len(ids) == 512 and ids[0] == compact.bos_id and ids[-1] == compact.eos_id


def test_features_pad_on_the_right(tokenizers):
    original, compact = tokenizers
    texts = ["query: 送料", "query: how long does delivery to Hokkaido take?"]
    ours = compact.features(texts)
    theirs = original(texts, padding=True, return_tensors="pt")
    assert ours["input_ids"].tolist() == theirs["input_ids"].tolist()
    assert ours["attention_mask"].tolist() == theirs["attention_mask"].tolist()


@pytest.mark.parametrize("change, reason", [
    (lambda s: s["model"].update(type="BPE"), "not Unigram"),
    (lambda s: s["model"].update(byte_fallback=True), "byte fallback"),
    (lambda s: s["added_tokens"][0].update(lstrip=True), "strips"),
    (lambda s: s.update(post_processor={"type": "ByteLevel"}), "post-processor"),
])
def test_tokenizers_it_cannot_reproduce_are_left_alone(tokenizers, change, reason):
    original, _ = tokenizers
    spec = json.loads(original.backend_tokenizer.to_str())
    change(spec)
    assert reason in unsupported(spec)
    assert UnigramTokenizer.from_spec(spec, 512) is None


def test_the_embedding_model_uses_it_and_lets_the_original_go(e5_model_dir):
    from sentence_transformers import SentenceTransformer

    from bot.embedding import embed_texts
    from bot.torch_encoder import use_compact_tokenizer

    model = SentenceTransformer(str(e5_model_dir), device="cpu")
    original = weakref.ref(model[0].tokenizer)
    texts = ["query: 送料はいくらですか", "query: ｸﾚｼﾞｯﾄｶｰﾄﾞ使える？", "query: can I return <s> this?"]
    expected = model.encode(texts, normalize_embeddings=True)
    assert use_compact_tokenizer(model)
    gc.collect()
    assert original() is None  # the 279 MB vocabulary trie is freed
    assert model.compact_tokenizer is not None
    # The featurizer's own paths (bot.embedding; PyTorch and ONNX Runtime) give the vectors
    # encode() gave before.
    for backend in ("torch", "onnx"):
        ours = embed_texts(str(e5_model_dir), [t[len("query: "):] for t in texts], "query: ", quantize="none",
                           backend=backend)
        assert np.abs(ours - expected).max() < 1e-5, backend
