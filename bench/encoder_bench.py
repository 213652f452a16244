"""The encoder's backends and precisions: milliseconds per message and closeness to float32.

multilingual-e5-small on PyTorch (float32; int8 as bot.torch_encoder.quantize_int8 makes it) and
on ONNX Runtime (float32; int8 as shipped, bot.onnx_export.quantize_int8; int8 with the
down-projections too; the shipped int8 on 2 threads). One message at a time, as the bot embeds a
customer's turn, on one thread unless said; the messages are the held-out set's. The variants
take turns message by message, so a busy machine slows them alike. Cosines are to PyTorch
float32's vectors of the same messages. Writes bench/results/encoder.json and prints a table.

Usage: python -m bench.encoder_bench [--messages N]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the bot runs; before torch is imported

import numpy as np  # noqa: E402

from bench.nlu_bench import ROOT, shop  # noqa: E402
from bot.embedding import MODEL_ENV, OnnxEncoder, TorchEncoder  # noqa: E402
from bot.onnx_export import FLOAT_FILE, INT8_FILE, quantize_int8  # noqa: E402

# TSUNAGI_EMBEDDING_MODEL: another e5-small folder with its ONNX export (as the bot reads it).
MODEL = Path(os.environ.get(MODEL_ENV) or ROOT / "models" / "multilingual-e5-small")
RESULTS = ROOT / "bench" / "results" / "encoder.json"
REFERENCE = "PyTorch float32"


def variants(scratch: Path):
    """name -> encoder. The all-layers int8 ONNX file is made in `scratch` (the model folder's
    own files are left as setup made them)."""
    if not (MODEL / INT8_FILE).is_file():
        raise SystemExit(f"{MODEL} has no {INT8_FILE}: run `make model`")
    every_layer = scratch / "every-layer"
    (every_layer / "onnx").mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "sentence_bert_config.json", "modules.json", "1_Pooling"):
        (every_layer / name).symlink_to(MODEL / name)
    quantize_int8(MODEL / FLOAT_FILE, every_layer / INT8_FILE, down_projections=True)
    return {
        REFERENCE: TorchEncoder(str(MODEL), "none"),
        "PyTorch int8 (before)": TorchEncoder(str(MODEL), "int8"),
        "ONNX Runtime float32": OnnxEncoder(str(MODEL), "none"),
        "ONNX Runtime int8, every linear layer": OnnxEncoder(str(every_layer), "int8"),
        "ONNX Runtime int8 (shipped)": OnnxEncoder(str(MODEL), "int8"),
        "ONNX Runtime int8 (shipped), 2 threads": OnnxEncoder(str(MODEL), "int8", threads=2),
    }


def measure(encoders, texts):
    """Vectors and per-message wall milliseconds for every encoder, taking turns."""
    names = list(encoders)
    for text in texts[:10]:  # warm-up
        for name in names:
            encoders[name].embed([text])
    vectors = {name: [] for name in names}
    times = {name: [] for name in names}
    for number, text in enumerate(texts):
        turn = names[number % len(names):] + names[:number % len(names)]
        for name in turn:
            started = time.perf_counter()
            vectors[name].append(encoders[name].embed([text]))
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: np.concatenate(vectors[name]) for name in names}, times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=0, help="the first N held-out messages (default: all)")
    args = parser.parse_args(argv)
    texts = ["query: " + text for text, _ in shop()["test"]]
    texts = texts[: args.messages] if args.messages else texts
    with tempfile.TemporaryDirectory() as scratch:
        encoders = variants(Path(scratch))
        vectors, times = measure(encoders, texts)
    results = {}
    for name in encoders:
        cosines = (vectors[name] * vectors[REFERENCE]).sum(axis=1)
        results[name] = {"p50_ms": round(float(np.percentile(times[name], 50)), 2),
                         "p99_ms": round(float(np.percentile(times[name], 99)), 2),
                         "cosine_to_float32_mean": round(float(cosines.mean()), 5),
                         "cosine_to_float32_min": round(float(cosines.min()), 5)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"messages": len(texts), "model": os.path.basename(os.path.realpath(MODEL)),
                                   "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                                   "variants": results}, indent=2))
    print(f"{len(texts)} held-out messages, one at a time; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| encoder | ms per message p50 / p99 | cosine to PyTorch float32, mean / min |")
    print("|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['p50_ms']} / {r['p99_ms']} | {r['cosine_to_float32_mean']} / {r['cosine_to_float32_min']} |")


if __name__ == "__main__":
    main()
