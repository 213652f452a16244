"""Exports a sentence-transformers model's transformer to ONNX and quantises it to int8, so the
bot's server runs the encoder on ONNX Runtime without PyTorch (bot/embedding.py).

Ours instead of sentence-transformers' `backend="onnx"`: that needs optimum-onnx, which requires
transformers<4.58, and our lock pins transformers 5.3.0. The export is torch.onnx's; the
quantisation onnxruntime's own `quantize_dynamic`. Writes, in the model's folder:
- onnx/model.onnx: float32, inputs input_ids and attention_mask [batch, sequence], output
  last_hidden_state [batch, sequence, dim]; pooling stays outside (bot/embedding.py reads the
  folder's Pooling config);
- onnx/model_int8.onnx: int8 weights with activations quantised per call, for every linear layer
  but the feed-forward down-projections (as bot.embedding's torch path, and measured the same
  way: cosine to float32 on the shop's test messages 0.9989 mean without them in int8, 0.9894
  with), and the vocabulary table.

Usage: python -m bot.onnx_export MODEL_DIR [--out-dir DIR] [--quantize int8|none] [--check]
"""
from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path
from typing import List, Optional, Text

logger = logging.getLogger(__name__)

FLOAT_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model_int8.onnx"
ONNX_FILES = {"none": FLOAT_FILE, "int8": INT8_FILE}
OPSET = 17
# Embedding tables with more rows than this (a vocabulary, not positions) are stored in int8.
VOCABULARY_ROWS = 1000


def export(model_dir, out_dir=None, quantize: Text = "int8") -> Path:
    """Writes onnx/model.onnx (and onnx/model_int8.onnx when quantize is "int8") into out_dir,
    by default the model's own folder. Returns the file the given precision runs."""
    import torch
    from sentence_transformers import SentenceTransformer

    if quantize not in ONNX_FILES:
        raise ValueError(f"quantize must be one of {', '.join(ONNX_FILES)}, not {quantize!r}")
    out_dir = Path(out_dir or model_dir)
    (out_dir / "onnx").mkdir(parents=True, exist_ok=True)
    # Eager attention: a plain graph of MatMul and Softmax, which ONNX Runtime's own
    # optimisations and the int8 quantiser both know.
    model = SentenceTransformer(str(model_dir), device="cpu", model_kwargs={"attn_implementation": "eager"})
    model.eval()
    transformer = model[0].auto_model

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    # Two rows, one padded: the traced graph must keep the mask's arithmetic, not a constant.
    ids = torch.tensor([[0, 10, 20, 30, 2], [0, 10, 20, 2, 1]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]], dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.no_grad():
        # torch 2.12 marks the TorchScript exporter deprecated; it still ships, and exports
        # this model in seconds where the dynamo exporter needs onnxscript's rewriting.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState(transformer), (ids, mask), str(out_dir / FLOAT_FILE),
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=OPSET, dynamo=False, do_constant_folding=True,
        )
    logger.info("Exported %s", out_dir / FLOAT_FILE)
    if quantize == "int8":
        quantize_int8(out_dir / FLOAT_FILE, out_dir / INT8_FILE)
        logger.info("Quantised %s", out_dir / INT8_FILE)
    return out_dir / ONNX_FILES[quantize]


def quantize_int8(source: Path, target: Path, down_projections: bool = False) -> None:
    """onnxruntime's dynamic quantisation (int8 weights, one scale per output channel;
    activations quantised per call) of the MatMuls with a constant weight, but the
    down-projections (a weight with more rows, inputs, than columns), and of the vocabulary
    table's Gather. Per-channel scales measured closer to float32 than one per tensor (cosine
    0.9989 against 0.9985 mean on the shop's test messages). down_projections=True quantises
    those too (bench/encoder_bench.py measures what that costs)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    shapes = {init.name: list(init.dims) for init in graph.initializer}
    excluded = [node.name for node in graph.node if excluded_from_int8(node, shapes)
                and not (down_projections and node.op_type == "MatMul")]
    quantize_dynamic(
        str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
        op_types_to_quantize=["MatMul", "Gather"], nodes_to_exclude=excluded,
        # Only a weight: the attention's activation-by-activation MatMuls stay float.
        extra_options={"MatMulConstBOnly": True},
    )


def excluded_from_int8(node, shapes) -> bool:
    """Whether quantize_int8 keeps this node in float32."""
    if node.op_type == "MatMul":
        weight = shapes.get(node.input[1])
        return weight is not None and len(weight) == 2 and weight[0] > weight[1]
    if node.op_type == "Gather":
        table = shapes.get(node.input[0])
        return table is None or table[0] <= VOCABULARY_ROWS
    return False


def check(model_dir, sentences: Optional[List[Text]] = None, prefix: Text = "query: ") -> dict:
    """Cosine between the folder's ONNX vectors (each precision it has) and float32 PyTorch's."""
    from bot.e5_convert import CHECK_SENTENCES
    from bot.embedding import embed_texts

    sentences = list(sentences or CHECK_SENTENCES)
    reference = embed_texts(str(model_dir), sentences, prefix, quantize="none", backend="torch")
    cosines = {}
    for quantize, name in ONNX_FILES.items():
        if (Path(model_dir) / name).is_file():
            vectors = embed_texts(str(model_dir), sentences, prefix, quantize=quantize, backend="onnx")
            cosines[quantize] = (vectors * reference).sum(axis=1)
    return cosines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--out-dir", type=Path, help="default: the model's folder")
    parser.add_argument("--quantize", choices=sorted(ONNX_FILES), default="int8")
    parser.add_argument("--check", action="store_true",
                        help="compare with PyTorch float32 vectors; fail below the minimum cosines")
    parser.add_argument("--min-cosine-float", type=float, default=0.9999)
    parser.add_argument("--min-cosine-int8", type=float, default=0.99)
    args = parser.parse_args(argv)
    # Ours at INFO; onnxruntime's quantiser logs a line per node at INFO.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("bot").setLevel(logging.INFO)
    logger.setLevel(logging.INFO)  # "__main__" under python -m

    export(args.model_dir, args.out_dir, args.quantize)
    if args.check:
        if args.out_dir and args.out_dir.resolve() != args.model_dir.resolve():
            parser.error("--check reads the ONNX files from the model's folder: leave out --out-dir")
        minimum = {"none": args.min_cosine_float, "int8": args.min_cosine_int8}
        failed = False
        for quantize, cosines in check(args.model_dir).items():
            logger.info("ONNX %s against PyTorch float32: cosine min %.5f, mean %.5f over %d sentences",
                        quantize, cosines.min(), cosines.mean(), len(cosines))
            if cosines.min() < minimum[quantize]:
                logger.error("ONNX check failed: %s min cosine %.5f < %.4f", quantize, cosines.min(), minimum[quantize])
                failed = True
        if failed:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
