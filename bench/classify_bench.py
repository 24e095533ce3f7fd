"""Classification and entity extraction on the labelled corpus (pipeline/corpus/).

    python bench/classify_bench.py [--verbose] [--skip-loso]

- Leave-one-style-out: for each style of writing, the model is trained on every other style and
  scored on that one alone; the figure that predicts a site nobody wrote a rule for is the
  minimum over styles. Goal: >= 95% on every held-out style.
- Entities: precision, recall and F1 per type over the whole corpus (prices by amount and
  currency, quantities by value, contacts by type and value; optional ones count neither way).
  Goal: F1 >= 95% per type. The extraction rules were written with this corpus in view, so the
  world bench (bench/world_bench.py) is the honest check of them.
- Speed: listings classified per second on one core, one at a time as a crawl does, with and
  without entity extraction. Goal: >= 2,000/s for the classifier with the model.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.classify import Classifier, default_classifier, training_set
from pipeline.corpus import CorpusListing, load_corpus, styles
from pipeline.entities import Entities, extract_entities


def channel_of(item: CorpusListing) -> str:
    return "telegram" if "telegram" in item.style else ""


def entities_of(item: CorpusListing) -> Entities:
    return extract_entities(f"{item.title}\n{item.text}", channel=channel_of(item))


def leave_one_style_out(verbose: bool) -> dict[str, float]:
    every = styles()
    scores: dict[str, float] = {}
    for held_out in every:
        model = Classifier.train(*training_set([s for s in every if s != held_out]))
        test = load_corpus([held_out])
        predictions = model.classify_many([(x.title, x.text, entities_of(x)) for x in test])
        right = sum(p.category == x.category for p, x in zip(predictions, test, strict=True))
        scores[held_out] = right / len(test)
        if verbose:
            for p, x in zip(predictions, test, strict=True):
                if p.category != x.category:
                    print(f"    {x.id}: {x.category} -> {p.category} ({p.score}) {x.title[:70]}")
        print(f"  held out {held_out:<16} {scores[held_out]:.1%} ({right}/{len(test)})", flush=True)
    return scores


def entity_scores(corpus: list[CorpusListing], verbose: bool) -> dict[str, dict[str, float]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for item in corpus:
        e = entities_of(item)
        have: set[tuple[str, tuple[Any, ...]]] = {("price", (round(p.amount, 6), p.currency)) for p in e.prices}
        have |= {("quantity", (round(q.value, 3),)) for q in e.quantities}
        have |= {("contact", (c.kind, c.value)) for c in e.contacts}
        required = {(x.kind, x.key) for x in item.entities if not x.optional}
        optional = {(x.kind, x.key) for x in item.entities if x.optional}
        for key in required:
            counts[key[0]][0 if key in have else 2] += 1
            if verbose and key not in have:
                print(f"    miss {item.id}: {key}")
        for key in have - required - optional:
            counts[key[0]][1] += 1
            if verbose:
                print(f"    false positive {item.id}: {key}")
    out = {}
    for kind, (tp, fp, fn) in sorted(counts.items()):
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        out[kind] = {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}
    return out


def speed(corpus: list[CorpusListing], model: Classifier) -> tuple[float, float, float]:
    docs = corpus * 3
    entities = [entities_of(x) for x in docs]
    for x, e in zip(docs[:50], entities, strict=False):  # warm the n-gram column cache
        model.classify_many([(x.title, x.text, e)])
    start = time.perf_counter()
    for x, e in zip(docs, entities, strict=True):
        model.classify_many([(x.title, x.text, e)])
    classify_rate = len(docs) / (time.perf_counter() - start)
    start = time.perf_counter()
    for x in docs:
        entities_of(x)
    entity_rate = len(docs) / (time.perf_counter() - start)
    start = time.perf_counter()
    for x in docs:
        model.classify_many([(x.title, x.text, entities_of(x))])
    both = len(docs) / (time.perf_counter() - start)
    return classify_rate, entity_rate, both


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--skip-loso", action="store_true", help="entities and speed only")
    args = parser.parse_args()
    corpus = load_corpus()
    counts = Counter(x.category for x in corpus)
    print(
        f"corpus: {len(corpus)} listings in {len(styles())} styles; " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    ok = True
    if not args.skip_loso:
        print("leave-one-style-out category accuracy:")
        scores = leave_one_style_out(args.verbose)
        worst = min(scores.values())
        mean = sum(scores.values()) / len(scores)
        print(f"  mean {mean:.1%}, worst {worst:.1%} ({min(scores, key=scores.__getitem__)})")
        print(f"{'PASS' if worst >= 0.95 else 'FAIL'}  every held-out style >= 95%: worst {worst:.1%}")
        ok &= worst >= 0.95
    print("entities (whole corpus):")
    for kind, s in entity_scores(corpus, args.verbose).items():
        print(f"  {kind:<9} P {s['precision']:.1%} R {s['recall']:.1%} F1 {s['f1']:.1%}"
              f" (tp {s['tp']}, fp {s['fp']}, fn {s['fn']})")  # fmt: skip
        print(f"{'PASS' if s['f1'] >= 0.95 else 'FAIL'}  entity F1 >= 95%: {kind} {s['f1']:.1%}")
        ok &= s["f1"] >= 0.95
    model = default_classifier()
    classify_rate, entity_rate, both = speed(corpus, model)
    print(f"speed, one core, one listing at a time: classifier {classify_rate:,.0f}/s, entity extraction"
          f" {entity_rate:,.0f}/s, both {both:,.0f}/s")  # fmt: skip
    print(f"{'PASS' if classify_rate >= 2000 else 'FAIL'}  classifier >= 2,000 listings/s: {classify_rate:,.0f}/s")
    ok &= classify_rate >= 2000
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
