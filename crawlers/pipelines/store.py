from __future__ import annotations

import asyncio
import logging
from typing import Any

from scrapy.exceptions import DropItem, NotConfigured

from crawlers.items import ListingItem
from indexer.open import open_store
from indexer.store import Store
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


def open_crawl_store(settings: Any, purpose: str) -> Store:
    """The store the crawl writes to (BIOLEAK_STORE: a SQLite file or an ES URL); without one,
    the asking component is not configured, and `purpose` says what it would have done."""
    url = settings.get("BIOLEAK_STORE")
    if not url:
        raise NotConfigured(f"BIOLEAK_STORE is not set{purpose}")
    return open_store(url, es_prefix=settings.get("BIOLEAK_ES_PREFIX", "bioleak"))


# Listings are written in batches: one transaction (SQLite) or bulk request (Elasticsearch) per
# kind per batch instead of per listing. A listing waits at most BATCH_WAIT seconds for others.
BATCH_SIZE = 64
BATCH_WAIT = 0.2


class StorePipeline:
    """Write listings, the thumbnails of their matched images, then their hits, to the configured
    store (SQLite file or ES URL), in batches. A listing goes on down the chain (and is marked
    processed) only once its batch is written; if any write of a batch fails, every listing of
    that batch is dropped, so the next crawl stores them again (writes are idempotent)."""

    def __init__(
        self, crawler: Any, store: Store, *, batch_size: int = BATCH_SIZE, batch_wait: float = BATCH_WAIT
    ) -> None:
        if batch_size < 1 or batch_wait < 0:
            raise ValueError(f"store batches need a size >= 1 and a wait >= 0, got {batch_size} and {batch_wait}")
        self.crawler = crawler
        self.store = store
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self._batch: list[ListingItem] = []
        self._stored: asyncio.Future[bool] | None = None  # the pending batch's outcome
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        settings = crawler.settings
        return cls(
            crawler,
            open_crawl_store(settings, ""),
            batch_size=settings.getint("BIOLEAK_STORE_BATCH_SIZE", BATCH_SIZE),
            batch_wait=settings.getfloat("BIOLEAK_STORE_BATCH_WAIT", BATCH_WAIT),
        )

    async def process_item(self, item: ListingItem) -> ListingItem:
        if self._stored is None:
            loop = asyncio.get_running_loop()
            self._stored = loop.create_future()
            self._timer = loop.call_later(self.batch_wait, self.flush)
        stored = self._stored
        self._batch.append(item)
        if len(self._batch) >= self.batch_size:
            self.flush()
        if not await stored:  # not marked processed, so the next crawl tries again
            raise DropItem(f"not stored: {item['url']}")
        return item

    def flush(self) -> None:
        """Write the pending batch now (on a timer, when full, and at close)."""
        batch, stored = self._batch, self._stored
        self._batch, self._stored = [], None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if stored is None:
            return
        try:
            ok = self._write(batch)
        except Exception as exc:  # every listing waiting on this batch sees the error
            stored.set_exception(exc)
        else:
            stored.set_result(ok)

    def _write(self, batch: list[ListingItem]) -> bool:
        stats = self.crawler.stats
        thumbnails: dict[str, bytes] = {}
        for item in batch:
            thumbnails.update(item.get("thumbnails") or {})
        hits = [hit for item in batch for hit in item.get("hits") or ()]
        ok = True
        for kind, result in (
            ("listings", self.store.upsert_listings([to_listing(item) for item in batch])),
            # before the hits: an alert sent for a hit finds its thumbnail
            ("thumbnails", self.store.put_thumbnails(thumbnails) if thumbnails else None),
            ("hits", self.store.upsert_hits(hits) if hits else None),
        ):
            if result is None:
                continue
            stats.inc_value(f"bioleak/stored/{kind}", result.written)
            if result.failed:
                ok = False
                stats.inc_value(f"bioleak/store_failed/{kind}", result.failed)
                log.error("store rejected %d %s: %s", result.failed, kind, "; ".join(result.errors))
        return ok

    def close_spider(self) -> None:
        try:
            self.flush()
            self.store.refresh()  # what a crawl found is searchable as soon as `bioleak crawl` returns
        finally:
            self.store.close()
