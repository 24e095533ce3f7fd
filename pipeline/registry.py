"""The protected registry: hashes of organisations' own images, never the images themselves."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.hashing import enrolment_variants, face_regions, prepare, region_hash
from pipeline.images import decode_image
from pipeline.models import RegistryEntry

HEX64 = re.compile(r"^[0-9a-f]{16}$")
ORG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
VARIANT = re.compile(r"^[a-z0-9-]{0,32}$")
KINDS = ("whole", "face", "tile")
RECORD_FIELDS = ("ref", "kind", "variant", "phash", "dhash")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS registry (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    ref TEXT NOT NULL,
    kind TEXT NOT NULL,
    variant TEXT NOT NULL DEFAULT '',
    phash TEXT NOT NULL,
    dhash TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS registry_org ON registry (org, ref);
-- bumped by every add or remove that changed something: crawls re-match listings when it moves
CREATE TABLE IF NOT EXISTS registry_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT OR IGNORE INTO registry_version VALUES (1, 0);
"""


class InvalidEntry(ValueError):
    pass


def validate(entry: RegistryEntry) -> RegistryEntry:
    if not ORG_NAME.match(entry.org):
        raise InvalidEntry(f"invalid organisation name {entry.org!r} (letters, digits, . _ -; max 64)")
    if not entry.ref or len(entry.ref) > 256 or any(ord(c) < 32 or ord(c) == 127 for c in entry.ref):
        raise InvalidEntry(f"invalid ref {entry.ref!r} (1-256 printable characters)")
    if entry.kind not in KINDS:
        raise InvalidEntry(f"invalid kind {entry.kind!r} (one of {', '.join(KINDS)})")
    if not VARIANT.match(entry.variant):
        raise InvalidEntry(f"invalid variant {entry.variant!r}")
    for name in ("phash", "dhash"):
        value = getattr(entry, name)
        if not isinstance(value, str) or not HEX64.match(value):
            raise InvalidEntry(f"{name} must be 16 lowercase hex digits, got {value!r}")
    return entry


def enrolment_entries(
    org: str, ref: str, data: bytes, *, augment: bool = True, faces: bool = False
) -> list[RegistryEntry]:
    """Hash one protected image: the original, its augmented crops, and optionally each face.
    Raises `ImageRejected` for unusable files, `InvalidEntry` for a bad org or ref."""
    decoded = decode_image(data)
    gray, _, _ = prepare(decoded)
    whole = region_hash("whole", gray)
    entries = [RegistryEntry(org, ref, whole.phash, whole.dhash)]
    if augment:
        for variant, image in enrolment_variants(gray).items():
            h = region_hash("whole", image)
            entries.append(RegistryEntry(org, ref, h.phash, h.dhash, variant=variant))
    if faces:
        for n, h in enumerate(face_regions(decoded)):
            entries.append(RegistryEntry(org, ref, h.phash, h.dhash, kind="face", variant=f"face{n}"))
    return [validate(e) for e in entries]


def entry_for_image(org: str, ref: str, data: bytes) -> RegistryEntry:
    """The single un-augmented whole-image entry (tests and small tools)."""
    return enrolment_entries(org, ref, data, augment=False)[0]


# --- interchange: what `bioleak hash` writes and `registry import` reads -----------------------


def to_record(entry: RegistryEntry, **extra: Any) -> dict[str, Any]:
    return {"ref": entry.ref, "kind": entry.kind, "variant": entry.variant, "phash": entry.phash,
            "dhash": entry.dhash, **extra}  # fmt: skip


def parse_records(text: str, org: str, *, source: str = "input") -> list[RegistryEntry]:
    """Entries from JSONL or CSV (header: ref,kind,variant,phash,dhash). Every line is validated
    before anything is returned; errors name the line. `org` is the importing organisation."""
    stripped = text.lstrip()
    rows: list[tuple[int, Any]]
    if stripped.startswith("{"):
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise InvalidEntry(f"{source}:{n}: not valid JSON ({exc.msg})") from exc
    else:
        reader = csv.DictReader(io.StringIO(text))
        missing = {"ref", "phash", "dhash"} - set(reader.fieldnames or ())
        if missing:
            raise InvalidEntry(f"{source}: not JSONL, and the CSV header lacks {', '.join(sorted(missing))}")
        rows = [(n, row) for n, row in enumerate(reader, start=2)]
    entries, errors = [], []
    for n, row in rows:
        try:
            if not isinstance(row, dict):
                raise InvalidEntry("expected an object")
            entries.append(validate(RegistryEntry(
                org=org, ref=str(row.get("ref") or ""), phash=str(row.get("phash")), dhash=str(row.get("dhash")),
                kind=row.get("kind") or "whole", variant=row.get("variant") or "",
            )))  # fmt: skip
        except InvalidEntry as exc:
            errors.append(f"{source}:{n}: {exc}")
    if errors:
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise InvalidEntry("; ".join(errors[:10]) + more)
    return entries


@dataclass(frozen=True)
class RegistryArrays:
    """Column arrays for fast matching: one numpy array per hash, not one object per entry."""

    ids: list[str]
    orgs: list[str]
    refs: list[str]
    variants: list[str]
    phash: npt.NDArray[np.uint64]
    dhash: npt.NDArray[np.uint64]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def hashes_only(cls, phash: npt.NDArray[np.uint64], dhash: npt.NDArray[np.uint64]) -> RegistryArrays:
        """Just the hashes, for asking whether anything matches (not what): ids left empty, so a
        process that only asks that need not receive every entry's names."""
        blank = [""] * len(phash)
        return cls(ids=blank, orgs=blank, refs=blank, variants=blank, phash=phash, dhash=dhash)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str, str, str, str]]) -> RegistryArrays:
        """From (id, org, ref, variant, phash hex, dhash hex) rows."""
        ids: list[str] = []
        orgs: list[str] = []
        refs: list[str] = []
        variants: list[str] = []
        phashes: list[int] = []
        dhashes: list[int] = []
        for entry_id, org, ref, variant, phash, dhash in rows:
            ids.append(entry_id)
            orgs.append(org)
            refs.append(ref)
            variants.append(variant)
            phashes.append(int(phash, 16))
            dhashes.append(int(dhash, 16))
        return cls(
            ids=ids,
            orgs=orgs,
            refs=refs,
            variants=variants,
            phash=np.array(phashes, dtype=np.uint64),
            dhash=np.array(dhashes, dtype=np.uint64),
        )

    @classmethod
    def from_entries(cls, entries: Iterable[RegistryEntry]) -> RegistryArrays:
        return cls.from_rows((e.id, e.org, e.ref, e.variant, e.phash, e.dhash) for e in entries)


@dataclass(frozen=True)
class OrgStats:
    org: str
    refs: int
    entries: int
    by_kind: dict[str, int]


class SqliteRegistry:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, entries: Iterable[RegistryEntry]) -> int:
        """Add entries; returns how many were new. Re-adding the same entry is a no-op."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [
            (e.id, e.org, e.ref, e.kind, e.variant, e.phash, e.dhash, e.added_at or now) for e in map(validate, entries)
        ]
        with self._db:
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO registry VALUES (?,?,?,?,?,?,?,?)", rows)
            added = self._db.total_changes - before
            if added:
                self._bump()
            return added

    def remove(self, org: str, refs: Iterable[str] | None = None) -> int:
        """Remove every entry (all variants) of the given refs, or of the whole org; returns how many."""
        with self._db:
            if refs is None:
                removed = self._db.execute("DELETE FROM registry WHERE org = ?", (org,)).rowcount
            else:
                removed = sum(
                    self._db.execute("DELETE FROM registry WHERE org = ? AND ref = ?", (org, ref)).rowcount
                    for ref in refs
                )
            if removed:
                self._bump()
            return removed

    def _bump(self) -> None:
        self._db.execute("UPDATE registry_version SET version = version + 1 WHERE id = 1")

    def version(self) -> int:
        """Changes whenever the set of entries changes (a counter, so remove-then-add moves it too)."""
        return int(self._db.execute("SELECT version FROM registry_version WHERE id = 1").fetchone()[0])

    def entries(self, org: str | None = None) -> Iterator[RegistryEntry]:
        sql = "SELECT org, ref, phash, dhash, kind, added_at, variant FROM registry"
        params: tuple[str, ...] = ()
        if org is not None:
            sql += " WHERE org = ?"
            params = (org,)
        for row in self._db.execute(sql + " ORDER BY org, ref, kind, variant, id", params):
            yield RegistryEntry(*row)

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM registry").fetchone()[0])

    def stats(self) -> list[OrgStats]:
        out = []
        for org, refs, entries in self._db.execute(
            "SELECT org, count(DISTINCT ref), count(*) FROM registry GROUP BY org ORDER BY org"
        ).fetchall():
            kinds = dict(self._db.execute("SELECT kind, count(*) FROM registry WHERE org = ? GROUP BY kind", (org,)))
            out.append(OrgStats(org, int(refs), int(entries), {str(k): int(v) for k, v in kinds.items()}))
        return out

    def arrays(self) -> RegistryArrays:
        # Straight from the columns: the stored id, no entry object or id hash per row.
        return RegistryArrays.from_rows(
            self._db.execute("SELECT id, org, ref, variant, phash, dhash FROM registry ORDER BY id")
        )

    def snapshot(self) -> tuple[int, RegistryArrays]:
        """The version and the entries it counts, read in one transaction: an enrolment landing
        between two separate reads would pair a version with entries that are not its own."""
        if self._db.in_transaction:
            raise RuntimeError("snapshot() inside an open transaction would not be one read")
        self._db.execute("BEGIN")  # a read transaction: WAL keeps its view fixed until COMMIT
        try:
            return self.version(), self.arrays()
        finally:
            self._db.execute("COMMIT")
