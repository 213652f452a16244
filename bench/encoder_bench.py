"""The encoder's precision: milliseconds per message and closeness to float32.

multilingual-e5-small in float32, with every linear layer in int8, and as shipped
(bot.embedding.quantize_int8: int8 but the feed-forward down-projections). One message at a time
through the modules, as the bot embeds a customer's turn, on one PyTorch thread; the messages are
the held-out set's. Writes bench/results/encoder.json and prints a table.

Usage: python -m bench.encoder_bench [--messages N]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the bot runs; before torch is imported

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.nlu_bench import ROOT, shop  # noqa: E402
from bot.embedding import _embed, quantize_int8  # noqa: E402

MODEL = ROOT / "models" / "multilingual-e5-small"
RESULTS = ROOT / "bench" / "results" / "encoder.json"


def load(variant: str):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(MODEL), device="cpu")
    model.eval()
    if variant == "int8, every linear layer":
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    elif variant == "int8 but the down-projections (shipped)":
        quantize_int8(model)
    return model


def measure(model, texts):
    for text in texts[:10]:  # warm-up
        _embed(model, [text])
    vectors, times = [], []
    for text in texts:
        started = time.perf_counter()
        vectors.append(_embed(model, [text]))
        times.append((time.perf_counter() - started) * 1000)
    return np.concatenate(vectors), times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args(argv)
    texts = ["query: " + text for text, _ in shop()["test"]][: args.messages]
    results, reference = {}, None
    for variant in ("float32", "int8, every linear layer", "int8 but the down-projections (shipped)"):
        vectors, times = measure(load(variant), texts)
        if reference is None:
            reference = vectors
        cosines = (vectors * reference).sum(axis=1)
        results[variant] = {"p50_ms": round(float(np.percentile(times, 50)), 1),
                            "p99_ms": round(float(np.percentile(times, 99)), 1),
                            "cosine_to_float32_mean": round(float(cosines.mean()), 4),
                            "cosine_to_float32_min": round(float(cosines.min()), 4)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"messages": len(texts), "threads": torch.get_num_threads(),
                                   "variants": results}, indent=2))
    print("| encoder | ms per message p50 / p99 | cosine to float32, mean / min |")
    print("|---|---|---|")
    for variant, r in results.items():
        print(f"| {variant} | {r['p50_ms']} / {r['p99_ms']} | {r['cosine_to_float32_mean']} / {r['cosine_to_float32_min']} |")


if __name__ == "__main__":
    main()
