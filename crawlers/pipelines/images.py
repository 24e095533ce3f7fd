"""ImageHashPipeline: download each listing image through Scrapy's downloader (so every network
rule applies), decode it safely and keep only its hashes. The bytes are dropped once hashed.

Work already done is reused: an image URL seen before is not downloaded again, and bytes seen
before (by sha256) are not decoded again, within a crawl and, with BIOLEAK_STATE, across crawls.
Decoding and hashing run in worker processes (BIOLEAK_HASH_WORKERS, default: one per core), fed
from the reactor through their own pipes (crawlers/workerpool.py), so they neither block it nor
compete for its GIL; 0 hashes in reactor threads. Identical bytes arriving twice at once are
hashed once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import os
from functools import partial

import numpy as np
import numpy.typing as npt
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import DeferredSemaphore
from twisted.internet.threads import deferToThread

from crawlers.context import crawl_context
from crawlers.fetch import fetch_image
from crawlers.hashworker import decode_and_hash, init_worker, match_index
from crawlers.items import ListingItem
from crawlers.state import CrawlState
from crawlers.workerpool import WorkerCrashed, WorkerPool
from pipeline.images import ImageRejected
from pipeline.models import ImageHashes

log = logging.getLogger(__name__)


def hash_workers(setting: str | int) -> int:
    """ "auto": one per core. The reactor is busy only about half the time (Scrapy waits on the
    network), so a worker per core fills both cores: on 2 cores 2 workers crawl ~15% faster
    than 1 (bench/crawl_bench.py)."""
    if str(setting) == "auto":
        return os.cpu_count() or 1
    workers = int(setting)
    if workers < 0:
        raise ValueError(f"BIOLEAK_HASH_WORKERS must be 'auto' or >= 0, got {setting!r}")
    return workers


# Bytes each pipe to and from a hashing worker may hold (Linux; 64 KiB by default, less than one
# photo): with whole images waiting in its pipe, a worker that finishes one starts the next
# without waiting for the reactor to write the rest of it. Alternating 2,000-listing crawls:
# 114.7 against 105.5 listings/s with the default size (means of four each).
WORKER_PIPE_BYTES = 1 << 20


def _thumbnail_size(settings: BaseSettings) -> int:
    """Thumbnails only where ThumbnailPipeline can keep them: on, with a registry and a store."""
    wanted = settings.getbool("BIOLEAK_THUMBNAILS") and settings.get("BIOLEAK_REGISTRY")
    return settings.getint("BIOLEAK_THUMBNAIL_SIZE") if wanted and settings.get("BIOLEAK_STORE") else 0


class ImageHashPipeline:
    def __init__(
        self,
        crawler: Crawler,
        *,
        max_bytes: int,
        max_pixels: int,
        face_detection: str = "auto",
        state: CrawlState | None = None,
        workers: int = 0,
        thumbnail_size: int = 0,
        registry_hashes: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]] | None = None,
        images_in_flight: int = 48,
    ) -> None:
        if images_in_flight < 1:
            raise ValueError(f"BIOLEAK_IMAGES_IN_FLIGHT must be at least 1, got {images_in_flight}")
        if face_detection not in ("auto", "always", "never"):
            raise ValueError(f"BIOLEAK_FACE_DETECTION must be auto, always or never, got {face_detection!r}")
        self.crawler = crawler
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.face_detection = face_detection
        self.state = state
        self._by_url: dict[tuple[str, bool], ImageHashes] = {}
        self._by_content: dict[tuple[str, bool], ImageHashes] = {}
        self._hashing: dict[tuple[str, bool], asyncio.Future[tuple[ImageHashes, bytes | None]]] = {}
        # URLs being downloaded right now: a logo on every page of a forum is fetched once, and
        # the listings that show it (with face detection or without) share that one download.
        self._downloads: dict[str, asyncio.Future[bytes | None]] = {}
        self.thumbnail_size = thumbnail_size  # 0: no thumbnails (ThumbnailPipeline is off)
        # (pHash, dHash) of every registry entry: thumbnails only of images that match (None: of all)
        self.registry_hashes = registry_hashes
        # For hashing in threads (0 workers); worker processes build their own in init_worker.
        self._registry = None if workers else match_index(registry_hashes)
        self.workers = workers
        self._pool: WorkerPool | None = None
        self._in_flight = DeferredSemaphore(images_in_flight)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ImageHashPipeline:
        settings = crawler.settings
        if not settings.getbool("BIOLEAK_IMAGES_ENABLED"):
            raise NotConfigured("BIOLEAK_IMAGES_ENABLED is off")
        context = crawl_context(crawler)
        size = _thumbnail_size(settings)
        registry_hashes = None
        snapshot = context.registry if size else None
        if snapshot is not None:  # which images get a thumbnail: those matching the crawl's snapshot
            registry_hashes = (snapshot.arrays.phash, snapshot.arrays.dhash)
        return cls(
            crawler,
            max_bytes=settings.getint("BIOLEAK_IMAGE_MAX_BYTES"),
            max_pixels=settings.getint("BIOLEAK_IMAGE_MAX_PIXELS"),
            face_detection=settings.get("BIOLEAK_FACE_DETECTION"),
            state=context.state,
            workers=hash_workers(settings.get("BIOLEAK_HASH_WORKERS")),
            thumbnail_size=size,
            registry_hashes=registry_hashes,
            images_in_flight=settings.getint("BIOLEAK_IMAGES_IN_FLIGHT"),
        )

    def close_spider(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def _worker_pool(self) -> WorkerPool:
        if self._pool is None:  # started on the first image: crawls without images pay nothing
            self._pool = WorkerPool(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(self.registry_hashes,),
                pipe_bytes=WORKER_PIPE_BYTES,
            )
        return self._pool

    async def _hash(self, body: bytes, faces: bool) -> tuple[ImageHashes, bytes | None]:
        """Decode and hash off the reactor: in a worker process, awaited without tying up a
        thread (0 workers: in a reactor thread)."""
        job = partial(decode_and_hash, body, max_bytes=self.max_bytes, max_pixels=self.max_pixels, faces=faces,
                      thumbnail=self.thumbnail_size)  # fmt: skip
        if not self.workers:
            return await maybe_deferred_to_future(deferToThread(partial(job, registry=self._registry)))
        try:
            result: tuple[ImageHashes, bytes | None] = await self._worker_pool().run(job)
        except WorkerCrashed:
            # A decoder crashed the worker on hostile bytes: this image is skipped; the images
            # queued behind it go to a fresh worker.
            raise ImageRejected("worker_crashed", "the hashing worker died on this image") from None
        return result

    def _skip(self, reason: str, url: str, detail: str = "") -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"bioleak/images/rejected/{reason}")
        log.info("image skipped (%s): %s %s", reason, url, detail)

    def _wants_faces(self, item: ListingItem) -> bool:
        # Detection costs ~10x a hash (DESIGN.md): by default only where faces are what is sold.
        if self.face_detection != "auto":
            return self.face_detection == "always"
        return item.classification is not None and item.classification.category == "face_data_sale"

    def _known(self, url: str, faces: bool) -> ImageHashes | None:
        # Hashes with faces are a superset of those without: either serves a listing without.
        for key in ((url, faces), (url, True)) if not faces else ((url, True),):
            hashes = self._by_url.get(key)
            if hashes is None and self.state is not None:
                hashes = self.state.hashes_for_url(*key)
                if hashes is not None:
                    self._by_url[key] = hashes
            if hashes is not None:
                return hashes
        if faces and (url, False) in self._by_url:
            # Downloaded once per crawl: an image this crawl hashed for a listing that wanted no
            # face detection (a related product's thumbnail) is not fetched again for one that
            # does; a later crawl, which has not downloaded it, detects its faces.
            self.crawler.stats.inc_value("bioleak/images/faces_not_redone")
            return self._by_url[(url, False)]
        return None

    def _remember(self, url: str, faces: bool, hashes: ImageHashes) -> ImageHashes:
        self._by_url[(url, faces)] = hashes
        self._by_content[(hashes.sha256, faces)] = hashes
        if self.state is not None:
            self.state.remember_image(url, faces, hashes)
        return hashes

    async def _fetch(self, url: str, faces: bool) -> tuple[ImageHashes, bytes | None] | None:
        """An image's hashes: known ones reused, and each URL downloaded once per crawl however
        many listings show it at once (a logo on every page, a photo posted twice)."""
        stats = self.crawler.stats
        assert stats is not None
        known = self._known(url, faces)
        if known is not None:
            stats.inc_value("bioleak/images/known_url")
            return known, None
        pending = self._downloads.get(url)
        if pending is None:
            # Bounded: images wait for the hashing workers with their bytes, so the number in
            # flight bounds the crawl's memory.
            await maybe_deferred_to_future(self._in_flight.acquire())
            try:
                pending = self._downloads.get(url)  # another listing may have started it meanwhile
                if pending is None:
                    known = self._known(url, faces)
                    if known is not None:
                        stats.inc_value("bioleak/images/known_url")
                        return known, None
                    self._downloads[url] = task = asyncio.ensure_future(
                        fetch_image(self.crawler, url, max_bytes=self.max_bytes, skip=self._skip)
                    )
                    try:  # kept until hashed: a listing asking meanwhile shares the bytes
                        body = await task
                        return None if body is None else await self._hash_body(url, body, faces)
                    finally:
                        del self._downloads[url]
            finally:
                self._in_flight.release()
        stats.inc_value("bioleak/images/known_url")  # being downloaded for another listing right now
        body = await asyncio.shield(pending)
        return None if body is None else await self._hash_body(url, body, faces)

    async def _hash_body(self, url: str, body: bytes, faces: bool) -> tuple[ImageHashes, bytes | None] | None:
        sha256 = hashlib.sha256(body).hexdigest()
        key = (sha256, faces)
        known = self._by_content.get(key)
        if known is None and self.state is not None:
            known = self.state.hashes_for_content(sha256, faces)
        thumbnail = None
        try:
            if known is not None:
                hashes = known
            elif key in self._hashing:  # the same bytes under another URL, being hashed right now
                hashes, thumbnail = await asyncio.shield(self._hashing[key])
                known = hashes
            else:
                self._hashing[key] = task = asyncio.ensure_future(self._hash(body, faces))
                try:
                    hashes, thumbnail = await task
                finally:
                    del self._hashing[key]
        except ImageRejected as exc:
            self._skip(exc.reason, url, exc.detail)
            return None
        except Exception as exc:  # a decoder bug on hostile bytes is a skip, not a lost crawl
            log.exception("hashing failed: %s", url)
            self._skip("hash_failed", url, repr(exc)[:200])
            return None
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("bioleak/images/known_content" if known else "bioleak/images/hashed")
        return self._remember(url, faces, hashes), thumbnail

    async def process_item(self, item: ListingItem) -> ListingItem:
        faces = self._wants_faces(item)
        # All of a listing's images at once (the in-flight bound still holds): an album of 20
        # photos should not take 20 round trips of latency.
        fetched = await asyncio.gather(*(self._fetch(url, faces) for url in item.image_urls))
        done = [(url, f) for url, f in zip(item.image_urls, fetched, strict=True) if f is not None]
        item.images = [(url, hashes) for url, (hashes, _) in done]
        # Transient: ThumbnailPipeline keeps those of matched images and drops the item's copy.
        item.image_thumbnails = {hashes.sha256: jpeg for _, (hashes, jpeg) in done if jpeg is not None}
        return item
