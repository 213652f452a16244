"""Evaluates a trained model on any Rasa NLU YAML file, per language.

Examples labelled `nlu_fallback` are out of scope. Prints, for Japanese and English
separately, in-scope accuracy, out-of-scope recall (out-of-scope messages that ended as
`nlu_fallback`) and the false-fallback rate (in-scope messages that ended as
`nlu_fallback`); the JSON report lists every example as {text, expected, predicted,
confidence, reason}, the reason being why it fell back, plus the summary and a per-intent
breakdown, for each test set given.

usage: python -m bot.evaluate --model models/current.tar.gz --nlu FILE [FILE...] --report JSON
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Text

from intents import NLU_FALLBACK as FALLBACK
from languages import LANGUAGES, detect_language


def read_examples(path: Path) -> List[Dict[Text, Text]]:
    """[{text, expected}] from a Rasa NLU YAML file, with errors that name the file."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [{"text": m.get("text"), "expected": m.get("intent")} for m in data.intent_examples]


def summarise(rows: List[Dict]) -> Dict[Text, Dict[Text, float]]:
    summary = {}
    for language in LANGUAGES:
        subset = [r for r in rows if r["language"] == language]
        in_scope = [r for r in subset if r["expected"] != FALLBACK]
        out_of_scope = [r for r in subset if r["expected"] == FALLBACK]
        summary[language] = {
            "in_scope_examples": len(in_scope),
            "out_of_scope_examples": len(out_of_scope),
            "in_scope_accuracy": _rate(in_scope, lambda r: r["predicted"] == r["expected"]),
            "out_of_scope_recall": _rate(out_of_scope, lambda r: r["predicted"] == FALLBACK),
            "false_fallback_rate": _rate(in_scope, lambda r: r["predicted"] == FALLBACK),
            "wrong_answers_to_out_of_scope": sum(r["predicted"] != FALLBACK for r in out_of_scope),
        }
    return summary


def per_intent(rows: List[Dict]) -> Dict[Text, Dict[Text, float]]:
    groups = defaultdict(list)
    for row in rows:
        groups[row["expected"]].append(row)
    return {
        intent: {
            "examples": len(group),
            "accuracy": _rate(group, lambda r: r["predicted"] == r["expected"]),
            "confused_with": dict(sorted(
                ((p, sum(r["predicted"] == p for r in group)) for p in {r["predicted"] for r in group} - {intent}),
                key=lambda kv: -kv[1])),
        }
        for intent, group in sorted(groups.items())
    }


def _rate(rows, predicate) -> float:
    return round(sum(1 for r in rows if predicate(r)) / len(rows), 4) if rows else 0.0


def parse_in_batches(model: Path, texts: Sequence[Text], batch_size: int = 64) -> Iterator:
    """The parsed Rasa Message of every text, through the model's NLU graph in batches: the
    sentence embeddings of a batch are computed at once, several times faster than one message
    at a time on a CPU. Same components, same results as Rasa's own parsing (tests/editors/bot
    checks)."""
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker

    processor = Agent.load(str(model)).processor
    tracker = DialogueStateTracker.from_events("evaluate", [])
    target = processor.model_metadata.nlu_target
    for start in range(0, len(texts), batch_size):
        yield from processor.graph_runner.run(
            inputs={PLACEHOLDER_MESSAGE: [UserMessage(t, sender_id="evaluate") for t in texts[start:start + batch_size]],
                    PLACEHOLDER_TRACKER: tracker},
            targets=[target])[target]


def predict(model: Path, examples: List[Dict[Text, Text]], batch_size: int = 64) -> List[Dict]:
    """One row {text, expected, predicted, confidence, language} per example."""
    rows = []
    for example, message in zip(examples, parse_in_batches(model, [e["text"] for e in examples], batch_size)):
        intent = message.get("intent") or {}
        out_of_scope = message.get("out_of_scope") or {}
        rows.append({
            "text": example["text"], "expected": example["expected"], "predicted": intent.get("name"),
            "confidence": round(float(intent.get("confidence") or 0.0), 4),
            "language": detect_language(example["text"]) or "ja",
            # Why it fell back (the classifier's words), or None; the out-of-scope score.
            "reason": out_of_scope.get("reason"),
            "score": out_of_scope.get("score"),
        })
    return rows


def print_table(summary: Dict, out=sys.stdout) -> None:
    print(f"{'language':9} {'in-scope accuracy':>18} {'out-of-scope recall':>20} {'false fallback':>15}", file=out)
    for language, s in summary.items():
        print(f"{language:9} {s['in_scope_accuracy']*100:17.1f}% {s['out_of_scope_recall']*100:19.1f}% "
              f"{s['false_fallback_rate']*100:14.1f}%   ({s['in_scope_examples']} in scope, "
              f"{s['out_of_scope_examples']} out of scope)", file=out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/current.tar.gz"))
    parser.add_argument("--nlu", type=Path, nargs="+", required=True, help="one or more test sets, scored each apart")
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    missing = [path for path in args.nlu if not path.is_file()]
    if missing:
        print(f"evaluate: no such file: {missing[0]}", file=sys.stderr)
        return 2
    if not args.model.is_file():
        print(f"evaluate: no trained model at {args.model}; run `make train` first", file=sys.stderr)
        return 2
    sets = {}
    for path in args.nlu:
        examples = read_examples(path)
        if not examples:
            print(f"evaluate: {path} has no intent examples", file=sys.stderr)
            return 2
        rows = predict(args.model, examples)
        sets[str(path)] = {"summary": summarise(rows), "per_intent": per_intent(rows), "examples": rows}
    report = {"model": str(args.model), "sets": sets}
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    for path, result in sets.items():
        print(path)
        print_table(result["summary"])
    print(f"Report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
