"""Our components' code is part of Rasa's training-cache key (bot/fingerprint.py)."""
import hashlib
from pathlib import Path

import bot.classifier
from bot.classifier import FAQClassifier
from bot.embedding import SentenceEmbeddingFeaturizer
from bot.fingerprint import source_fingerprint
from bot.language import LanguageDetector
from bot.tokenizer import SudachiTokenizer


def test_the_fingerprint_is_the_hash_of_the_source():
    source = Path(bot.classifier.__file__).read_bytes()
    assert source_fingerprint("bot.classifier") == hashlib.sha256(source).hexdigest()[:16]
    assert source_fingerprint("bot.classifier") != source_fingerprint("bot.tokenizer")


def test_every_component_adds_its_code_to_the_cache_key():
    for component, modules in ((SudachiTokenizer, ["bot.tokenizer"]), (FAQClassifier, ["bot.classifier", "bot.out_of_scope", "intents"]),
                               # The embedding's tokenizer is code of its own (bot/unigram.py).
                               (SentenceEmbeddingFeaturizer, ["bot.embedding", "bot.unigram"])):
        addon = component.fingerprint_addon(component.get_default_config())
        assert addon and source_fingerprint(*modules) in addon
    # The language rule lives in the root languages.py: a change there retrains too.
    assert LanguageDetector.fingerprint_addon({}) == source_fingerprint("bot.language", "languages")


def test_the_embedding_key_names_the_model_and_its_precision(e5_model_dir):
    int8 = SentenceEmbeddingFeaturizer.fingerprint_addon({"model": str(e5_model_dir), "quantize": "int8"})
    full = SentenceEmbeddingFeaturizer.fingerprint_addon({"model": str(e5_model_dir), "quantize": "none"})
    assert int8 != full
    assert str(e5_model_dir.resolve()) in int8  # the converted folder's real, hashed name
