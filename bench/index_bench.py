"""Indexing speed and analyst query latency of both stores at 200,000 documents.

    python bench/index_bench.py [--docs 200000] [--es-url URL]

Generates listings (Chinese and English text from marketplace vocabulary, 20 sites, contacts,
prices, 90 days of first/last seen) and hits on a fifth of them (10 organisations, distances
0-8): 80% listings, 20% hits. Writes them through each store's own API in batches of 1,000, as
a crawl of many sources would, and prints docs/s. Same-run baseline: the same documents
written raw (SQLite: one JSON column, no search tables; Elasticsearch: `helpers.bulk` of the
bare documents into a fresh index).

Then times six analyst queries (each run 40 times with rotating values, after a warm-up) and
prints p50/p95, next to a trivial query on the same store as the latency baseline. Without
--es-url the script starts the test server with scripts/elasticsearch.sh (and stops it).

Goals (issue 5): >= 5,000 docs/s into one local Elasticsearch node, >= 10,000 docs/s into
SQLite, p95 <= 100 ms for every query on both at 200k documents.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from elasticsearch import Elasticsearch, helpers
from verdicts import report  # bench/ is on sys.path when run as a script

from indexer.codec import listing_to_doc
from indexer.es_store import ElasticsearchStore
from indexer.sqlite_store import SqliteStore
from indexer.store import SearchQuery, Store
from pipeline.models import CATEGORIES, Contact, Hit, Listing, Price, listing_id, sha256_hex

REPO = Path(__file__).resolve().parents[1]
ZH = "出售 人脸 照片 数据 口罩 实名 四件套 过人脸 活体 刷脸 换脸 教程 工具 手持 身份证 高清 打包 批发 一手 渠道".split()
EN = "selfie with id kyc bypass liveness face dataset pack fresh verified tool tutorial cheap bulk camera".split()
ORGS = [f"org-{i}" for i in range(10)]
BATCH = 1000
START = datetime(2026, 8, 1, tzinfo=UTC)


def generate(total: int, seed: int = 7) -> tuple[list[Listing], list[Hit]]:
    rng = random.Random(seed)
    n_listings = total * 4 // 5
    listings = []
    for n in range(n_listings):
        site = f"market{n % 20}.example"
        url = f"http://{site}/thread/{n}"
        # written in the order they were found, over 90 days, as crawls accumulate them
        first = (START + timedelta(seconds=n * 90 * 86400 // n_listings)).isoformat(timespec="seconds")
        words = rng.sample(ZH, 6) if n % 3 else rng.sample(EN, 6)
        title = "".join(words[:3]) if n % 3 else " ".join(words[:3])
        text = " ".join(words[3:] + rng.sample(ZH, 8) + rng.sample(EN, 4)) + f" QQ {2800000000 + n % 5000}"
        listings.append(Listing(
            id=listing_id(url), source=f"src{n % 5}", url=url, site=site, title=title, text=text,
            category=CATEGORIES[n % 4], score=round(rng.random(), 3), first_seen=first, last_seen=first,
            content_sha256=sha256_hex(url), prices=(Price(float(1 + n % 500), "CNY", "per_item"),),
            quantity=1000 * (n % 100), contacts=(Contact("qq", str(2800000000 + n % 5000)),),
            image_urls=(f"http://{site}/img/{n}.jpg",),
        ))  # fmt: skip
    hits = []
    for k in range(total - n_listings):
        listing = listings[(k * 4) % n_listings]
        org = ORGS[k % len(ORGS)]
        entry = f"{org}:ref-{k}"
        image = sha256_hex("img", str(k))
        hits.append(Hit(
            id=Hit.make_id(listing.id, image, entry), org=org, registry_ref=f"ref-{k}", registry_entry_id=entry,
            algorithm="phash+dhash", distance=k % 9, dhash_distance=k % 11, region="whole",
            image_url=listing.image_urls[0], image_sha256=image, listing_id=listing.id, found_at=listing.first_seen,
        ))  # fmt: skip
    return listings, hits


def write(store: Store, listings: Sequence[Listing], hits: Sequence[Hit]) -> float:
    by_listing: dict[str, list[Hit]] = {}
    for h in hits:
        by_listing.setdefault(h.listing_id, []).append(h)
    start = time.perf_counter()
    failed = 0
    for i in range(0, len(listings), BATCH):
        chunk = listings[i : i + BATCH]
        failed += store.upsert_listings(chunk).failed
        failed += store.upsert_hits([h for x in chunk for h in by_listing.get(x.id, ())]).failed
    store.refresh()
    if failed:
        raise SystemExit(f"{failed} documents failed to index")
    return time.perf_counter() - start


def sqlite_raw(path: Path, listings: Sequence[Listing], hits: Sequence[Hit]) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE docs (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
    start = time.perf_counter()
    for i in range(0, len(listings), BATCH):
        db.execute("BEGIN")
        rows = [(x.id, json.dumps(listing_to_doc(x), ensure_ascii=False)) for x in listings[i : i + BATCH]]
        db.executemany("INSERT OR REPLACE INTO docs VALUES (?, ?)", rows)
        db.execute("COMMIT")
    db.execute("BEGIN")
    db.executemany(
        "INSERT OR REPLACE INTO docs VALUES (?, ?)", [(h.id, json.dumps(dataclasses.asdict(h))) for h in hits]
    )
    db.execute("COMMIT")
    seconds = time.perf_counter() - start
    db.close()
    return seconds


def es_raw(url: str, listings: Sequence[Listing], hits: Sequence[Hit]) -> float:
    es = Elasticsearch(url, request_timeout=120)
    index = "bench-raw"
    es.indices.delete(index=index, ignore_unavailable=True)
    es.indices.create(index=index, settings={"number_of_shards": 1, "number_of_replicas": 0})
    actions = [{"_index": index, "_id": x.id, "_source": listing_to_doc(x)} for x in listings]
    actions += [{"_index": index, "_id": h.id, "_source": {"hit": dataclasses.asdict(h)}} for h in hits]
    start = time.perf_counter()
    helpers.bulk(es, actions, chunk_size=500)
    es.indices.refresh(index=index)
    seconds = time.perf_counter() - start
    es.indices.delete(index=index)
    es.close()
    return seconds


def queries(deep_after: dict[int, str]) -> dict[str, Callable[[int], SearchQuery]]:
    """The timed queries; `deep_after` holds a cursor 4,000 results into each category."""

    def deep(i: int) -> SearchQuery:
        return SearchQuery(category=CATEGORIES[i % 4], limit=20, after=deep_after[i % 4])

    qs: dict[str, Callable[[int], SearchQuery]] = {
        "text, 2 words": lambda i: SearchQuery(text=f"{ZH[i % len(ZH)]} {ZH[(i + 3) % len(ZH)]}"),
        "phrase + category + 30 days": lambda i: SearchQuery(
            text='"selfie with id" OR 手持身份证', category="face_data_sale", first_seen_from="2026-10-01"
        ),
        "org + distance, by site and day": lambda i: SearchQuery(
            org=ORGS[i % len(ORGS)], max_distance=4, aggregations=("category", "site", "day")
        ),
        "seller contact": lambda i: SearchQuery(contact=str(2800000000 + (i * 37) % 5000)),
        "dashboard: all aggregations": lambda i: SearchQuery(limit=10, aggregations=("category", "site", "org", "day")),
        "deep page (cursor, ~page 200)": deep,
    }
    return qs


def prepare_deep(store: Store, cursors: dict[int, str]) -> None:
    for c in range(4):
        query = SearchQuery(category=CATEGORIES[c], limit=1000, aggregations=())
        for _ in range(4):  # 4,000 results in: page 200 at 20 per page
            page = store.search(dataclasses.replace(query, after=cursors.get(c)))
            assert page.next_after is not None
            cursors[c] = page.next_after


def latencies(store: Store, make: Callable[[int], SearchQuery], runs: int = 40) -> tuple[float, float]:
    for i in range(3):
        store.search(make(i))
    times = []
    for i in range(runs):
        query = make(i)
        start = time.perf_counter()
        store.search(query)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def baseline_latency(store: Store, some_id: str) -> tuple[float, float]:
    times = []
    for _ in range(40):
        start = time.perf_counter()
        store.get_listing(some_id)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def measure(name: str, store: Store, listings: list[Listing], hits: list[Hit], raw_seconds: float,
            goal_rate: float) -> list[tuple[str, bool]]:  # fmt: skip
    docs = len(listings) + len(hits)
    seconds = write(store, listings, hits)
    rate = docs / seconds
    raw_rate, overhead = docs / raw_seconds, seconds / raw_seconds
    print(f"\n{name}: {docs:,} documents in {seconds:.1f} s = {rate:,.0f} docs/s"
          f"  (raw baseline {raw_rate:,.0f} docs/s: bioleak's store costs {overhead:.1f}x)")  # fmt: skip
    verdicts = [(f"{name}: {rate:,.0f} docs/s >= {goal_rate:,.0f}", rate >= goal_rate)]
    p50, p95 = baseline_latency(store, listings[len(listings) // 2].id)
    print(f"  {'get by id (baseline)':<36} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
    cursors: dict[int, str] = {}
    prepare_deep(store, cursors)
    for label, make in queries(cursors).items():
        p50, p95 = latencies(store, make)
        print(f"  {label:<36} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
        verdicts.append((f"{name}: {label}: p95 {p95:.1f} ms <= 100 ms", p95 <= 100))
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--es-url", help="an Elasticsearch to use (default: start the test server)")
    parser.add_argument("--skip-es", action="store_true")
    args = parser.parse_args()
    listings, hits = generate(args.docs)
    print(f"{len(listings):,} listings and {len(hits):,} hits generated")
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="bioleak-index-bench-") as tmp:
        raw = sqlite_raw(Path(tmp) / "raw.sqlite3", listings, hits)
        store = SqliteStore(Path(tmp) / "store.sqlite3")
        verdicts += measure("SQLite", store, listings, hits, raw, 10_000)
        store.close()
    if not args.skip_es:
        url, started = args.es_url, False
        if not url:
            script = REPO / "scripts" / "elasticsearch.sh"
            url = subprocess.run(["bash", str(script), "start"], check=True, capture_output=True, text=True).stdout
            url, started = url.strip().splitlines()[-1], True
        try:
            raw = es_raw(url, listings, hits)
            es_store = ElasticsearchStore(url, prefix="bench-index")
            es_store.drop()
            es_store = ElasticsearchStore(url, prefix="bench-index")
            try:
                verdicts += measure("Elasticsearch", es_store, listings, hits, raw, 5_000)
            finally:
                es_store.drop()
                es_store.close()
        finally:
            if started:
                subprocess.run(["bash", str(REPO / "scripts" / "elasticsearch.sh"), "stop"], capture_output=True)
    return report(verdicts)


if __name__ == "__main__":
    sys.exit(main())
