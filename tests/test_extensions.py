"""Crawl extensions."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from scrapy.settings import Settings

# A real Scrapy crawl (no requests) in a fresh interpreter: Scrapy sets the root logger's level
# while starting a crawl, and only the whole lifecycle shows whose setting is left in force.
_CRAWL = """
import logging, sys
import scrapy
from scrapy import signals
from scrapy.crawler import AsyncCrawlerProcess

class Idle(scrapy.Spider):
    name = "idle"

    async def start(self):
        return
        yield

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.report, signal=signals.spider_closed)
        return spider

    def report(self):
        engine = logging.getLogger("scrapy.core.engine")
        print("levels", int(engine.isEnabledFor(logging.DEBUG)), int(engine.isEnabledFor(logging.INFO)))

settings = {"LOG_LEVEL": sys.argv[1], "TELNETCONSOLE_ENABLED": False,
            "EXTENSIONS": {"crawlers.extensions.RootLogLevel": 0} if sys.argv[2] == "on" else {}}
process = AsyncCrawlerProcess(settings)
process.crawl(Idle)
process.start()
"""


def _levels_in_a_crawl(level: str, extension: str) -> tuple[int, int]:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _CRAWL, level, extension], cwd=root, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    debug, info = next(line for line in done.stdout.splitlines() if line.startswith("levels")).split()[1:]
    return int(debug), int(info)


def test_records_below_the_crawl_log_level_are_not_even_built_during_a_crawl() -> None:
    assert _levels_in_a_crawl("INFO", "on") == (0, 1)
    assert _levels_in_a_crawl("WARNING", "on") == (0, 0)
    # Without the extension Scrapy leaves the root at NOTSET: DEBUG records are built (and dropped).
    assert _levels_in_a_crawl("INFO", "off") == (1, 1)


def test_collector_runs_less_often_and_skips_the_startup_heap() -> None:
    from crawlers.extensions import CollectorTuning

    before = gc.get_threshold()
    try:
        CollectorTuning.from_crawler(SimpleNamespace(settings=Settings({"BIOLEAK_GC_THRESHOLD": 20_000})))
        assert gc.get_threshold()[0] == 20_000 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    CollectorTuning(0)  # Python's own settings
    assert gc.get_threshold() == before
    with pytest.raises(ValueError, match="GC_THRESHOLD"):
        CollectorTuning(-1)
