"""StatsExport: write the crawl's final stats as JSON, for the CLI, the demo and run history."""

from __future__ import annotations

import gc
import json
import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured


class StatsExport:
    def __init__(self, crawler: Any, path: str) -> None:
        self.crawler = crawler
        self.path = Path(path)

    @classmethod
    def from_crawler(cls, crawler: Any) -> StatsExport:
        path = crawler.settings.get("BIOLEAK_STATS_FILE")
        if not path:
            raise NotConfigured
        ext = cls(crawler, path)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider: Any, reason: str) -> None:
        stats = {
            k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in self.crawler.stats.get_stats().items()
        }
        stats["finish_reason"] = reason
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(stats, indent=2, sort_keys=True, default=str), "utf-8")


class RootLogLevel:
    """Scrapy filters by LOG_LEVEL only in its root handler: its own "scrapy" logger is set to
    DEBUG and the root logger is left at NOTSET, so every DEBUG line ("Crawled (200)" per
    response, "Scraped from" per item) is still built into a record, then thrown away. Setting
    both loggers to LOG_LEVEL drops those lines before they are built; nothing that the handler
    would have written is lost.

    Applied when the engine starts: `Crawler.crawl` reinstalls Scrapy's root handler, and with
    it resets the root level to NOTSET, after the extensions exist."""

    LOGGERS = ("", "scrapy")  # "": the root logger, which every other logger here inherits from

    def __init__(self, level: str | int) -> None:
        self.level = level

    @classmethod
    def from_crawler(cls, crawler: Any) -> RootLogLevel:
        ext = cls(crawler.settings.get("LOG_LEVEL"))
        crawler.signals.connect(ext.apply, signal=signals.engine_started)
        return ext

    def apply(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).setLevel(self.level)


class CollectorTuning:
    """Python's cyclic garbage collector runs a pass every 700 new container objects, and a crawl
    makes many per response (requests, deferreds, items, selectors) that reference counting
    frees anyway, so most passes find nothing. A higher first threshold (BIOLEAK_GC_THRESHOLD;
    0 keeps Python's) makes them rarer, and freezing the heap built at startup (Scrapy, Twisted,
    the registry) keeps it out of every later pass: the crawl benchmark ran 96.2 against 92.5
    listings/s (alternating 2,000-listing runs: 97.4/95.1 against 93.0/92.0)."""

    def __init__(self, threshold: int) -> None:
        if threshold < 0:
            raise ValueError(f"BIOLEAK_GC_THRESHOLD must be >= 0, got {threshold}")
        if threshold:
            gc.freeze()
            _, second, third = gc.get_threshold()
            gc.set_threshold(threshold, second, third)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CollectorTuning:
        return cls(crawler.settings.getint("BIOLEAK_GC_THRESHOLD", 20_000))
