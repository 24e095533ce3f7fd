"""The embedded default store: one SQLite file, WAL mode, FTS5 over CJK-bigram search text."""

# ruff: noqa: S608 - SQL here is assembled from fixed table and column names and "?" placeholders
# only; every value a user or a scraped page supplies is a bound parameter.

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
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
from indexer.query import Criteria, Phrase, criteria
from indexer.store import (
    AGG_SIZE,
    CLAIM_LEASE,
    SearchPage,
    SearchQuery,
    TriageEvent,
    WriteResult,
    decode_cursor,
    encode_cursor,
    sortable_time,
)
from indexer.text import search_text
from pipeline.models import TRIAGE_STATES, Delivery, Hit, Listing, Organisation, Triage

SCHEMA_VERSION = 4
_SCHEMA = """
CREATE TABLE IF NOT EXISTS listings (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    site TEXT NOT NULL,
    category TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    score REAL NOT NULL DEFAULT 0,
    first_day TEXT NOT NULL DEFAULT '',
    needs_review INTEGER NOT NULL DEFAULT 0
);
-- first_day: YYYY-MM-DD of first_seen (UTC), for the day aggregation. needs_review (schema 4):
-- the classifier was unsure of the category
-- The full record, apart: filters, sorts and aggregations then read a narrow table that stays
-- in cache (at 200k listings, sorting 64k text matches went from 190 ms to a few ms).
CREATE TABLE IF NOT EXISTS listing_docs (listing INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS listings_category ON listings (category);
CREATE INDEX IF NOT EXISTS listings_site ON listings (site);
CREATE INDEX IF NOT EXISTS listings_last_seen ON listings (last_seen, id);
CREATE INDEX IF NOT EXISTS listings_first_seen ON listings (first_seen, id);
-- (score) alone: scores land on random pages, and a narrower index makes bulk writes ~20% faster
CREATE INDEX IF NOT EXISTS listings_score ON listings (score);
CREATE INDEX IF NOT EXISTS listings_first_day ON listings (first_day);
CREATE INDEX IF NOT EXISTS listings_needs_review ON listings (needs_review) WHERE needs_review = 1;
-- rowid = listings.rowid: title and text as search terms (CJK bigrams), a column each
CREATE VIRTUAL TABLE IF NOT EXISTS listing_text USING fts5 (
    title, text, tokenize = 'unicode61 remove_diacritics 0', columnsize = 0  -- no ranking: no sizes kept
);
-- keyed by listings.rowid, which grows with each new listing: appends, not random page writes
CREATE TABLE IF NOT EXISTS listing_contacts (listing INTEGER NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS listing_contacts_value ON listing_contacts (value, listing);
CREATE INDEX IF NOT EXISTS listing_contacts_listing ON listing_contacts (listing);
CREATE TABLE IF NOT EXISTS listing_prices (listing INTEGER NOT NULL, amount REAL NOT NULL);
CREATE INDEX IF NOT EXISTS listing_prices_listing ON listing_prices (listing);
CREATE INDEX IF NOT EXISTS listing_prices_amount ON listing_prices (amount, listing);
CREATE TABLE IF NOT EXISTS hits (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    listing_id TEXT NOT NULL,
    alert_state TEXT NOT NULL,
    claimed_at TEXT,
    triage TEXT NOT NULL,
    doc TEXT NOT NULL,
    distance INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS hits_org_state ON hits (org, alert_state);
CREATE INDEX IF NOT EXISTS hits_listing ON hits (listing_id, org);
CREATE INDEX IF NOT EXISTS hits_org_distance ON hits (org, distance, listing_id);
CREATE TABLE IF NOT EXISTS triage_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    hit_id TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL,
    who TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS triage_events_hit ON triage_events (hit_id, seq);
CREATE TABLE IF NOT EXISTS orgs (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, org TEXT NOT NULL, message_id TEXT NOT NULL, channel TEXT NOT NULL,
    status TEXT NOT NULL, detail TEXT NOT NULL, hits INTEGER NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_org ON deliveries (org, seq);
-- schema 3: small JPEGs of matched images only, by the image's sha256
CREATE TABLE IF NOT EXISTS thumbnails (sha256 TEXT PRIMARY KEY, jpeg BLOB NOT NULL);
"""
# Stores written by schema 1 lack these columns and tables; they are added and filled on open.
_UPGRADE_FROM_1 = (
    "ALTER TABLE listings ADD COLUMN author TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE listings ADD COLUMN score REAL NOT NULL DEFAULT 0",
    "ALTER TABLE listings ADD COLUMN first_day TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE hits ADD COLUMN distance INTEGER NOT NULL DEFAULT 0",
    "UPDATE listings SET author = coalesce(json_extract(doc, '$.author'), ''), score = json_extract(doc, '$.score'),"
    " first_day = substr(first_seen, 1, 10)",
    "UPDATE hits SET distance = json_extract(doc, '$.distance')",
    "CREATE TABLE listing_docs (listing INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "INSERT INTO listing_docs SELECT rowid, doc FROM listings",
    "ALTER TABLE listings DROP COLUMN doc",
    "DROP TABLE IF EXISTS listing_fts",
)
# Schemas 1 to 3 lack the review flag; listings classified before it had none to keep.
_UPGRADE_FROM_3 = ("ALTER TABLE listings ADD COLUMN needs_review INTEGER NOT NULL DEFAULT 0",)


def _fts_phrase(phrase: Phrase) -> str:
    # Every term quoted: user input never reaches FTS5 syntax.
    quoted = '"' + " ".join(t.replace('"', '""') for t in phrase.terms) + '"'
    return f"{phrase.field} : {quoted}" if phrase.field else quoted


def fts_match(groups: Sequence[Sequence[Phrase]]) -> str:
    """Groups ANDed, phrases within a group ORed; a phrase without a field may be in either."""
    return " AND ".join("(" + " OR ".join(_fts_phrase(p) for p in group) + ")" for group in groups)


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # Usable from a thread other than its opener's (a crawl writes from a writer thread), one
        # thread at a time: SQLite itself is built serialized (sqlite3.threadsafety == 3).
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # Listing ids are hashes, so index inserts land on random pages: a cache that holds the
        # indexes keeps writes at full speed past 100k listings (default: 2 MiB).
        self._db.execute("PRAGMA cache_size = -131072")
        # Fewer, larger checkpoints: each one syncs the file, which cost a third of bulk indexing
        # time at the default 4 MiB. 128 MiB of WAL between them (trimmed back afterwards):
        # 200k documents went from ~9,000 to ~13,000 docs/s (bench/index_bench.py).
        self._db.execute("PRAGMA wal_autocheckpoint = 32768")
        self._db.execute(f"PRAGMA journal_size_limit = {128 * 1024 * 1024}")
        with self._transaction():
            self._migrate()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        old = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'listings'").fetchone() is not None
        old = old and version < 2  # schema 2 only lacks tables that _SCHEMA creates if missing
        if old:
            for statement in _UPGRADE_FROM_1:
                self._db.execute(statement)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(listings)")}
        if columns and "needs_review" not in columns:
            for statement in _UPGRADE_FROM_3:
                self._db.execute(statement)
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                self._db.execute(statement)
        if old:  # search text, contacts and prices of listings stored before schema 2
            rows = self._db.execute("SELECT listing, doc FROM listing_docs").fetchall()
            self._index_many([(rowid, listing_from_doc(json.loads(doc))) for rowid, doc in rows], replace=False)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def refresh(self) -> None:
        return None

    # --- writes ---------------------------------------------------------------------------

    def _index_many(self, rows: Sequence[tuple[int, Listing]], *, replace: bool) -> None:
        """Search terms, contacts and prices of listings, by rowid."""
        if replace:
            self._db.executemany("DELETE FROM listing_text WHERE rowid = ?", [(r,) for r, _ in rows])
            self._db.executemany("DELETE FROM listing_contacts WHERE listing = ?", [(r,) for r, _ in rows])
            self._db.executemany("DELETE FROM listing_prices WHERE listing = ?", [(r,) for r, _ in rows])
        self._db.executemany(
            "INSERT INTO listing_text (rowid, title, text) VALUES (?, ?, ?)",
            [(r, search_text(x.title), search_text(x.text)) for r, x in rows],
        )
        self._db.executemany(
            "INSERT INTO listing_contacts VALUES (?, ?)", [(r, c.value) for r, x in rows for c in x.contacts]
        )
        self._db.executemany(
            "INSERT INTO listing_prices VALUES (?, ?)", [(r, p.amount) for r, x in rows for p in x.prices]
        )

    def _rows_by_id(self, sql: str, ids: Sequence[str]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            out += self._db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk).fetchall()
        return out

    def upsert_listings(self, listings: Sequence[Listing]) -> WriteResult:
        batch = list({x.id: x for x in listings}.values())  # the same id twice in a batch: the last wins
        with self._transaction():
            existing = {
                row[0]: row[1:]
                for row in self._rows_by_id(
                    "SELECT l.id, l.rowid, l.first_seen, json_extract(d.doc, '$.first_seen') FROM listings l"
                    " JOIN listing_docs d ON d.listing = l.rowid WHERE l.id IN ({marks})",
                    [x.id for x in batch],
                )
            }
            inserts, updates, docs = [], [], {}
            for x in batch:
                doc = listing_to_doc(x)
                first_seen, last_seen = sortable_time(x.first_seen), sortable_time(x.last_seen)
                old = existing.get(x.id)
                if old is not None:  # first sight is kept
                    first_seen, doc["first_seen"] = min(old[1], first_seen), min(old[2], x.first_seen)
                docs[x.id] = json.dumps(doc, ensure_ascii=False)
                values = (
                    x.source, x.site, x.category, first_seen, last_seen, x.author, x.score, first_seen[:10],
                    int(x.needs_review),
                )  # fmt: skip
                if old is None:
                    inserts.append((x.id, *values))
                else:
                    updates.append((*values, old[0]))
            self._db.executemany("INSERT INTO listings VALUES (?,?,?,?,?,?,?,?,?,?)", inserts)
            self._db.executemany(
                "UPDATE listings SET source=?, site=?, category=?, first_seen=?, last_seen=?, author=?, score=?,"
                " first_day=?, needs_review=? WHERE rowid = ?",
                updates,
            )
            rowids = dict(
                self._rows_by_id("SELECT id, rowid FROM listings WHERE id IN ({marks})", [row[0] for row in inserts])
            )
            rowids.update((i, old[0]) for i, old in existing.items())
            self._db.executemany(
                "INSERT OR REPLACE INTO listing_docs VALUES (?, ?)", [(rowids[i], doc) for i, doc in docs.items()]
            )
            by_id = {x.id: x for x in batch}
            self._index_many([(existing[i][0], by_id[i]) for i in existing], replace=True)
            self._index_many([(rowids[row[0]], by_id[row[0]]) for row in inserts], replace=False)
        return WriteResult(written=len(batch))

    def upsert_hits(self, hits: Sequence[Hit]) -> WriteResult:
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO hits VALUES (?,?,?,?,NULL,?,?,?)",
                [
                    (h.id, h.org, h.listing_id, h.alert_state, h.triage, json.dumps(hit_to_doc(h)), h.distance)
                    for h in hits
                ],
            )
            return WriteResult(written=self._db.total_changes - before)

    def upsert_org(self, org: Organisation) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO orgs VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET doc = excluded.doc",
                (org.name, json.dumps(org_to_doc(org))),
            )

    def remove_org(self, name: str) -> bool:
        with self._transaction():
            return self._db.execute("DELETE FROM orgs WHERE name = ?", (name,)).rowcount > 0

    def claim_pending_hits(self, org: str, limit: int = 500, lease: timedelta = CLAIM_LEASE) -> list[Hit]:
        stale = (datetime.now(UTC) - lease).isoformat(timespec="microseconds")
        with self._transaction():
            rows = self._db.execute(
                "SELECT id FROM hits WHERE org = ? AND (alert_state = 'pending' "
                "OR (alert_state = 'sending' AND claimed_at < ?)) ORDER BY id LIMIT ?",
                (org, stale, limit),
            ).fetchall()
            ids = [r[0] for r in rows]
            self._db.executemany(
                "UPDATE hits SET alert_state = 'sending', claimed_at = ? WHERE id = ?",
                [(datetime.now(UTC).isoformat(timespec="microseconds"), i) for i in ids],
            )
        return [h for h in (self.get_hit(i) for i in ids) if h is not None]

    def set_alert_state(self, hit_ids: Iterable[str], state: str) -> None:
        with self._transaction():
            self._db.executemany("UPDATE hits SET alert_state = ? WHERE id = ?", [(state, i) for i in hit_ids])

    def triage(self, hit_ids: Sequence[str], status: Triage, *, note: str = "", who: str = "") -> list[TriageEvent]:
        if status not in TRIAGE_STATES:
            raise ValueError(f"triage status must be one of {', '.join(TRIAGE_STATES)}, got {status!r}")
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        events = []
        with self._transaction():
            for hit_id in dict.fromkeys(hit_ids):
                if self._db.execute("UPDATE hits SET triage = ? WHERE id = ?", (status, hit_id)).rowcount:
                    self._db.execute(
                        "INSERT INTO triage_events (hit_id, status, note, who, at) VALUES (?, ?, ?, ?, ?)",
                        (hit_id, status, note, who, at),
                    )
                    events.append(TriageEvent(hit_id, status, note, who, at))
        return events

    def put_thumbnails(self, thumbnails: Mapping[str, bytes]) -> WriteResult:
        with self._transaction():
            self._db.executemany("INSERT OR IGNORE INTO thumbnails VALUES (?, ?)", list(thumbnails.items()))
        return WriteResult(len(thumbnails))

    def get_thumbnails(self, image_sha256s: Sequence[str]) -> dict[str, bytes]:
        rows = self._rows_by_id("SELECT sha256, jpeg FROM thumbnails WHERE sha256 IN ({marks})", list(image_sha256s))
        return {sha: bytes(jpeg) for sha, jpeg in rows}

    def record_delivery(self, delivery: Delivery) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO deliveries (org, message_id, channel, status, detail, hits, at) VALUES (?,?,?,?,?,?,?)",
                (delivery.org, delivery.message_id, delivery.channel, delivery.status, delivery.detail,
                 delivery.hits, delivery.at),
            )  # fmt: skip

    def deliveries(self, org: str | None = None, limit: int = 20) -> list[Delivery]:
        where, params = ("WHERE org = ?", [org]) if org is not None else ("", [])
        rows = self._db.execute(
            f"SELECT org, message_id, channel, status, detail, hits, at FROM deliveries {where}"
            " ORDER BY seq DESC LIMIT ?",
            [*params, limit],
        )
        return [Delivery(*row) for row in rows]

    def _transaction(self) -> _Tx:
        return _Tx(self._db)

    # --- reads ----------------------------------------------------------------------------

    def get_listing(self, listing_id: str) -> Listing | None:
        row = self._db.execute(
            "SELECT d.doc FROM listings l JOIN listing_docs d ON d.listing = l.rowid WHERE l.id = ?", (listing_id,)
        ).fetchone()
        return listing_from_doc(json.loads(row[0])) if row else None

    def _with_prefix(self, table: str, prefix: str, limit: int) -> list[str]:
        rows = self._db.execute(
            f"SELECT id FROM {table} WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        )
        return [r[0] for r in rows]

    def listing_ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        return self._with_prefix("listings", prefix, limit)

    def hit_ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        return self._with_prefix("hits", prefix, limit)

    def get_hit(self, hit_id: str) -> Hit | None:
        rows = self._hits("WHERE id = ?", (hit_id,))
        return rows[0] if rows else None

    def _hits(self, where: str, params: tuple[Any, ...]) -> list[Hit]:
        sql = f"SELECT doc, alert_state, triage FROM hits {where} ORDER BY distance, id"
        out = []
        for doc, state, triage in self._db.execute(sql, params):
            out.append(hit_from_doc({**json.loads(doc), "alert_state": state, "triage": triage}))
        return out

    def hits_for_listing(self, listing_id: str) -> list[Hit]:
        return self._hits("WHERE listing_id = ?", (listing_id,))

    def hits_for_org(self, org: str) -> list[Hit]:
        return self._hits("WHERE org = ?", (org,))

    def triage_history(self, hit_id: str) -> list[TriageEvent]:
        rows = self._db.execute(
            "SELECT hit_id, status, note, who, at FROM triage_events WHERE hit_id = ? ORDER BY seq", (hit_id,)
        )
        return [TriageEvent(*row) for row in rows]

    def list_orgs(self) -> list[Organisation]:
        rows = self._db.execute("SELECT doc FROM orgs ORDER BY name").fetchall()
        return [org_from_doc(json.loads(r[0])) for r in rows]

    def count(self, query: SearchQuery) -> int:
        where, params = _where(criteria(query))
        return self._count(" AND ".join(where) or "1=1", params)

    def _count(self, clause: str, params: list[Any]) -> int:
        return int(self._db.execute(f"SELECT count(*) FROM listings l WHERE {clause}", params).fetchone()[0])

    def search(self, query: SearchQuery) -> SearchPage:
        c = criteria(query)
        where, params = _where(c)
        clause = " AND ".join(where) or "1=1"
        aggregations = {name: self._aggregate(name, c, clause, params) for name in query.aggregations}
        if "category" in aggregations:  # every listing has one category: their counts add up to the total
            total = sum(count for _, count in aggregations["category"])
        else:
            total = self._count(clause, params)
        column = f"l.{query.sort}"
        direction, beyond = ("DESC", "<") if query.descending else ("ASC", ">")
        page_clause, page_params = clause, list(params)
        if query.after is not None:
            value, last_id = decode_cursor(query.after)
            page_clause += f" AND ({column} {beyond} ? OR ({column} = ? AND l.id > ?))"
            page_params += [value, value, last_id]
        # Many matches: walk the sort's index and stop at the page (sorting them all costs more);
        # few: fetch them and sort. The crossover measured at 200k listings is far below 2,000.
        walk = f" INDEXED BY listings_{query.sort}" if total > 2000 else ""
        rows = self._db.execute(
            f"SELECT l.rowid, {column}, l.id FROM listings l{walk} WHERE {page_clause}"
            f" ORDER BY {column} {direction}, l.id LIMIT ? OFFSET ?",
            [*page_params, query.limit, query.offset],
        ).fetchall()
        next_after = encode_cursor(rows[-1][1:]) if rows and len(rows) == query.limit else None
        docs = dict(self._rows_by_id("SELECT listing, doc FROM listing_docs WHERE listing IN ({marks})",
                                     [r[0] for r in rows]))  # fmt: skip
        return SearchPage(
            total=int(total),
            listings=[listing_from_doc(json.loads(docs[r[0]])) for r in rows],
            aggregations=aggregations,
            next_after=next_after,
        )

    def _aggregate(self, name: str, c: Criteria, clause: str, params: list[Any]) -> list[tuple[str, int]]:
        if name == "org":
            conditions, hit_params = _hit_conditions(c, "h")
            if clause != "1=1":
                conditions.append(f"h.listing_id IN (SELECT l.id FROM listings l WHERE {clause})")
            sql = (
                f"SELECT h.org, count(DISTINCT h.listing_id) FROM hits h WHERE {' AND '.join(conditions) or '1=1'}"
                f" GROUP BY h.org ORDER BY 2 DESC, 1 LIMIT {AGG_SIZE}"
            )
            rows = self._db.execute(sql, [*hit_params, *params]).fetchall()
        elif name == "day":
            sql = (
                f"SELECT l.first_day, count(*) FROM listings l WHERE {clause}"
                f" GROUP BY l.first_day ORDER BY l.first_day DESC LIMIT {AGG_SIZE}"
            )
            rows = sorted(self._db.execute(sql, params).fetchall())
        else:
            sql = (
                f"SELECT l.{name}, count(*) FROM listings l WHERE {clause}"
                f" GROUP BY l.{name} ORDER BY 2 DESC, 1 LIMIT {AGG_SIZE}"
            )
            rows = self._db.execute(sql, params).fetchall()
        return [(str(key), int(count)) for key, count in rows]


def _hit_conditions(c: Criteria, alias: str) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    for column, values in (("org", c.hit_orgs), ("triage", c.hit_triage)):
        if values is not None:
            conditions.append(f"{alias}.{column} IN ({','.join('?' * len(values))})")
            params += values
    if c.max_distance is not None:
        conditions.append(f"{alias}.distance <= ?")
        params.append(c.max_distance)
    return conditions, params


def _where(c: Criteria) -> tuple[list[str], list[Any]]:
    """Conditions on `listings l`. Conditions on other tables are `l.id IN (subquery)`, so SQLite
    starts from the few matching rows of that table's index instead of probing every listing."""
    where: list[str] = []
    params: list[Any] = []
    if c.groups:
        where.append("l.rowid IN (SELECT rowid FROM listing_text WHERE listing_text MATCH ?)")
        params.append(fts_match(c.groups))
    for name, values in c.keywords:
        marks = ",".join("?" * len(values))
        if name == "contact":
            where.append(f"l.rowid IN (SELECT listing FROM listing_contacts WHERE value IN ({marks}))")
        else:
            where.append(f"l.{name} IN ({marks})")
        params += values
    if c.on_hits:
        conditions, hit_params = _hit_conditions(c, "hx")
        where.append(f"l.id IN (SELECT hx.listing_id FROM hits hx WHERE {' AND '.join(conditions)})")
        params += hit_params
    if c.has_match is not None:
        where.append(("" if c.has_match else "NOT ") + "l.id IN (SELECT listing_id FROM hits)")
    if c.needs_review is not None:
        where.append(f"l.needs_review = {int(c.needs_review)}")
    if c.price_min is not None or c.price_max is not None:
        low = c.price_min if c.price_min is not None else float("-inf")
        high = c.price_max if c.price_max is not None else float("inf")
        where.append("l.rowid IN (SELECT listing FROM listing_prices WHERE amount BETWEEN ? AND ?)")
        params += [low, high]
    for field_name, op, value in c.ranges:
        where.append(f"l.{field_name} {op} ?")
        params.append(value)
    return where, params


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front so claims are atomic."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
