"""The embedded default store: one SQLite file, WAL mode, FTS5 over CJK-bigram search text."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.codec import (
    hit_from_doc,
    hit_to_doc,
    listing_from_doc,
    listing_to_doc,
    org_from_doc,
    org_to_doc,
)
from indexer.store import CLAIM_LEASE, SearchPage, SearchQuery, WriteResult
from indexer.text import search_text, terms
from pipeline.models import Hit, Listing, Organisation

_SCHEMA = """
CREATE TABLE IF NOT EXISTS listings (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    site TEXT NOT NULL,
    category TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS listings_category ON listings (category);
CREATE INDEX IF NOT EXISTS listings_site ON listings (site);
CREATE VIRTUAL TABLE IF NOT EXISTS listing_fts USING fts5 (id UNINDEXED, body, tokenize = 'unicode61');
CREATE TABLE IF NOT EXISTS hits (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    listing_id TEXT NOT NULL,
    alert_state TEXT NOT NULL,
    claimed_at TEXT,
    triage TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS hits_org_state ON hits (org, alert_state);
CREATE INDEX IF NOT EXISTS hits_listing ON hits (listing_id);
CREATE TABLE IF NOT EXISTS orgs (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def fts_query(text: str) -> str:
    # Every term quoted: user input never reaches FTS5 syntax, and terms are ANDed.
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms(text))


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def refresh(self) -> None:
        return None

    # --- writes ---------------------------------------------------------------------------

    def upsert_listings(self, listings: Sequence[Listing]) -> WriteResult:
        with self._transaction():
            for listing in listings:
                row = self._db.execute("SELECT first_seen FROM listings WHERE id = ?", (listing.id,)).fetchone()
                doc = listing_to_doc(listing)
                if row is not None:
                    doc["first_seen"] = min(row[0], listing.first_seen)
                self._db.execute(
                    "INSERT INTO listings VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                    "source=excluded.source, site=excluded.site, category=excluded.category, "
                    "first_seen=excluded.first_seen, last_seen=excluded.last_seen, doc=excluded.doc",
                    (
                        listing.id, listing.source, listing.site, listing.category,
                        doc["first_seen"], listing.last_seen, json.dumps(doc, ensure_ascii=False),
                    ),
                )  # fmt: skip
                self._db.execute("DELETE FROM listing_fts WHERE id = ?", (listing.id,))
                self._db.execute(
                    "INSERT INTO listing_fts (id, body) VALUES (?, ?)",
                    (listing.id, search_text(listing.title, listing.text)),
                )
        return WriteResult(written=len(listings))

    def upsert_hits(self, hits: Sequence[Hit]) -> WriteResult:
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO hits VALUES (?,?,?,?,NULL,?,?)",
                [(h.id, h.org, h.listing_id, h.alert_state, h.triage, json.dumps(hit_to_doc(h))) for h in hits],
            )
            return WriteResult(written=self._db.total_changes - before)

    def upsert_org(self, org: Organisation) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO orgs VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET doc = excluded.doc",
                (org.name, json.dumps(org_to_doc(org))),
            )

    def claim_pending_hits(self, org: str, limit: int = 500) -> list[Hit]:
        stale = (datetime.now(UTC) - CLAIM_LEASE).isoformat(timespec="seconds")
        with self._transaction():
            rows = self._db.execute(
                "SELECT id FROM hits WHERE org = ? AND (alert_state = 'pending' "
                "OR (alert_state = 'sending' AND claimed_at < ?)) ORDER BY id LIMIT ?",
                (org, stale, limit),
            ).fetchall()
            ids = [r[0] for r in rows]
            self._db.executemany(
                "UPDATE hits SET alert_state = 'sending', claimed_at = ? WHERE id = ?",
                [(_now(), i) for i in ids],
            )
        return [h for h in (self._get_hit(i) for i in ids) if h is not None]

    def set_alert_state(self, hit_ids: Iterable[str], state: str) -> None:
        with self._transaction():
            self._db.executemany("UPDATE hits SET alert_state = ? WHERE id = ?", [(state, i) for i in hit_ids])

    def _transaction(self) -> _Tx:
        return _Tx(self._db)

    # --- reads ----------------------------------------------------------------------------

    def get_listing(self, listing_id: str) -> Listing | None:
        row = self._db.execute("SELECT doc FROM listings WHERE id = ?", (listing_id,)).fetchone()
        return listing_from_doc(json.loads(row[0])) if row else None

    def _get_hit(self, hit_id: str) -> Hit | None:
        rows = self._hits("WHERE id = ?", (hit_id,))
        return rows[0] if rows else None

    def _hits(self, where: str, params: tuple[Any, ...]) -> list[Hit]:
        sql = f"SELECT doc, alert_state, triage FROM hits {where} ORDER BY json_extract(doc, '$.distance'), id"  # noqa: S608
        out = []
        for doc, state, triage in self._db.execute(sql, params):
            out.append(hit_from_doc({**json.loads(doc), "alert_state": state, "triage": triage}))
        return out

    def hits_for_listing(self, listing_id: str) -> list[Hit]:
        return self._hits("WHERE listing_id = ?", (listing_id,))

    def hits_for_org(self, org: str) -> list[Hit]:
        return self._hits("WHERE org = ?", (org,))

    def list_orgs(self) -> list[Organisation]:
        rows = self._db.execute("SELECT doc FROM orgs ORDER BY name").fetchall()
        return [org_from_doc(json.loads(r[0])) for r in rows]

    def search(self, query: SearchQuery) -> SearchPage:
        where, params = ["1=1"], []
        if query.text.strip():
            where.append("l.id IN (SELECT id FROM listing_fts WHERE listing_fts MATCH ?)")
            params.append(fts_query(query.text) or '""')
        for column in ("category", "site"):
            value = getattr(query, column)
            if value is not None:
                where.append(f"l.{column} = ?")
                params.append(value)
        if query.org is not None:
            where.append("EXISTS (SELECT 1 FROM hits h WHERE h.listing_id = l.id AND h.org = ?)")
            params.append(query.org)
        if query.has_match is not None:
            exists = "EXISTS (SELECT 1 FROM hits h WHERE h.listing_id = l.id)"
            where.append(exists if query.has_match else f"NOT {exists}")
        clause = " AND ".join(where)
        total = self._db.execute(f"SELECT count(*) FROM listings l WHERE {clause}", params).fetchone()[0]  # noqa: S608
        rows = self._db.execute(
            f"SELECT doc FROM listings l WHERE {clause} ORDER BY l.last_seen DESC, l.id LIMIT ? OFFSET ?",  # noqa: S608
            [*params, query.limit, query.offset],
        ).fetchall()
        by_category = dict(
            self._db.execute(
                f"SELECT category, count(*) FROM listings l WHERE {clause} GROUP BY category",  # noqa: S608
                params,
            ).fetchall()
        )
        return SearchPage(
            total=int(total),
            listings=[listing_from_doc(json.loads(r[0])) for r in rows],
            by_category=by_category,
        )


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front so claims are atomic."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
