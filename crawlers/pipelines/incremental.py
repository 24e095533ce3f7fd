"""Incremental crawling: a listing whose content (and the registry it was matched against) has
not changed since it was last processed is dropped before any classification or hashing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy.exceptions import DropItem, NotConfigured

from crawlers.items import ListingItem
from crawlers.registry import registry_snapshot
from crawlers.state import CrawlState

log = logging.getLogger(__name__)


def registry_version(crawler: Any, path: str | None) -> str:
    """The version of the registry snapshot this crawl matches against ("none" without one)."""
    if not path or not Path(path).exists():
        return "none"
    return str(registry_snapshot(crawler, path).version)


class _StatePipeline:
    def __init__(self, crawler: Any, *, state_path: str, registry_path: str | None) -> None:
        self.crawler = crawler
        self.state = CrawlState(state_path)
        # The version of the very entries MatchPipeline matches against (one snapshot per crawl):
        # read apart from them, an enrolment in between would mark listings as matched against
        # entries they never met, and the next crawl would skip them.
        self.registry_version = registry_version(crawler, registry_path)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        path = crawler.settings.get("BIOLEAK_STATE")
        if not path:
            raise NotConfigured("BIOLEAK_STATE is not set: every listing is processed")
        return cls(crawler, state_path=path, registry_path=crawler.settings.get("BIOLEAK_REGISTRY"))

    def close_spider(self) -> None:
        self.state.close()


class SkipUnchangedPipeline(_StatePipeline):
    def process_item(self, item: ListingItem) -> ListingItem:
        if self.state.is_unchanged(item["listing_id"], item["content_sha256"], self.registry_version):
            self.crawler.stats.inc_value("bioleak/listings/unchanged")
            raise DropItem(f"unchanged since the last crawl: {item['url']}", log_level="DEBUG")
        return item


class MarkProcessedPipeline(_StatePipeline):
    """Last in the chain: only listings that were stored are remembered as processed."""

    def process_item(self, item: ListingItem) -> ListingItem:
        self.state.mark_processed(item["listing_id"], item["content_sha256"], self.registry_version)
        return item
