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
    def __init__(self, crawler: Any, *, max_bytes: int, max_pixels: int, face_detection: str = "auto") -> None:
        if face_detection not in ("auto", "always", "never"):
            raise ValueError(f"BIOLEAK_FACE_DETECTION must be auto, always or never, got {face_detection!r}")
        self.crawler = crawler
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.face_detection = face_detection
        # The same image on several listings is fetched once (keyed by URL and whether faces were hashed).
        self._by_url: dict[tuple[str, bool], ImageHashes] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> ImageHashPipeline:
        if not crawler.settings.getbool("BIOLEAK_IMAGES_ENABLED", True):
            raise NotConfigured("BIOLEAK_IMAGES_ENABLED is off")
        return cls(
            crawler,
            max_bytes=crawler.settings.getint("BIOLEAK_IMAGE_MAX_BYTES", 20 * 1024 * 1024),
            max_pixels=crawler.settings.getint("BIOLEAK_IMAGE_MAX_PIXELS", 40_000_000),
            face_detection=crawler.settings.get("BIOLEAK_FACE_DETECTION", "auto"),
        )

    def _skip(self, reason: str, url: str, detail: str = "") -> None:
        self.crawler.stats.inc_value(f"bioleak/images/rejected/{reason}")
        log.info("image skipped (%s): %s %s", reason, url, detail)

    def _wants_faces(self, item: ListingItem) -> bool:
        # Detection costs ~10x a hash (DESIGN.md): by default only where faces are what is sold.
        if self.face_detection != "auto":
            return self.face_detection == "always"
        classification = item.get("classification")
        return classification is not None and classification.category == "face_data_sale"

    async def _fetch(self, url: str, faces: bool) -> ImageHashes | None:
        if (url, faces) in self._by_url:
            return self._by_url[(url, faces)]
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
        hashes = hash_decoded(decoded, faces=faces)
        self._by_url[(url, faces)] = hashes
        self.crawler.stats.inc_value("bioleak/images/hashed")
        return hashes

    async def process_item(self, item: ListingItem) -> ListingItem:
        images = []
        faces = self._wants_faces(item)
        for url in item["image_urls"]:
            hashes = await self._fetch(url, faces)
            if hashes is not None:
                images.append((url, hashes))
        item["images"] = images
        return item
