"""CrawlContext: what one crawl knows and owns, created once and shared by every component.

The source (parsed once from sources.yaml), its address policy, the registry snapshot the crawl
matches against (read once, so every component sees the same entries and the version that counts
exactly those), the crawl state of earlier crawls, and one store connection with the one thread
that uses it. Spiders, middlewares, pipelines and the resolver take it from the crawler with
`crawl_context(crawler)` instead of reading settings and files of their own; it is closed when
the spider closes, after the pipelines.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings

from crawlers.registry import RegistrySnapshot, load_snapshot
from crawlers.sources import Source, SourceError, load_sources
from crawlers.state import CrawlState
from indexer.open import open_store
from indexer.store import Store
from pipeline.addresses import AddressPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class CrawlContext:
    source: Source | None  # None: a bare `scrapy crawl` without a source (public internet only)
    policy: AddressPolicy
    registry_path: str = ""
    state_path: str = ""
    store_url: str = ""
    es_prefix: str = "bioleak"
    _registry: RegistrySnapshot | None = None
    _registry_loaded: bool = False
    _state: CrawlState | None = None
    _store: Store | None = None
    _store_thread: ThreadPoolExecutor | None = None
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> CrawlContext:
        path, name = settings.get("BIOLEAK_SOURCES"), settings.get("BIOLEAK_SOURCE")
        source = None
        if path and name:
            sources = load_sources(path, min_interval=0)  # a crawl runs now: its schedule is not its business
            if name not in sources:
                raise SourceError(f"{path}: no source named {name!r} (have: {', '.join(sorted(sources)) or 'none'})")
            source = sources[name]
        policy = AddressPolicy.build(source.allow_networks, source.proxy) if source else AddressPolicy()
        return cls(
            source=source,
            policy=policy,
            registry_path=settings.get("BIOLEAK_REGISTRY") or "",
            state_path=settings.get("BIOLEAK_STATE") or "",
            store_url=settings.get("BIOLEAK_STORE") or "",
            es_prefix=settings.get("BIOLEAK_ES_PREFIX") or "bioleak",
        )

    @classmethod
    def with_store(cls, store: Store) -> CrawlContext:
        """A context around an open store (tests, and tools that run pipelines without a crawl)."""
        context = cls(source=None, policy=AddressPolicy(), store_url="(given)")
        context._store = store
        context._store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bioleak-store")
        return context

    # --- the registry snapshot ------------------------------------------------------------------

    @property
    def registry(self) -> RegistrySnapshot | None:
        """The crawl's snapshot of the registry (None without one), loaded on first use."""
        if not self._registry_loaded:
            self._registry_loaded = True
            if self.registry_path and Path(self.registry_path).exists():
                self._registry = load_snapshot(self.registry_path)
        return self._registry

    @property
    def registry_version(self) -> str:
        """The version of the entries this crawl matches against ("none" without a registry)."""
        snapshot = self.registry
        return "none" if snapshot is None else str(snapshot.version)

    # --- crawl state ----------------------------------------------------------------------------

    @property
    def state(self) -> CrawlState | None:
        if self._state is None and self.state_path:
            self._state = CrawlState(self.state_path)
        return self._state

    # --- the store ------------------------------------------------------------------------------

    def store(self, purpose: str = "") -> Store:
        """The crawl's one store connection; without BIOLEAK_STORE the asking component is not
        configured, and `purpose` says what it would have done. Use it only through `in_store`."""
        if not self.store_url:
            raise NotConfigured(f"BIOLEAK_STORE is not set{purpose}")
        if self._store is None:
            self._store = open_store(self.store_url, es_prefix=self.es_prefix)
            self._store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bioleak-store")
        return self._store

    def in_store(self, work: Callable[[Store], T]) -> asyncio.Future[T]:
        """Run `work(store)` in the store's own thread, in order with every other store call of
        the crawl: the reactor never waits on the store, and one thread uses the connection."""
        store = self.store()
        assert self._store_thread is not None
        return asyncio.wrap_future(self._store_thread.submit(work, store))

    def drain_store(self) -> None:
        """Wait for every store call handed over so far."""
        if self._store_thread is not None:
            self._store_thread.shutdown(wait=True)
            self._store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bioleak-store")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._store_thread is not None:
            self._store_thread.shutdown(wait=True)
        if self._store is not None:
            self._store.close()
        if self._state is not None:
            self._state.close()


# One crawl per process: contexts are keyed by what they are made from, so the reactor's resolver
# (built from the CrawlerProcess, before any Crawler) and the crawl's components share one.
_contexts: dict[tuple[str, ...], CrawlContext] = {}
_BY_CRAWLER: weakref.WeakKeyDictionary[Crawler, CrawlContext] = weakref.WeakKeyDictionary()
_KEYS = ("BIOLEAK_SOURCES", "BIOLEAK_SOURCE", "BIOLEAK_REGISTRY", "BIOLEAK_STATE", "BIOLEAK_STORE", "BIOLEAK_ES_PREFIX")


def context_for_settings(settings: BaseSettings) -> CrawlContext:
    key = tuple(str(settings.get(name) or "") for name in _KEYS)
    context = _contexts.get(key)
    if context is None or context.closed:
        context = _contexts[key] = CrawlContext.from_settings(settings)
    return context


def crawl_context(crawler: Crawler) -> CrawlContext:
    """The crawl's context, created on the first call (by whichever component asks first) and
    closed when the spider closes."""
    context = _BY_CRAWLER.get(crawler)
    if context is None:
        context = _BY_CRAWLER[crawler] = context_for_settings(crawler.settings)
        crawler.signals.connect(_closer(context), signal=signals.spider_closed, weak=False)
    return context


def _closer(context: CrawlContext) -> Callable[..., None]:
    def close(*_: Any, **__: Any) -> None:
        context.close()

    return close
