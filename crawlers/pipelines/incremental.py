"""Incremental crawling: a listing whose content (and the registry it was matched against) has
not changed since it was last processed is dropped before any classification or hashing."""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from crawlers.context import crawl_context
from crawlers.items import ListingItem
from crawlers.state import CrawlState


class _StatePipeline:
    def __init__(self, crawler: Crawler, state: CrawlState, registry_version: str) -> None:
        self.crawler = crawler
        self.state = state
        # The version of the very entries MatchPipeline matches against (the crawl's one
        # snapshot): read apart from them, an enrolment in between would mark listings as matched
        # against entries they never met, and the next crawl would skip them.
        self.registry_version = registry_version

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> _StatePipeline:
        context = crawl_context(crawler)
        if context.state is None:
            raise NotConfigured("BIOLEAK_STATE is not set: every listing is processed")
        return cls(crawler, context.state, context.registry_version)


class SkipUnchangedPipeline(_StatePipeline):
    def process_item(self, item: ListingItem) -> ListingItem:
        if self.state.is_unchanged(item.listing_id, item.content_sha256, self.registry_version):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("bioleak/listings/unchanged")
            raise DropItem(f"unchanged since the last crawl: {item.url}", log_level="DEBUG")
        return item


class MarkProcessedPipeline(_StatePipeline):
    """Last in the chain: only listings that were stored are remembered as processed."""

    def process_item(self, item: ListingItem) -> ListingItem:
        self.state.mark_processed(item.listing_id, item.content_sha256, self.registry_version)
        return item
