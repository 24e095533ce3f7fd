"""The registry snapshot a crawl matches against: its entries and the version that counts exactly
those, read in one transaction. CrawlContext loads it once per crawl; an organisation enrolling
during the crawl is matched from the next one on."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.registry import RegistryArrays, SqliteRegistry


@dataclass(frozen=True)
class RegistrySnapshot:
    path: str
    version: int
    arrays: RegistryArrays


def load_snapshot(path: str) -> RegistrySnapshot:
    registry = SqliteRegistry(path)
    try:
        version, arrays = registry.snapshot()
    finally:
        registry.close()
    return RegistrySnapshot(path, version, arrays)
