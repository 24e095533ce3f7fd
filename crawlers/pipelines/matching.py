from __future__ import annotations

import logging
from datetime import UTC, datetime

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawlers.context import crawl_context
from crawlers.items import ListingItem
from pipeline.matching import RegistryIndex
from pipeline.models import Hit
from pipeline.registry import RegistryArrays

log = logging.getLogger(__name__)


class MatchPipeline:
    """Match every hashed image against the crawl's registry snapshot."""

    def __init__(self, crawler: Crawler, arrays: RegistryArrays) -> None:
        self.crawler = crawler
        self.index = RegistryIndex(arrays)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MatchPipeline:
        context = crawl_context(crawler)
        snapshot = context.registry
        if snapshot is None:
            raise NotConfigured("BIOLEAK_REGISTRY is not set, or has no registry yet")
        log.info("registry loaded: %d entries from %s", len(snapshot.arrays), snapshot.path)
        return cls(crawler, snapshot.arrays)

    def process_item(self, item: ListingItem) -> ListingItem:
        hits: dict[str, Hit] = {}  # by deterministic id: the same bytes under two URLs are one finding
        now = datetime.now(UTC).isoformat(timespec="seconds")
        images = item.images
        for (url, hashes), matches in zip(images, self.index.match_many([h for _, h in images]), strict=True):
            for m in matches:
                hit_id = Hit.make_id(item.listing_id, hashes.sha256, m.entry_id)
                hits.setdefault(
                    hit_id,
                    Hit(
                        id=hit_id,
                        org=m.org,
                        registry_ref=m.ref,
                        registry_entry_id=m.entry_id,
                        algorithm="phash+dhash",
                        distance=m.distance,
                        dhash_distance=m.dhash_distance,
                        region=m.region,
                        image_url=url,
                        image_sha256=hashes.sha256,
                        listing_id=item.listing_id,
                        found_at=now,
                    ),
                )
        item.hits = list(hits.values())
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("bioleak/hits", len(hits))
        return item
