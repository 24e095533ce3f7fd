"""Crawl extensions that need no crawl to test."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from scrapy.settings import Settings

from crawlers.extensions import RootLogLevel


@pytest.fixture
def root_level() -> Iterator[None]:
    before = logging.root.level
    yield
    logging.root.setLevel(before)


@pytest.mark.usefixtures("root_level")
@pytest.mark.parametrize(
    ("level", "dropped", "kept"), [("INFO", logging.DEBUG, logging.INFO), ("WARNING", logging.INFO, logging.WARNING)]
)
def test_records_below_the_crawl_log_level_are_not_even_built(level: str, dropped: int, kept: int) -> None:
    logging.root.setLevel(logging.NOTSET)  # as Scrapy leaves it
    RootLogLevel.from_crawler(SimpleNamespace(settings=Settings({"LOG_LEVEL": level})))
    crawl_logger = logging.getLogger("scrapy.core.engine")
    assert not crawl_logger.isEnabledFor(dropped)
    assert crawl_logger.isEnabledFor(kept)


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
