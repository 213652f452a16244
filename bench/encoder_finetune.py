"""Contrastive fine-tuning of the encoder on the shop's intents, for bench/nlu_design.py to score.

Issue 12 asked whether fine-tuning e5 at training time (sentence-transformers' trainer, a
contrastive loss over the intents, word embeddings frozen) helps on both held-out sets. This
writes a fine-tuned copy of the encoder; `python -m bench.nlu_design --encoder OUT --skip-clinc`
then scores it exactly as the shipped encoder is scored. Losses:
- `triplet`: BatchAllTripletLoss, cosine distance, margin 0.25, batches grouped by label; the
  out-of-scope examples are one more label, so every intent is pushed away from them;
- `mnrl`: MultipleNegativesRankingLoss over (message, another message of its intent, an
  out-of-scope message): pulls an intent together and pushes the out-of-scope examples away
  from it, without pulling them together.
Not shipped: neither helped on both held-out sets (docs/benchmarks.md).

usage: .venv/bot/bin/python -m bench.encoder_finetune OUT [--loss triplet|mnrl] [--epochs 1]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from bench.nlu_design import MODEL, OOS, ROOT, read_nlu


def examples_for(loss_name, texts, labels, seed=0):
    from datasets import Dataset

    rng = random.Random(seed)
    prefixed = ["query: " + t for t in texts]
    if loss_name == "triplet":
        classes = sorted(set(labels))
        return Dataset.from_dict({"text": prefixed, "label": [classes.index(l) for l in labels]})
    by_intent = {}
    for text, label in zip(prefixed, labels):
        by_intent.setdefault(label, []).append(text)
    outside = by_intent.pop(OOS, [])
    anchors, positives, negatives = [], [], []
    for label, members in by_intent.items():
        for text in members:
            anchors.append(text)
            positives.append(rng.choice([m for m in members if m != text] or members))
            negatives.append(rng.choice(outside))
    return Dataset.from_dict({"anchor": anchors, "positive": positives, "negative": negatives})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--loss", choices=("triplet", "mnrl"), default="mnrl")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments, losses)
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    torch.manual_seed(0)
    texts, labels = read_nlu(sorted((ROOT / "data" / "nlu").glob("*.yml")))
    model = SentenceTransformer(MODEL, device="cpu")
    for parameter in model[0].auto_model.embeddings.word_embeddings.parameters():
        parameter.requires_grad = False  # 96 of its 118 M parameters
    if args.loss == "triplet":
        loss = losses.BatchAllTripletLoss(
            model, distance_metric=losses.BatchHardTripletLossDistanceFunction.cosine_distance, margin=0.25)
        sampler = BatchSamplers.GROUP_BY_LABEL
    else:
        loss = losses.MultipleNegativesRankingLoss(model)
        sampler = BatchSamplers.NO_DUPLICATES
    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(Path(args.out) / "checkpoints"), num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size, learning_rate=2e-5, warmup_steps=0.1,
        batch_sampler=sampler, save_strategy="no", logging_steps=10, seed=0, use_cpu=True, report_to=[],
    )
    started = time.perf_counter()
    trainer = SentenceTransformerTrainer(model=model, args=training_args,
                                         train_dataset=examples_for(args.loss, texts, labels), loss=loss)
    trainer.train()
    seconds = time.perf_counter() - started
    model.save(args.out)
    (Path(args.out) / "finetune.json").write_text(json.dumps(
        {"loss": args.loss, "epochs": args.epochs, "batch_size": args.batch_size, "seconds": round(seconds, 1),
         "examples": len(texts)}, indent=2))
    print(f"fine-tuned with {args.loss} in {seconds:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
