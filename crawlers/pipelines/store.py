from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import DropItem, NotConfigured

from crawlers.items import ListingItem
from indexer.open import open_store
from pipeline.models import Listing

log = logging.getLogger(__name__)


def to_listing(item: ListingItem) -> Listing:
    classification = item["classification"]
    entities = item["entities"]
    return Listing(
        id=item["listing_id"],
        source=item["source"],
        url=item["url"],
        site=item["site"],
        title=item["title"],
        text=item["text"],
        lang=item.get("lang") or "",
        category=classification.category,
        score=classification.score,
        evidence=classification.evidence,
        prices=entities.prices,
        quantity=entities.quantity,
        contacts=entities.contacts,
        image_urls=tuple(item["image_urls"]),
        author=item.get("author") or "",
        posted_at=item.get("posted_at") or "",
        tool_links=tuple(item.get("tool_links") or ()),
        first_seen=item["fetched_at"],
        last_seen=item["fetched_at"],
        content_sha256=item["content_sha256"],
    )


class StorePipeline:
    """Write the listing, the thumbnails of its matched images, then its hits, to the configured
    store (SQLite file or ES URL)."""

    def __init__(self, crawler: Any, *, store_url: str, es_prefix: str) -> None:
        self.crawler = crawler
        self.store = open_store(store_url, es_prefix=es_prefix)

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        url = crawler.settings.get("BIOLEAK_STORE")
        if not url:
            raise NotConfigured("BIOLEAK_STORE is not set")
        return cls(crawler, store_url=url, es_prefix=crawler.settings.get("BIOLEAK_ES_PREFIX", "bioleak"))

    def process_item(self, item: ListingItem) -> ListingItem:
        stats = self.crawler.stats
        failed = False
        thumbnails = item.get("thumbnails") or {}
        for kind, result in (
            ("listings", self.store.upsert_listings([to_listing(item)])),
            # before the hits: an alert sent for a hit finds its thumbnail
            ("thumbnails", self.store.put_thumbnails(thumbnails) if thumbnails else None),
            ("hits", self.store.upsert_hits(item.get("hits") or [])),
        ):
            if result is None:
                continue
            stats.inc_value(f"bioleak/stored/{kind}", result.written)
            if result.failed:
                failed = True
                stats.inc_value(f"bioleak/store_failed/{kind}", result.failed)
                log.error("store rejected %d %s: %s", result.failed, kind, "; ".join(result.errors))
        if failed:  # not marked processed, so the next crawl tries again
            raise DropItem(f"not stored: {item['url']}")
        return item

    def close_spider(self) -> None:
        try:
            self.store.refresh()  # what a crawl found is searchable as soon as `bioleak crawl` returns
        finally:
            self.store.close()
