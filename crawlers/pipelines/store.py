from __future__ import annotations

import hashlib
import logging
from typing import Any

from scrapy.exceptions import NotConfigured

from crawlers.items import ListingItem
from indexer.open import open_store
from pipeline.models import Listing

log = logging.getLogger(__name__)


def to_listing(item: ListingItem) -> Listing:
    classification = item["classification"]
    entities = item["entities"]
    content = f"{item['title']}\n{item['text']}\n" + "\n".join(item["image_urls"])
    return Listing(
        id=item["listing_id"],
        source=item["source"],
        url=item["url"],
        site=item["site"],
        title=item["title"],
        text=item["text"],
        category=classification.category,
        score=classification.score,
        evidence=classification.evidence,
        prices=entities.prices,
        quantity=entities.quantity,
        contacts=entities.contacts,
        image_urls=tuple(item["image_urls"]),
        first_seen=item["fetched_at"],
        last_seen=item["fetched_at"],
        content_sha256=hashlib.sha256(content.encode("utf-8")).hexdigest(),
    )


class StorePipeline:
    """Write the listing, then its hits, to the configured store (SQLite file or ES URL)."""

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
        for kind, result in (
            ("listings", self.store.upsert_listings([to_listing(item)])),
            ("hits", self.store.upsert_hits(item.get("hits") or [])),
        ):
            stats.inc_value(f"bioleak/stored/{kind}", result.written)
            if result.failed:
                stats.inc_value(f"bioleak/store_failed/{kind}", result.failed)
                log.error("store rejected %d %s: %s", result.failed, kind, "; ".join(result.errors))
        return item

    def close_spider(self) -> None:
        self.store.close()
