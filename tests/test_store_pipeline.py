"""StorePipeline writes listings in batches against the real SQLite store; a listing goes on
down the chain only once its batch is written. ThumbnailPipeline asks that store only about
thumbnails it would otherwise download."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from crawlers.context import CrawlContext
from crawlers.items import ListingItem
from crawlers.pipelines.store import StorePipeline
from crawlers.pipelines.thumbnails import ThumbnailPipeline
from indexer.sqlite_store import SqliteStore
from indexer.store import SearchQuery, WriteResult
from pipeline.classify import Classification, Entities
from pipeline.models import Listing
from tests.factories import make_hit, make_listing


class _Crawler:
    def __init__(self) -> None:
        self.settings = Settings({"STATS_DUMP": False})
        self.stats = MemoryStatsCollector(self)  # type: ignore[arg-type]


class CountingStore(SqliteStore):
    """The real store, counting write calls (one per kind per batch is the point)."""

    def __init__(self, path: Path, *, refuse_hits: bool = False) -> None:
        super().__init__(path)
        self.listing_writes = 0
        self.refuse_hits = refuse_hits

        self.thumbnail_queries: list[list[str]] = []

    def get_thumbnails(self, image_sha256s: Sequence[str]) -> dict[str, bytes]:
        self.thumbnail_queries.append(list(image_sha256s))
        return super().get_thumbnails(image_sha256s)

    def upsert_listings(self, listings: Sequence[Listing]) -> WriteResult:
        self.listing_writes += 1
        return super().upsert_listings(listings)

    def upsert_hits(self, hits: Sequence[Any]) -> WriteResult:
        if self.refuse_hits:
            return WriteResult(written=0, failed=len(hits), errors=("mapping conflict",))
        return super().upsert_hits(hits)


def item_for(n: int, *, with_hit: bool = False) -> ListingItem:
    listing = make_listing(n)
    item = ListingItem(
        listing_id=listing.id, source=listing.source, url=listing.url, site=listing.site, title=listing.title,
        text=listing.text, image_urls=list(listing.image_urls), author="", posted_at="", tool_links=[],
        content_sha256=listing.content_sha256, fetched_at=listing.first_seen, lang="en",
        classification=Classification(listing.category, listing.score, ()),
        entities=Entities(listing.prices, listing.quantities, listing.contacts),
        hits=[make_hit(listing, "acme-bank", f"ref-{n}")] if with_hit else [],
    )  # fmt: skip
    return item


def run(pipeline: StorePipeline, items: list[ListingItem]) -> list[ListingItem | BaseException]:
    async def all_items() -> list[ListingItem | BaseException]:
        return await asyncio.gather(*(pipeline.process_item(i) for i in items), return_exceptions=True)

    return asyncio.run(all_items())


def test_concurrent_listings_are_written_in_one_batch(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "s.sqlite3")
    crawler = _Crawler()
    pipeline = StorePipeline(crawler, CrawlContext.with_store(store), batch_size=64, batch_wait=5.0)
    items = [item_for(n, with_hit=n % 2 == 0) for n in range(64)]
    assert run(pipeline, items) == items  # the 64th filled the batch: nobody waited 5 s
    assert store.listing_writes == 1
    assert crawler.stats.get_value("bioleak/stored/listings") == 64
    assert crawler.stats.get_value("bioleak/stored/hits") == 32
    assert store.count(SearchQuery()) == 64


def test_a_lone_listing_is_written_after_the_wait(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "s.sqlite3")
    pipeline = StorePipeline(_Crawler(), CrawlContext.with_store(store), batch_size=64, batch_wait=0.01)
    first, second = item_for(1), item_for(2)
    assert run(pipeline, [first]) == [first]
    assert run(pipeline, [second]) == [second]
    assert store.listing_writes == 2 and store.count(SearchQuery()) == 2


def test_a_failed_write_drops_its_whole_batch_so_the_next_crawl_retries(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "s.sqlite3", refuse_hits=True)
    crawler = _Crawler()
    pipeline = StorePipeline(crawler, CrawlContext.with_store(store), batch_size=3, batch_wait=5.0)
    results = run(pipeline, [item_for(1, with_hit=True), item_for(2), item_for(3)])
    assert all(isinstance(r, DropItem) for r in results)  # none of them is marked processed
    assert crawler.stats.get_value("bioleak/store_failed/hits") == 1


def test_a_store_error_reaches_every_listing_of_the_batch(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "s.sqlite3")
    store.close()  # every write now raises
    pipeline = StorePipeline(_Crawler(), CrawlContext.with_store(store), batch_size=2, batch_wait=5.0)
    results = run(pipeline, [item_for(1), item_for(2)])
    assert [type(r).__name__ for r in results] == ["ProgrammingError", "ProgrammingError"]


def test_flush_writes_what_is_pending(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "s.sqlite3")
    pipeline = StorePipeline(_Crawler(), CrawlContext.with_store(store), batch_size=64, batch_wait=60.0)

    async def start_then_close() -> None:
        pending = asyncio.ensure_future(pipeline.process_item(item_for(1)))
        await asyncio.sleep(0)  # let it join the batch (a scheduling step, not a timing wait)
        pipeline.flush()
        await pending

    asyncio.run(start_then_close())
    assert store.count(SearchQuery()) == 1
    store.close()


def test_close_writes_a_batch_still_pending_and_the_context_closes_the_store(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "s.sqlite3")
    context = CrawlContext.with_store(store)
    pipeline = StorePipeline(_Crawler(), context, batch_size=64, batch_wait=60.0)

    async def start_then_close() -> ListingItem:
        pending = asyncio.ensure_future(pipeline.process_item(item_for(1)))
        await asyncio.sleep(0)  # let it join the batch (a scheduling step, not a timing wait)
        pipeline.close_spider()
        return await pending

    assert asyncio.run(start_then_close()).listing_id == item_for(1).listing_id
    context.close()
    with pytest.raises(sqlite3.ProgrammingError):  # closed by the context, after the pipelines
        store.count(SearchQuery())
    reopened = SqliteStore(tmp_path / "s.sqlite3")
    assert reopened.count(SearchQuery()) == 1
    reopened.close()


class BlockingStore(CountingStore):
    """Holds a listing write until released, noting the thread it ran on."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writing, self.release = threading.Event(), threading.Event()
        self.write_threads: list[threading.Thread] = []

    def upsert_listings(self, listings: Sequence[Listing]) -> WriteResult:
        self.write_threads.append(threading.current_thread())
        self.writing.set()
        self.release.wait(timeout=10)  # bounded: a write on the reactor's own thread must not hang the test
        return super().upsert_listings(listings)


def test_batches_are_written_off_the_reactor_which_goes_on_meanwhile(tmp_path: Path) -> None:
    store = BlockingStore(tmp_path / "s.sqlite3")
    pipeline = StorePipeline(_Crawler(), CrawlContext.with_store(store), batch_size=1, batch_wait=5.0)

    async def crawl() -> tuple[ListingItem, bool]:
        loop = asyncio.get_running_loop()
        first = asyncio.ensure_future(pipeline.process_item(item_for(1)))
        assert await loop.run_in_executor(None, store.writing.wait, 10)  # its batch is being written
        # The reactor is free meanwhile: another listing goes through, its batch queued behind.
        second = asyncio.ensure_future(pipeline.process_item(item_for(2)))
        await asyncio.sleep(0)
        waiting = not first.done() and not second.done()
        store.release.set()
        await asyncio.gather(first, second)
        return first.result(), waiting

    item, waited = asyncio.run(crawl())
    pipeline.close_spider()
    assert waited and item.listing_id == item_for(1).listing_id
    assert threading.main_thread() not in store.write_threads and len(store.write_threads) == 2
    assert pipeline.crawler.stats.get_value("bioleak/stored/listings") == 2


@pytest.mark.parametrize(("size", "wait"), [(0, 0.05), (8, -1.0)])
def test_invalid_batch_settings(tmp_path: Path, size: int, wait: float) -> None:
    with pytest.raises(ValueError, match="batches"):
        StorePipeline(
            _Crawler(), CrawlContext.with_store(CountingStore(tmp_path / "s.sqlite3")), batch_size=size, batch_wait=wait
        )


def test_thumbnails_the_worker_made_are_kept_without_asking_the_store(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "s.sqlite3")
    fresh, earlier = item_for(1, with_hit=True), item_for(2, with_hit=True)
    fresh_sha, earlier_sha = fresh.hits[0].image_sha256, earlier.hits[0].image_sha256
    fresh.image_thumbnails = {fresh_sha: b"fresh jpeg", "f" * 64: b"of an image that matched nothing"}
    store.put_thumbnails({earlier_sha: b"kept by an earlier crawl"})
    pipeline = ThumbnailPipeline(_Crawler(), CrawlContext.with_store(store), max_bytes=1 << 20, max_pixels=1 << 20)
    try:
        done = [asyncio.run(pipeline.process_item(item)) for item in (fresh, earlier)]
    finally:
        store.close()
    assert done[0].thumbnails == {fresh_sha: b"fresh jpeg"} and done[0].image_thumbnails == {}
    assert done[1].thumbnails == {}  # the store has it: neither downloaded nor written again
    assert store.thumbnail_queries == [[earlier_sha]]  # one question, about the one it lacked
    assert pipeline.crawler.stats.get_value("bioleak/thumbnails/kept") == 1
