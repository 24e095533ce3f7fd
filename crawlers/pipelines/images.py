"""ImageHashPipeline: download each listing image through Scrapy's downloader, decode it
safely and keep only its hashes. The bytes are dropped as soon as they are hashed."""

from __future__ import annotations

import logging
from typing import Any

import scrapy
from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawlers.items import ListingItem
from pipeline.hashing import hash_decoded
from pipeline.images import ImageRejected, decode_image
from pipeline.models import ImageHashes

log = logging.getLogger(__name__)


class ImageHashPipeline:
    def __init__(self, crawler: Any, *, max_bytes: int, max_pixels: int) -> None:
        self.crawler = crawler
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self._by_url: dict[str, ImageHashes] = {}  # the same image on several listings is fetched once

    @classmethod
    def from_crawler(cls, crawler: Any) -> ImageHashPipeline:
        if not crawler.settings.getbool("BIOLEAK_IMAGES_ENABLED", True):
            raise NotConfigured("BIOLEAK_IMAGES_ENABLED is off")
        return cls(
            crawler,
            max_bytes=crawler.settings.getint("BIOLEAK_IMAGE_MAX_BYTES", 20 * 1024 * 1024),
            max_pixels=crawler.settings.getint("BIOLEAK_IMAGE_MAX_PIXELS", 40_000_000),
        )

    def _skip(self, reason: str, url: str, detail: str = "") -> None:
        self.crawler.stats.inc_value(f"bioleak/images/rejected/{reason}")
        log.info("image skipped (%s): %s %s", reason, url, detail)

    async def _fetch(self, url: str) -> ImageHashes | None:
        if url in self._by_url:
            return self._by_url[url]
        request = scrapy.Request(url, meta={"download_maxsize": self.max_bytes}, dont_filter=True)
        try:
            response = await self.crawler.engine.download_async(request)
        except IgnoreRequest as exc:
            self._skip("refused", url, str(exc))
            return None
        except Exception as exc:  # network errors, timeouts, size cap: a skip, never a crash
            self._skip("download_failed", url, repr(exc)[:200])
            return None
        if response.status != 200:
            self._skip(f"http_{response.status}", url)
            return None
        try:
            decoded = decode_image(response.body, max_bytes=self.max_bytes, max_pixels=self.max_pixels)
        except ImageRejected as exc:
            self._skip(exc.reason, url, exc.detail)
            return None
        hashes = hash_decoded(decoded)
        self._by_url[url] = hashes
        self.crawler.stats.inc_value("bioleak/images/hashed")
        return hashes

    async def process_item(self, item: ListingItem) -> ListingItem:
        images = []
        for url in item["image_urls"]:
            hashes = await self._fetch(url)
            if hashes is not None:
                images.append((url, hashes))
        item["images"] = images
        return item
