"""Run history of crawls (scheduled or by hand), per-source locks, and failure streaks.

Kept in DATA_DIR/runs.sqlite3, apart from the listings store: it is the operator's record of
what ran on this machine, and it must survive a store outage.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

STATUSES = ("running", "ok", "degraded", "failed", "timeout", "terminated", "skipped", "missed", "interrupted")
# What counts towards an operator alert: a run that did not do its job (degraded: it ran, but
# found nothing, a selector matched nothing, or too many pages failed).
FAILURES = frozenset({"degraded", "failed", "timeout", "interrupted"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    returncode INTEGER,
    pages INTEGER NOT NULL DEFAULT 0,
    listings INTEGER NOT NULL DEFAULT 0,
    hits INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    log_file TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_source ON runs (source, id);
-- consecutive failures per source, and whether the operator was told about this streak
CREATE TABLE IF NOT EXISTS health (
    source TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    alerted INTEGER NOT NULL DEFAULT 0
);
"""


_SELECT_RUNS = (
    "SELECT id, source, trigger, started, finished, status, returncode, pages, listings, hits, errors, detail,"
    " log_file FROM runs"
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Run:
    id: int
    source: str
    trigger: str  # schedule | manual
    started: str
    finished: str
    status: str  # one of STATUSES
    returncode: int | None
    pages: int
    listings: int
    hits: int
    errors: int
    detail: str
    log_file: str


@dataclass(frozen=True)
class Health:
    source: str
    failures: int  # consecutive, since the last successful run
    alerted: bool  # the operator was sent a failure alert for this streak


class RunHistory:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def start(self, source: str, trigger: str, log_file: str) -> int:
        cursor = self._db.execute(
            "INSERT INTO runs (source, trigger, started, status, log_file) VALUES (?, ?, ?, 'running', ?)",
            (source, trigger, now_iso(), log_file),
        )
        return int(cursor.lastrowid or 0)

    def finish(
        self, run_id: int, status: str, *, returncode: int | None, pages: int = 0, listings: int = 0,
        hits: int = 0, errors: int = 0, detail: str = "",
    ) -> None:  # fmt: skip
        self._db.execute(
            "UPDATE runs SET finished = ?, status = ?, returncode = ?, pages = ?, listings = ?, hits = ?,"
            " errors = ?, detail = ? WHERE id = ?",
            (now_iso(), status, returncode, pages, listings, hits, errors, detail[:500], run_id),
        )

    def note(self, source: str, trigger: str, status: str, detail: str) -> int:
        """A run that did not happen (skipped, missed), recorded so the operator sees why."""
        at = now_iso()
        cursor = self._db.execute(
            "INSERT INTO runs (source, trigger, started, finished, status, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (source, trigger, at, at, status, detail[:500]),
        )
        return int(cursor.lastrowid or 0)

    def runs(self, source: str | None = None, limit: int = 20) -> list[Run]:
        """Newest first."""
        rows = self._db.execute(
            _SELECT_RUNS + " WHERE (? IS NULL OR source = ?) ORDER BY id DESC LIMIT ?", (source, source, limit)
        )
        return [Run(*row) for row in rows]

    def get(self, run_id: int) -> Run | None:
        row = self._db.execute(_SELECT_RUNS + " WHERE id = ?", (run_id,)).fetchone()
        return Run(*row) if row else None

    def interrupted(self, source: str) -> list[int]:
        """Runs of `source` still marked running (call with the source's lock held: none is
        really running, so their process died) are marked interrupted; their ids are returned."""
        ids = [r for (r,) in self._db.execute("SELECT id FROM runs WHERE source = ? AND status = 'running'", (source,))]
        for run_id in ids:
            self.finish(run_id, "interrupted", returncode=None, detail="the process running it died")
        return ids

    # --- failure streaks -----------------------------------------------------------------------

    def health(self, source: str) -> Health:
        row = self._db.execute("SELECT failures, alerted FROM health WHERE source = ?", (source,)).fetchone()
        return Health(source, row[0], bool(row[1])) if row else Health(source, 0, False)

    def set_health(self, health: Health) -> None:
        self._db.execute(
            "INSERT INTO health VALUES (?, ?, ?) ON CONFLICT (source) DO UPDATE SET failures = excluded.failures,"
            " alerted = excluded.alerted",
            (health.source, health.failures, int(health.alerted)),
        )


class SourceBusy(Exception):
    pass


def try_lock(path: Path) -> IO[str] | None:
    """An exclusive OS lock on `path`, held while the returned file stays open (and released
    when its process dies); None if another holder has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


@contextmanager
def source_lock(data_dir: Path, source: str) -> Iterator[IO[str]]:
    """At most one crawl of a source at a time on this machine, whoever starts it (the scheduler
    or `bioleak crawl`). The lock file is yielded so the crawl process can hold it too: a crawl
    left running by a parent that died still keeps a second one from starting."""
    handle = try_lock(data_dir / "locks" / f"{source}.lock")
    if handle is None:
        raise SourceBusy(f"a crawl of {source} is already running")
    try:
        yield handle
    finally:
        handle.close()
