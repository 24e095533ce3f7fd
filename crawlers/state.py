"""CrawlState: what earlier crawls already did, so a re-crawl skips unchanged work.

- listings: content hash last processed, and the registry version it was matched against
  (a listing is re-processed when either changes);
- images: hashes by URL and by content sha256 (a known URL is not downloaded again; known
  bytes under a new URL are not decoded again). Only hashes are kept, never image bytes.

One SQLite file shared by all sources; WAL so concurrent crawls of different sources can use it.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from pipeline.models import ImageHashes, RegionHash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS listings (
    listing_id TEXT PRIMARY KEY, content_sha256 TEXT NOT NULL, registry_version TEXT NOT NULL,
    processed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS image_urls (
    url TEXT NOT NULL, faces INTEGER NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (url, faces)
);
CREATE TABLE IF NOT EXISTS image_hashes (
    sha256 TEXT NOT NULL, faces INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (sha256, faces)
);
"""


def hashes_to_json(h: ImageHashes) -> str:
    regions = [[r.region, r.phash, r.dhash, list(r.box) if r.box else None] for r in h.regions]
    return json.dumps({"sha256": h.sha256, "w": h.width, "h": h.height, "r": regions}, separators=(",", ":"))


def hashes_from_json(text: str) -> ImageHashes:
    d = json.loads(text)
    regions = tuple(
        RegionHash(region, phash, dhash, (box[0], box[1], box[2], box[3]) if box else None)
        for region, phash, dhash, box in d["r"]
    )
    return ImageHashes(sha256=d["sha256"], width=d["w"], height=d["h"], regions=regions)


class CrawlState:
    """Writes are buffered and flushed in batches (and on close): losing the tail of a batch in
    a crash only means that work is done again next time, never that a listing is skipped
    without having been stored."""

    FLUSH_EVERY = 256

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self._listings: list[tuple[str, str, str, str]] = []
        # Image writes waiting for the next flush, keyed so lookups see them before they land.
        self._hashes: dict[tuple[str, int], str] = {}
        self._urls: dict[tuple[str, int], str] = {}

    def flush(self) -> None:
        if not (self._listings or self._hashes or self._urls):
            return
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO listings VALUES (?, ?, ?, ?)", self._listings)
            self.db.executemany(
                "INSERT OR IGNORE INTO image_hashes VALUES (?, ?, ?)", [(*k, v) for k, v in self._hashes.items()]
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO image_urls VALUES (?, ?, ?)", [(*k, v) for k, v in self._urls.items()]
            )
        self._listings, self._hashes, self._urls = [], {}, {}

    def _maybe_flush(self) -> None:
        if len(self._listings) + len(self._urls) >= self.FLUSH_EVERY:
            self.flush()

    def close(self) -> None:
        self.flush()
        self.db.close()

    # listings

    def is_unchanged(self, listing_id: str, content_sha256: str, registry_version: str) -> bool:
        row = self.db.execute(
            "SELECT content_sha256, registry_version FROM listings WHERE listing_id = ?", (listing_id,)
        ).fetchone()
        return row is not None and row == (content_sha256, registry_version)

    def mark_processed(self, listing_id: str, content_sha256: str, registry_version: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self._listings.append((listing_id, content_sha256, registry_version, now))
        self._maybe_flush()

    # images

    def hashes_for_url(self, url: str, faces: bool) -> ImageHashes | None:
        pending = self._urls.get((url, int(faces)))
        if pending is not None:
            return self.hashes_for_content(pending, faces)
        row = self.db.execute(
            "SELECT h.doc FROM image_urls u JOIN image_hashes h ON h.sha256 = u.sha256 AND h.faces = u.faces"
            " WHERE u.url = ? AND u.faces = ?",
            (url, int(faces)),
        ).fetchone()
        return hashes_from_json(row[0]) if row else None

    def hashes_for_content(self, sha256: str, faces: bool) -> ImageHashes | None:
        pending = self._hashes.get((sha256, int(faces)))
        if pending is not None:
            return hashes_from_json(pending)
        row = self.db.execute(
            "SELECT doc FROM image_hashes WHERE sha256 = ? AND faces = ?", (sha256, int(faces))
        ).fetchone()
        return hashes_from_json(row[0]) if row else None

    def remember_image(self, url: str, faces: bool, hashes: ImageHashes) -> None:
        self._hashes.setdefault((hashes.sha256, int(faces)), hashes_to_json(hashes))
        self._urls[(url, int(faces))] = hashes.sha256
        self._maybe_flush()

    def counts(self) -> dict[str, int]:
        self.flush()
        return {
            table: int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 (fixed names)
            for table in ("listings", "image_urls", "image_hashes")
        }
