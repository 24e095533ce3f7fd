"""The registry a crawl matches against: read once per crawl and shared by every component that
needs it (MatchPipeline, ImageHashPipeline's thumbnail decision, and the incremental pipelines
that record which registry version a listing was matched against), so all of them see the same
entries and the version that counts exactly those. An organisation enrolling during the crawl
is matched from the next one on."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from pipeline.registry import RegistryArrays, SqliteRegistry


@dataclass(frozen=True)
class RegistrySnapshot:
    path: str
    version: int
    arrays: RegistryArrays


_snapshots: weakref.WeakKeyDictionary[Any, RegistrySnapshot] = weakref.WeakKeyDictionary()


def registry_snapshot(crawler: Any, path: str) -> RegistrySnapshot:
    """The crawl's snapshot of the registry at `path`, loaded on the first call."""
    snapshot = _snapshots.get(crawler)
    if snapshot is None or snapshot.path != path:
        registry = SqliteRegistry(path)
        try:
            version, arrays = registry.snapshot()
        finally:
            registry.close()
        snapshot = _snapshots[crawler] = RegistrySnapshot(path, version, arrays)
    return snapshot


def registry_arrays(crawler: Any, path: str) -> RegistryArrays:
    """The entries of the crawl's snapshot of the registry at `path`."""
    return registry_snapshot(crawler, path).arrays
