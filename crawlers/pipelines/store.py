from __future__ import annotations

import asyncio
import logging
from functools import partial

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawlers.context import CrawlContext, crawl_context
from crawlers.items import ListingItem
from indexer.store import Store
from pipeline.models import Listing

log = logging.getLogger(__name__)


def to_listing(item: ListingItem) -> Listing:
    classification, entities = item.classification, item.entities
    assert classification is not None and entities is not None, "ClassifyPipeline runs before StorePipeline"
    return Listing(
        id=item.listing_id,
        source=item.source,
        url=item.url,
        site=item.site,
        title=item.title,
        text=item.text,
        lang=item.lang,
        category=classification.category,
        score=classification.score,
        evidence=classification.evidence,
        prices=entities.prices,
        quantity=entities.quantity,
        quantities=entities.quantities,
        needs_review=classification.needs_review,
        contacts=entities.contacts,
        image_urls=tuple(item.image_urls),
        author=item.author,
        posted_at=item.posted_at,
        tool_links=tuple(item.tool_links),
        first_seen=item.fetched_at,
        last_seen=item.fetched_at,
        content_sha256=item.content_sha256,
    )


# Listings are written in batches: one transaction (SQLite) or bulk request (Elasticsearch) per
# kind per batch instead of per listing. A listing waits at most BATCH_WAIT seconds for others.
BATCH_SIZE = 64
BATCH_WAIT = 0.2


class StorePipeline:
    """Write listings, the thumbnails of their matched images, then their hits, to the configured
    store (SQLite file or ES URL), in batches. A listing goes on down the chain (and is marked
    processed) only once its batch is written; if any write of a batch fails, every listing of
    that batch is dropped, so the next crawl stores them again (writes are idempotent).

    Batches are written in the store's own thread (CrawlContext.in_store), in order: a bulk
    request to Elasticsearch waits for the cluster to index it, and the reactor (downloads,
    parsing, feeding the hashing workers) would wait with it."""

    def __init__(
        self, crawler: Crawler, context: CrawlContext, *, batch_size: int = BATCH_SIZE, batch_wait: float = BATCH_WAIT
    ) -> None:
        if batch_size < 1 or batch_wait < 0:
            raise ValueError(f"store batches need a size >= 1 and a wait >= 0, got {batch_size} and {batch_wait}")
        self.crawler = crawler
        self.context = context
        context.store()  # fails now, not at the first listing, if there is none
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self._batch: list[ListingItem] = []
        self._stored: asyncio.Future[bool] | None = None  # the pending batch's outcome
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        settings = crawler.settings
        return cls(
            crawler,
            crawl_context(crawler),
            batch_size=settings.getint("BIOLEAK_STORE_BATCH_SIZE"),
            batch_wait=settings.getfloat("BIOLEAK_STORE_BATCH_WAIT"),
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
            raise DropItem(f"not stored: {item.url}")
        return item

    def _take_batch(self) -> tuple[list[ListingItem], asyncio.Future[bool] | None]:
        batch, stored = self._batch, self._stored
        self._batch, self._stored = [], None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return batch, stored

    def flush(self) -> None:
        """Hand the pending batch to the writer thread (on a timer, and when full)."""
        batch, stored = self._take_batch()
        if stored is None:
            return
        written = self.context.in_store(partial(self._write, batch))
        written.add_done_callback(partial(self._written, stored))

    def _written(self, stored: asyncio.Future[bool], written: asyncio.Future[tuple[bool, dict[str, int]]]) -> None:
        if written.cancelled():
            stored.cancel()
            return
        error = written.exception()
        self._settle(stored, written.result() if error is None else error)

    def _settle(self, stored: asyncio.Future[bool], outcome: tuple[bool, dict[str, int]] | BaseException) -> None:
        """On the reactor: every listing waiting on the batch learns how its write went."""
        if stored.done():  # cancelled: the crawl is being torn down
            return
        if isinstance(outcome, BaseException):  # every listing waiting on this batch sees the error
            stored.set_exception(outcome)
            return
        ok, counts = outcome
        assert self.crawler.stats is not None
        for key, count in counts.items():  # stats are kept on the reactor thread only
            self.crawler.stats.inc_value(key, count)
        stored.set_result(ok)

    @staticmethod
    def _write(batch: list[ListingItem], store: Store) -> tuple[bool, dict[str, int]]:
        """In the store's thread: (whether every write of the batch succeeded, stats to count)."""
        counts: dict[str, int] = {}
        thumbnails: dict[str, bytes] = {}
        for item in batch:
            thumbnails.update(item.thumbnails)
        hits = [hit for item in batch for hit in item.hits]
        ok = True
        for kind, result in (
            ("listings", store.upsert_listings([to_listing(item) for item in batch])),
            # before the hits: an alert sent for a hit finds its thumbnail
            ("thumbnails", store.put_thumbnails(thumbnails) if thumbnails else None),
            ("hits", store.upsert_hits(hits) if hits else None),
        ):
            if result is None:
                continue
            counts[f"bioleak/stored/{kind}"] = result.written
            if result.failed:
                ok = False
                counts[f"bioleak/store_failed/{kind}"] = result.failed
                log.error("store rejected %d %s: %s", result.failed, kind, "; ".join(result.errors))
        return ok, counts

    def close_spider(self) -> None:
        self.context.drain_store()  # the batches already handed over are written
        store = self.context.store()
        batch, stored = self._take_batch()
        if stored is not None:  # normally none: the engine closes once every item is done
            try:
                outcome: tuple[bool, dict[str, int]] | BaseException = self._write(batch, store)
            except Exception as exc:
                outcome = exc
            self._settle(stored, outcome)
        store.refresh()  # what a crawl found is searchable as soon as `bioleak crawl` returns
