"""Category accuracy and entity precision/recall of pipeline/classify.py on the labelled corpus.

    python bench/classify_bench.py [--corpus tests/data/classify_corpus.yaml] [--verbose]

Goals (issue 4): category accuracy >= 95%, entity F1 >= 95%. Entities are compared as sets per
listing: each price (amount, currency, unit), the quantity, and each contact (kind, value).
Also prints listings classified per second (one core), as a same-run baseline for the cost.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.classify import classify, extract_entities

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "classify_corpus.yaml"


def expected_entities(item: dict[str, Any]) -> set[tuple[Any, ...]]:
    found: set[tuple[Any, ...]] = {("price", float(a), c, u) for a, c, u in item.get("prices") or []}
    if item.get("quantity") is not None:
        found.add(("quantity", int(item["quantity"])))
    found |= {("contact", k, str(v)) for k, v in item.get("contacts") or []}
    return found


def actual_entities(title: str, text: str) -> set[tuple[Any, ...]]:
    e = extract_entities(f"{title}\n{text}")
    found: set[tuple[Any, ...]] = {("price", p.amount, p.currency, p.unit) for p in e.prices}
    if e.quantity is not None:
        found.add(("quantity", e.quantity))
    found |= {("contact", c.kind, c.value) for c in e.contacts}
    return found


def evaluate(corpus: list[dict[str, Any]], verbose: bool = False) -> dict[str, float]:
    correct = 0
    tp = fp = fn = 0
    confusion: Counter[tuple[str, str]] = Counter()
    for item in corpus:
        got = classify(item["title"], item["text"]).category
        confusion[(item["category"], got)] += 1
        correct += got == item["category"]
        want, have = expected_entities(item), actual_entities(item["title"], item["text"])
        tp, fp, fn = tp + len(want & have), fp + len(have - want), fn + len(want - have)
        if verbose and (got != item["category"] or want != have):
            print(f"- {item['title']!r}: category {got} (want {item['category']})")
            for extra in sorted(map(str, have - want)):
                print(f"    unexpected {extra}")
            for missing in sorted(map(str, want - have)):
                print(f"    missing    {missing}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": correct / len(corpus), "precision": precision, "recall": recall, "f1": f1,
            "listings": len(corpus), "benign": sum(i["category"] == "benign" for i in corpus)}  # fmt: skip


def load(path: Path) -> list[dict[str, Any]]:
    listings: list[dict[str, Any]] = yaml.safe_load(path.read_text("utf-8"))["listings"]
    return listings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--verbose", action="store_true", help="list every listing that is not exactly right")
    args = parser.parse_args()
    corpus = load(args.corpus)
    result = evaluate(corpus, verbose=args.verbose)
    start = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        for item in corpus:
            classify(item["title"], item["text"])
            extract_entities(f"{item['title']}\n{item['text']}")
    per_second = rounds * len(corpus) / (time.perf_counter() - start)
    print(f"corpus: {result['listings']:.0f} listings ({result['benign']:.0f} benign decoys), {args.corpus}")
    print(
        f"category accuracy: {result['accuracy']:.1%}   goal >= 95%: {'PASS' if result['accuracy'] >= 0.95 else 'FAIL'}"
    )
    print(f"entities: precision {result['precision']:.1%}, recall {result['recall']:.1%}, "
          f"F1 {result['f1']:.1%}   goal F1 >= 95%: {'PASS' if result['f1'] >= 0.95 else 'FAIL'}")  # fmt: skip
    print(f"speed: {per_second:,.0f} listings/s classified + entities extracted (one core)")
    return 0 if result["accuracy"] >= 0.95 and result["f1"] >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
