"""Behaviour only the embedded store has: upgrading a store written by an older bioleak, and
starting without the Elasticsearch client."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

from indexer.codec import hit_to_doc, listing_to_doc
from indexer.sqlite_store import SCHEMA_VERSION, SqliteStore
from indexer.store import SearchQuery
from tests.factories import make_hit, make_listing, modules_loaded_after

SCHEMA_1 = """
CREATE TABLE listings (id TEXT PRIMARY KEY, source TEXT NOT NULL, site TEXT NOT NULL, category TEXT NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, doc TEXT NOT NULL);
CREATE VIRTUAL TABLE listing_fts USING fts5 (id UNINDEXED, body, tokenize = 'unicode61');
CREATE TABLE hits (id TEXT PRIMARY KEY, org TEXT NOT NULL, listing_id TEXT NOT NULL, alert_state TEXT NOT NULL,
    claimed_at TEXT, triage TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE orgs (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
"""


def test_a_schema_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    listing = make_listing(7, title="出售人脸数据", text="QQ 2874561032")
    hit = make_hit(listing, "acme-bank", "acme-7", distance=3)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_1)
    db.execute(
        "INSERT INTO listings VALUES (?,?,?,?,?,?,?)",
        (listing.id, listing.source, listing.site, listing.category, listing.first_seen, listing.last_seen,
         json.dumps(listing_to_doc(listing))),
    )  # fmt: skip
    db.execute(
        "INSERT INTO hits VALUES (?,?,?,?,NULL,?,?)",
        (hit.id, hit.org, hit.listing_id, "sent", "new", json.dumps(hit_to_doc(hit))),
    )
    db.commit()
    db.close()

    store = SqliteStore(path)
    try:
        assert store.get_listing(listing.id) == listing
        assert [x.id for x in store.search(SearchQuery(text="人脸数据")).listings] == [listing.id]
        assert store.search(SearchQuery(contact="2874561032", max_distance=3)).total == 1
        assert store.search(SearchQuery(max_distance=2)).total == 0
        assert [h.alert_state for h in store.hits_for_listing(listing.id)] == ["sent"]
    finally:
        store.close()
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION
    SqliteStore(path).close()  # opening an upgraded store again changes nothing


def test_a_schema_2_store_gains_the_thumbnails_table(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    store = SqliteStore(path)
    listing = make_listing(3)
    store.upsert_listings([listing])
    store.close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE thumbnails")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    store = SqliteStore(path)
    try:
        assert store.get_listing(listing.id) == listing
        store.put_thumbnails({"d" * 64: b"jpeg"})
        assert store.get_thumbnails(["d" * 64]) == {"d" * 64: b"jpeg"}
    finally:
        store.close()


def test_a_schema_3_store_gains_the_review_flag(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite3"
    store = SqliteStore(path)
    old = make_listing(3)
    store.upsert_listings([old])
    store.close()
    db = sqlite3.connect(path)
    db.execute("DROP INDEX listings_needs_review")
    db.execute("ALTER TABLE listings DROP COLUMN needs_review")
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    store = SqliteStore(path)
    try:
        assert store.get_listing(old.id) == old
        unsure = dataclasses.replace(make_listing(4), needs_review=True)
        store.upsert_listings([unsure])
        assert [x.id for x in store.search(SearchQuery(needs_review=True)).listings] == [unsure.id]
        assert [x.id for x in store.search(SearchQuery(needs_review=False)).listings] == [old.id]
    finally:
        store.close()


def test_the_embedded_store_does_not_import_the_elasticsearch_client(tmp_path: Path) -> None:
    """Every crawl process and CLI command on the default store would pay its ~0.2 s import."""
    code = (
        "import bioleak.cli, crawlers.pipelines.store, crawlers.pipelines.thumbnails\n"
        "from indexer.open import open_store\n"
        f"open_store({str(tmp_path / 'store.sqlite3')!r}).close()"
    )
    assert modules_loaded_after(code, {"elasticsearch", "elastic_transport", "aiohttp"}) == []
