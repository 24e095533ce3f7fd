"""The registry a crawl matches against: read once per crawl and shared by every component that
needs it (MatchPipeline, and ImageHashPipeline's thumbnail decision), so all of them see the same
entries. An organisation enrolling during the crawl is matched from the next one on."""

from __future__ import annotations

import weakref
from typing import Any

from pipeline.registry import RegistryArrays, SqliteRegistry

_snapshots: weakref.WeakKeyDictionary[Any, tuple[str, RegistryArrays]] = weakref.WeakKeyDictionary()


def registry_arrays(crawler: Any, path: str) -> RegistryArrays:
    """The crawl's snapshot of the registry at `path`, loaded on the first call."""
    snapshot = _snapshots.get(crawler)
    if snapshot is None or snapshot[0] != path:
        registry = SqliteRegistry(path)
        try:
            snapshot = (path, registry.arrays())
        finally:
            registry.close()
        _snapshots[crawler] = snapshot
    return snapshot[1]
