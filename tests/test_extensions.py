"""Crawl extensions that need no crawl to test."""

from __future__ import annotations

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
