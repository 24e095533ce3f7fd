from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from scrapy.exceptions import NotConfigured

from crawlers.items import ListingItem
from crawlers.registry import registry_arrays
from pipeline.matching import RegistryIndex
from pipeline.models import Hit
from pipeline.registry import RegistryArrays

log = logging.getLogger(__name__)


class MatchPipeline:
    """Match every hashed image against the protected registry, loaded once per crawl."""

    def __init__(self, crawler: Any, arrays: RegistryArrays) -> None:
        self.crawler = crawler
        self.index = RegistryIndex(arrays)

    @classmethod
    def from_crawler(cls, crawler: Any) -> MatchPipeline:
        path = crawler.settings.get("BIOLEAK_REGISTRY")
        if not path:
            raise NotConfigured("BIOLEAK_REGISTRY is not set")
        arrays = registry_arrays(crawler, path)
        log.info("registry loaded: %d entries from %s", len(arrays), path)
        return cls(crawler, arrays)

    def process_item(self, item: ListingItem) -> ListingItem:
        hits: dict[str, Hit] = {}  # by deterministic id: the same bytes under two URLs are one finding
        now = datetime.now(UTC).isoformat(timespec="seconds")
        images = list(item.get("images") or ())
        for (url, hashes), matches in zip(images, self.index.match_many([h for _, h in images]), strict=True):
            for m in matches:
                hit_id = Hit.make_id(item["listing_id"], hashes.sha256, m.entry_id)
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
                        listing_id=item["listing_id"],
                        found_at=now,
                    ),
                )
        item["hits"] = list(hits.values())
        self.crawler.stats.inc_value("bioleak/hits", len(hits))
        return item
