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
from typing import Any

import numpy as np
import numpy.typing as npt
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import DeferredSemaphore
from twisted.internet.threads import deferToThread

from crawlers.fetch import fetch_image
from crawlers.hashworker import decode_and_hash, init_worker, match_index
from crawlers.items import ListingItem
from crawlers.registry import registry_arrays
from crawlers.state import CrawlState
from crawlers.workerpool import WorkerCrashed, WorkerPool
from pipeline.images import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    THUMBNAIL_SIZE,
    ImageRejected,
)
from pipeline.models import ImageHashes

log = logging.getLogger(__name__)

# Images downloaded or being hashed at once (BIOLEAK_IMAGES_IN_FLIGHT): bounds memory at this
# many times the image size cap. Each waits on the network, then on a worker: with too few, the
# workers idle between downloads (see SCRAPER_SLOT_MAX_ACTIVE_SIZE in crawlers/settings.py).
IMAGES_IN_FLIGHT = 48


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


def _thumbnail_size(settings: Any) -> int:
    """Thumbnails only where ThumbnailPipeline can keep them: on, with a registry and a store."""
    wanted = settings.getbool("BIOLEAK_THUMBNAILS", True) and settings.get("BIOLEAK_REGISTRY")
    return settings.getint("BIOLEAK_THUMBNAIL_SIZE", THUMBNAIL_SIZE) if wanted and settings.get("BIOLEAK_STORE") else 0


class ImageHashPipeline:
    def __init__(
        self,
        crawler: Any,
        *,
        max_bytes: int,
        max_pixels: int,
        face_detection: str = "auto",
        state_path: str | None = None,
        workers: int = 0,
        thumbnail_size: int = 0,
        registry_hashes: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]] | None = None,
        images_in_flight: int = IMAGES_IN_FLIGHT,
    ) -> None:
        if images_in_flight < 1:
            raise ValueError(f"BIOLEAK_IMAGES_IN_FLIGHT must be at least 1, got {images_in_flight}")
        if face_detection not in ("auto", "always", "never"):
            raise ValueError(f"BIOLEAK_FACE_DETECTION must be auto, always or never, got {face_detection!r}")
        self.crawler = crawler
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.face_detection = face_detection
        self.state = CrawlState(state_path) if state_path else None
        self._by_url: dict[tuple[str, bool], ImageHashes] = {}
        self._by_content: dict[tuple[str, bool], ImageHashes] = {}
        self._hashing: dict[tuple[str, bool], asyncio.Future[tuple[ImageHashes, bytes | None]]] = {}
        self.thumbnail_size = thumbnail_size  # 0: no thumbnails (ThumbnailPipeline is off)
        # (pHash, dHash) of every registry entry: thumbnails only of images that match (None: of all)
        self.registry_hashes = registry_hashes
        # For hashing in threads (0 workers); worker processes build their own in init_worker.
        self._registry = None if workers else match_index(registry_hashes)
        self.workers = workers
        self._pool: WorkerPool | None = None
        self._in_flight = DeferredSemaphore(images_in_flight)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ImageHashPipeline:
        if not crawler.settings.getbool("BIOLEAK_IMAGES_ENABLED", True):
            raise NotConfigured("BIOLEAK_IMAGES_ENABLED is off")
        size = _thumbnail_size(crawler.settings)
        registry_hashes = None
        if size:  # which images get a thumbnail: those matching the crawl's registry snapshot
            arrays = registry_arrays(crawler, crawler.settings["BIOLEAK_REGISTRY"])
            registry_hashes = (arrays.phash, arrays.dhash)
        return cls(
            crawler,
            max_bytes=crawler.settings.getint("BIOLEAK_IMAGE_MAX_BYTES", DEFAULT_MAX_BYTES),
            max_pixels=crawler.settings.getint("BIOLEAK_IMAGE_MAX_PIXELS", DEFAULT_MAX_PIXELS),
            face_detection=crawler.settings.get("BIOLEAK_FACE_DETECTION", "auto"),
            state_path=crawler.settings.get("BIOLEAK_STATE") or None,
            workers=hash_workers(crawler.settings.get("BIOLEAK_HASH_WORKERS", "auto")),
            thumbnail_size=size,
            registry_hashes=registry_hashes,
            images_in_flight=crawler.settings.getint("BIOLEAK_IMAGES_IN_FLIGHT", IMAGES_IN_FLIGHT),
        )

    def close_spider(self) -> None:
        if self.state is not None:
            self.state.close()
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
        self.crawler.stats.inc_value(f"bioleak/images/rejected/{reason}")
        log.info("image skipped (%s): %s %s", reason, url, detail)

    def _wants_faces(self, item: ListingItem) -> bool:
        # Detection costs ~10x a hash (DESIGN.md): by default only where faces are what is sold.
        if self.face_detection != "auto":
            return self.face_detection == "always"
        classification = item.get("classification")
        return classification is not None and classification.category == "face_data_sale"

    def _known(self, url: str, faces: bool) -> ImageHashes | None:
        hashes = self._by_url.get((url, faces))
        if hashes is None and self.state is not None:
            hashes = self.state.hashes_for_url(url, faces)
            if hashes is not None:
                self._by_url[(url, faces)] = hashes
        return hashes

    def _remember(self, url: str, faces: bool, hashes: ImageHashes) -> ImageHashes:
        self._by_url[(url, faces)] = hashes
        self._by_content[(hashes.sha256, faces)] = hashes
        if self.state is not None:
            self.state.remember_image(url, faces, hashes)
        return hashes

    async def _fetch(self, url: str, faces: bool) -> tuple[ImageHashes, bytes | None] | None:
        stats = self.crawler.stats
        known = self._known(url, faces)
        if known is not None:
            stats.inc_value("bioleak/images/known_url")
            return known, None
        # Bounded: images queue for the hashing worker with their bytes, so the number in flight
        # bounds the crawl's memory.
        await maybe_deferred_to_future(self._in_flight.acquire())
        try:
            return await self._download_and_hash(url, faces)
        finally:
            self._in_flight.release()

    async def _download_and_hash(self, url: str, faces: bool) -> tuple[ImageHashes, bytes | None] | None:
        body = await fetch_image(self.crawler, url, max_bytes=self.max_bytes, skip=self._skip)
        if body is None:
            return None
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
        self.crawler.stats.inc_value("bioleak/images/known_content" if known else "bioleak/images/hashed")
        return self._remember(url, faces, hashes), thumbnail

    async def process_item(self, item: ListingItem) -> ListingItem:
        faces = self._wants_faces(item)
        # All of a listing's images at once (the in-flight bound still holds): an album of 20
        # photos should not take 20 round trips of latency.
        fetched = await asyncio.gather(*(self._fetch(url, faces) for url in item["image_urls"]))
        done = [(url, f) for url, f in zip(item["image_urls"], fetched, strict=True) if f is not None]
        item["images"] = [(url, hashes) for url, (hashes, _) in done]
        # Transient: ThumbnailPipeline keeps those of matched images and drops the item's copy.
        item["image_thumbnails"] = {hashes.sha256: jpeg for _, (hashes, jpeg) in done if jpeg is not None}
        return item
