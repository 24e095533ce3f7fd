"""The protected registry: hashes of organisations' own images, never the images themselves."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.hashing import hash_bytes
from pipeline.models import RegistryEntry

HEX64 = re.compile(r"^[0-9a-f]{16}$")
ORG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS registry (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    ref TEXT NOT NULL,
    kind TEXT NOT NULL,
    phash TEXT NOT NULL,
    dhash TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS registry_org ON registry (org, ref);
"""


class InvalidEntry(ValueError):
    pass


def validate(entry: RegistryEntry) -> RegistryEntry:
    if not ORG_NAME.match(entry.org):
        raise InvalidEntry(f"invalid organisation name {entry.org!r} (letters, digits, . _ -; max 64)")
    if not entry.ref or len(entry.ref) > 256 or any(ord(c) < 32 for c in entry.ref):
        raise InvalidEntry(f"invalid ref {entry.ref!r} (1-256 printable characters)")
    for name in ("phash", "dhash"):
        value = getattr(entry, name)
        if not HEX64.match(value):
            raise InvalidEntry(f"{name} must be 16 lowercase hex digits, got {value!r}")
    return entry


@dataclass(frozen=True)
class RegistryArrays:
    """Column arrays for fast matching: one numpy array per field, not one object per entry."""

    ids: list[str]
    orgs: list[str]
    refs: list[str]
    phash: npt.NDArray[np.uint64]
    dhash: npt.NDArray[np.uint64]

    def __len__(self) -> int:
        return len(self.ids)


class SqliteRegistry:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, entries: Iterable[RegistryEntry]) -> int:
        """Add entries; returns how many were new. Re-adding the same entry is a no-op."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [(e.id, e.org, e.ref, e.kind, e.phash, e.dhash, e.added_at or now) for e in map(validate, entries)]
        with self._db:
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO registry VALUES (?,?,?,?,?,?,?)", rows)
            return self._db.total_changes - before

    def entries(self, org: str | None = None) -> Iterator[RegistryEntry]:
        sql = "SELECT org, ref, phash, dhash, kind, added_at FROM registry"
        params: tuple[str, ...] = ()
        if org is not None:
            sql += " WHERE org = ?"
            params = (org,)
        for row in self._db.execute(sql + " ORDER BY org, ref, kind, id", params):
            yield RegistryEntry(*row)

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM registry").fetchone()[0])

    def arrays(self) -> RegistryArrays:
        rows = self._db.execute("SELECT id, org, ref, phash, dhash FROM registry ORDER BY id").fetchall()
        return RegistryArrays(
            ids=[r[0] for r in rows],
            orgs=[r[1] for r in rows],
            refs=[r[2] for r in rows],
            phash=np.array([int(r[3], 16) for r in rows], dtype=np.uint64),
            dhash=np.array([int(r[4], 16) for r in rows], dtype=np.uint64),
        )


def entry_for_image(org: str, ref: str, data: bytes, *, kind: str = "whole") -> RegistryEntry:
    """Hash one protected image for enrolment. Raises `ImageRejected` for unusable files."""
    whole = hash_bytes(data).regions[0]
    return validate(RegistryEntry(org=org, ref=ref, phash=whole.phash, dhash=whole.dhash, kind=kind))
