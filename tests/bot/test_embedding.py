"""The sentence-embedding featurizer: ONNX Runtime against PyTorch, int8 against full precision,
and the server's ONNX path without PyTorch."""
import json
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.e5_convert import CHECK_SENTENCES
from bot.embedding import (
    OnnxEncoder, SentenceEmbeddingFeaturizer, TorchEncoder, embed_texts, load_encoder, pooling_mode,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def float32_vectors(e5_model_dir):
    return embed_texts(str(e5_model_dir), CHECK_SENTENCES, "query: ", quantize="none", backend="torch")


@pytest.fixture()
def folder_without_onnx(e5_model_dir, tmp_path):
    """The e5 folder as sentence-transformers knows it, without the ONNX export."""
    for entry in e5_model_dir.iterdir():
        if entry.name != "onnx":
            (tmp_path / entry.name).symlink_to(entry.resolve())
    return tmp_path


def test_int8_embedding_table_reconstructs_every_row():
    import torch

    from bot.torch_encoder import Int8Embedding

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


def test_the_default_is_onnx_runtime_in_int8(e5_model_dir):
    encoder = load_encoder(str(e5_model_dir))
    assert isinstance(encoder, OnnxEncoder)
    assert encoder.session.get_providers() == ["CPUExecutionProvider"]
    assert Path(encoder.session._model_path).name == "model_int8.onnx"


def test_onnx_float32_reproduces_pytorch_float32(e5_model_dir, float32_vectors):
    # Batched (quantize none batches, with padding): the exported graph keeps the mask.
    onnx = embed_texts(str(e5_model_dir), CHECK_SENTENCES, "query: ", quantize="none", backend="onnx")
    assert isinstance(load_encoder(str(e5_model_dir), "none", "onnx"), OnnxEncoder)
    assert np.abs(onnx - float32_vectors).max() < 1e-4


@pytest.mark.parametrize("backend, minimum", [("onnx", 0.995), ("torch", 0.98)])
def test_int8_stays_close_to_full_precision(e5_model_dir, float32_vectors, backend, minimum):
    # Measured on the 485 held-out messages (bench/encoder_bench.py): ONNX int8 0.9990 mean,
    # 0.9978 min; PyTorch int8 0.9955 mean, 0.9903 min.
    int8 = embed_texts(str(e5_model_dir), CHECK_SENTENCES, "query: ", quantize="int8", backend=backend)
    cosines = (int8 * float32_vectors).sum(axis=1)
    assert cosines.min() >= minimum, cosines
    # Each sentence is still nearest to itself among the full-precision vectors.
    assert ((int8 @ float32_vectors.T).argmax(axis=1) == np.arange(len(CHECK_SENTENCES))).all()


def test_onnx_int8_quantizes_all_but_the_down_projections(e5_model_dir):
    import onnx

    graph = onnx.load(str(e5_model_dir / "onnx" / "model_int8.onnx"), load_external_data=False).graph
    shapes = {init.name: list(init.dims) for init in graph.initializer}
    ops = [node.op_type for node in graph.node]
    # 12 layers: query, key, value, attention output and intermediate in int8 ...
    assert ops.count("MatMulInteger") == 12 * 5
    # ... the 1536 -> 384 feed-forward output in float32, as are the attention's own products.
    float_weights = [shapes[n.input[1]] for n in graph.node if n.op_type == "MatMul" and n.input[1] in shapes]
    assert float_weights == [[1536, 384]] * 12
    # The vocabulary table is stored in 8 bits; no float copy of it is left.
    tables = [shape for shape in shapes.values() if shape[:1] == [250037]]
    assert len(tables) == 1
    vocabulary = next(i for i in graph.initializer if list(i.dims) == [250037, 384])
    assert vocabulary.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)


def test_pytorch_int8_quantizes_all_but_the_down_projections(e5_model_dir):
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    from bot.torch_encoder import Int8Embedding

    model = load_encoder(str(e5_model_dir), "int8", "torch").model
    modules = list(model.modules())
    assert sum(isinstance(m, Int8Embedding) for m in modules) == 1  # the vocabulary, 250,037 rows
    assert not any(isinstance(m, torch.nn.Embedding) and m.num_embeddings > 1000 for m in modules)
    quantized = [m for m in modules if isinstance(m, DynamicLinear)]
    kept = [m for m in modules if type(m) is torch.nn.Linear]
    # 12 layers: query, key, value, attention output, intermediate in int8, and BERT's pooler;
    # the 1536 → 384 feed-forward output in float32.
    assert len(quantized) == 12 * 5 + 1 and len(kept) == 12
    assert all(m.in_features > m.out_features for m in kept)
    full = load_encoder(str(e5_model_dir), "none", "torch").model
    assert not any(isinstance(m, (DynamicLinear, Int8Embedding)) for m in full.modules())


@pytest.mark.parametrize("backend", ["onnx", "torch"])
@pytest.mark.parametrize("quantize", ["int8", "none"])
def test_one_text_alone_equals_the_same_text_in_a_batch(e5_model_dir, quantize, backend):
    texts = ["送料はいくらですか？", "How much is shipping to Okinawa?"]
    batch = embed_texts(str(e5_model_dir), texts, "query: ", quantize=quantize, backend=backend)
    for text, vector in zip(texts, batch):
        alone = embed_texts(str(e5_model_dir), [text], "query: ", quantize=quantize, backend=backend)[0]
        assert alone.shape == vector.shape and abs(np.linalg.norm(alone) - 1) < 1e-5
        assert float(alone @ vector) > 0.999


SERVER_PATH = """
import json, sys
from rasa.shared.nlu.training_data.message import Message
from bot.embedding import SentenceEmbeddingFeaturizer
config = {**SentenceEmbeddingFeaturizer.get_default_config(), **json.loads(sys.argv[1])}
featurizer = SentenceEmbeddingFeaturizer(config, "embedding")
message = Message(data={"text": "送料はいくらですか？"})
featurizer.process([message])
_, sentence = message.get_dense_features("text")
print(json.dumps({"dimension": sentence.features.shape[-1],
                  "loaded": [m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules]}))
"""


def featurize_in_a_fresh_process(config):
    """What a Rasa server's process loads to featurize a message with this config."""
    result = subprocess.run([sys.executable, "-c", SERVER_PATH, json.dumps(config)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600,
                            env={"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
                                 "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_server_path_does_not_load_pytorch(e5_model_dir):
    onnx = featurize_in_a_fresh_process({"model": str(e5_model_dir)})
    assert onnx == {"dimension": 384, "loaded": []}
    # The same check sees PyTorch where it is used.
    torch = featurize_in_a_fresh_process({"model": str(e5_model_dir), "backend": "torch"})
    assert torch["dimension"] == 384 and {"torch", "sentence_transformers"} <= set(torch["loaded"])


def test_a_folder_without_onnx_runs_on_pytorch_and_says_why(folder_without_onnx, float32_vectors, caplog):
    with caplog.at_level(logging.WARNING, logger="bot.embedding"):
        encoder = load_encoder(str(folder_without_onnx), "none", "onnx")
    assert isinstance(encoder, TorchEncoder)
    assert "has no onnx/model.onnx" in caplog.text
    vectors = embed_texts(str(folder_without_onnx), CHECK_SENTENCES, "query: ", quantize="none")
    assert np.abs(vectors - float32_vectors).max() < 1e-5
    # The training cache knows which backend made the features.
    addon = SentenceEmbeddingFeaturizer.fingerprint_addon({"model": str(folder_without_onnx), "quantize": "none"})
    assert addon.endswith(" none torch")


def test_the_cache_key_names_the_backend_that_runs(e5_model_dir):
    onnx = SentenceEmbeddingFeaturizer.fingerprint_addon({"model": str(e5_model_dir), "quantize": "int8"})
    torch = SentenceEmbeddingFeaturizer.fingerprint_addon(
        {"model": str(e5_model_dir), "quantize": "int8", "backend": "torch"})
    assert onnx.endswith(" int8 onnx") and torch.endswith(" int8 torch")


def test_a_model_name_is_not_an_onnx_folder():
    assert "is not a model folder" in OnnxEncoder.unsupported("intfloat/multilingual-e5-small", "int8")


def test_pooling_is_read_from_the_folder(tmp_path):
    assert pooling_mode(tmp_path) == "mean"  # no modules.json: sentence-transformers' default
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (tmp_path / "1_Pooling").mkdir()
    config = tmp_path / "1_Pooling" / "config.json"
    (tmp_path / "onnx").mkdir()  # only their presence matters to OnnxEncoder.unsupported
    (tmp_path / "onnx" / "model_int8.onnx").touch()
    (tmp_path / "tokenizer.json").touch()
    # sentence-transformers 5 writes one `pooling_mode`; older folders one flag per mode.
    for written, mode in (({"pooling_mode": "cls"}, "cls"), ({"pooling_mode": ["max"]}, "max"),
                          ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, "cls"),
                          ({"pooling_mode_mean_tokens": False}, "mean")):
        config.write_text(json.dumps(written))
        assert pooling_mode(tmp_path) == mode, written
        assert OnnxEncoder.unsupported(str(tmp_path), "int8") is None
    for written, named in (({"pooling_mode": ["cls", "mean"]}, "cls + mean"),
                           ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": True}, "cls + mean"),
                           ({"pooling_mode": "weightedmean"}, "weightedmean"),
                           ({"pooling_mode_lasttoken": True}, "lasttoken")):
        config.write_text(json.dumps(written))
        with pytest.raises(ValueError, match=re.escape(f"its pooling ({named})")):
            pooling_mode(tmp_path)
        assert f"its pooling ({named})" in OnnxEncoder.unsupported(str(tmp_path), "int8")


def test_the_e5_folder_pools_by_the_mean(e5_model_dir):
    assert pooling_mode(e5_model_dir) == "mean"


def test_onnx_export_of_another_model(e5_model_dir, tmp_path):
    """bot.onnx_export.export on a small BERT with e5's tokenizer, as the lead would on a
    fine-tuned encoder: both precisions, close to PyTorch, the down-projections kept float."""
    import onnx
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    from bot.onnx_export import export

    torch.manual_seed(0)
    bert = tmp_path / "bert"
    BertModel(BertConfig(vocab_size=250037, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128)).save_pretrained(bert)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(e5_model_dir / name, bert / name)
    folder = tmp_path / "small"
    transformer = models.Transformer(str(bert), max_seq_length=128)
    SentenceTransformer(modules=[transformer, models.Pooling(32, "mean"), models.Normalize()]).save(str(folder))

    assert export(folder, quantize="int8") == folder / "onnx" / "model_int8.onnx"
    assert (folder / "onnx" / "model.onnx").is_file()
    texts = ["送料はいくらですか？", "How much is shipping to Okinawa? " * 3]
    reference = embed_texts(str(folder), texts, "query: ", quantize="none", backend="torch")
    exported = embed_texts(str(folder), texts, "query: ", quantize="none", backend="onnx")
    assert isinstance(load_encoder(str(folder), "none", "onnx"), OnnxEncoder)
    assert np.abs(exported - reference).max() < 1e-4
    int8 = embed_texts(str(folder), texts, "query: ", quantize="int8", backend="onnx")
    assert (int8 * reference).sum(axis=1).min() > 0.9
    graph = onnx.load(str(folder / "onnx" / "model_int8.onnx"), load_external_data=False).graph
    assert [n.op_type for n in graph.node].count("MatMulInteger") == 2 * 5


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="quantize must be one of int8, none"):
        SentenceEmbeddingFeaturizer.validate_config({"model": "m", "quantize": "int4"})
    with pytest.raises(ValueError, match="backend must be one of onnx, torch"):
        SentenceEmbeddingFeaturizer.validate_config({"model": "m", "backend": "openvino"})
