"""ThumbnailPipeline: keep a small JPEG of each image that matched the registry, as evidence.

The hashing worker makes a small JPEG, from the same decode (~0.6 ms), of each image it decodes
that matches the crawl's registry snapshot; this pipeline keeps those of images that matched and
drops anything else with the item. An image hashed by an earlier crawl (known by URL) has none:
if it matches now, against a newly enrolled entry, it is downloaded again here, through Scrapy's
downloader, so every address rule, size cap and timeout of the crawl applies (fetching at alert
time would bypass them), and the bytes must be the ones that were hashed (same sha256). An image
whose thumbnail the store already has is not fetched again. BIOLEAK_THUMBNAILS = False keeps none
at all.
"""

from __future__ import annotations

import hashlib
import logging

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawlers.context import CrawlContext, crawl_context
from crawlers.fetch import fetch_image
from crawlers.items import ListingItem
from pipeline.images import THUMBNAIL_SIZE, ImageRejected, make_thumbnail

log = logging.getLogger(__name__)


class ThumbnailPipeline:
    def __init__(
        self, crawler: Crawler, context: CrawlContext, *, max_bytes: int, max_pixels: int, size: int = THUMBNAIL_SIZE
    ) -> None:
        self.crawler = crawler
        self.context = context  # its store is asked which thumbnails exist; StorePipeline writes new ones
        context.store(": nowhere to keep thumbnails")
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.size = size
        self._made: set[str] = set()  # image sha256s thumbnailed by this crawl

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ThumbnailPipeline:
        settings = crawler.settings
        if not settings.getbool("BIOLEAK_THUMBNAILS"):
            raise NotConfigured("BIOLEAK_THUMBNAILS is off")
        return cls(
            crawler,
            crawl_context(crawler),
            max_bytes=settings.getint("BIOLEAK_IMAGE_MAX_BYTES"),
            max_pixels=settings.getint("BIOLEAK_IMAGE_MAX_PIXELS"),
            size=settings.getint("BIOLEAK_THUMBNAIL_SIZE"),
        )

    def _skip(self, reason: str, url: str, detail: str = "") -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"bioleak/thumbnails/skipped/{reason}")
        log.info("no thumbnail (%s): %s %s", reason, url, detail)

    async def _thumbnail(self, url: str, sha256: str) -> bytes | None:
        body = await fetch_image(self.crawler, url, max_bytes=self.max_bytes, skip=self._skip)
        if body is None:
            return None
        if hashlib.sha256(body).hexdigest() != sha256:
            # The site now serves something else: a thumbnail of it would not be the evidence.
            self._skip("changed", url, "not the bytes that were hashed")
            return None
        try:
            limits = {"max_bytes": self.max_bytes, "max_pixels": self.max_pixels, "size": self.size}
            jpeg: bytes = await maybe_deferred_to_future(deferToThread(make_thumbnail, body, **limits))
        except ImageRejected as exc:  # it was hashed, so this is unexpected; still only a skip
            self._skip(exc.reason, url, exc.detail)
            return None
        return jpeg

    async def process_item(self, item: ListingItem) -> ListingItem:
        made, item.image_thumbnails = item.image_thumbnails, {}  # unmatched ones go no further than here
        wanted: dict[str, str] = {}  # sha256 -> one URL it was fetched from
        for hit in item.hits:
            if hit.image_sha256 not in self._made:
                wanted.setdefault(hit.image_sha256, hit.image_url)
        # The worker's thumbnails are kept without asking the store first: writing one that an
        # earlier crawl kept is idempotent (same bytes, same JPEG), and asking costs a store round
        # trip on the reactor per listing with hits. Only a thumbnail that would cost a download
        # is first looked for in the store.
        thumbnails = {sha: made[sha] for sha in wanted if sha in made}
        missing = {sha: url for sha, url in wanted.items() if sha not in made}
        if missing:
            shas = list(missing)
            kept = await self.context.in_store(lambda store: store.get_thumbnails(shas))  # by an earlier crawl
            self._made.update(kept)
            missing = {sha: url for sha, url in missing.items() if sha not in kept}
        for sha256, url in missing.items():  # downloads are rare (see above): one at a time is plenty
            jpeg = await self._thumbnail(url, sha256)
            if jpeg is not None:
                thumbnails[sha256] = jpeg
        self._made.update(thumbnails)
        if thumbnails:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("bioleak/thumbnails/kept", len(thumbnails))
        item.thumbnails = thumbnails
        return item
