"""Image downloads from item pipelines, through Scrapy's downloader so every network rule of the
crawl (address policy, robots.txt, size cap, timeouts, proxy) applies to them too."""

from __future__ import annotations

from collections.abc import Callable

import scrapy
from scrapy.crawler import Crawler

from crawlers.failures import download_failure


async def fetch_image(
    crawler: Crawler, url: str, *, max_bytes: int, skip: Callable[[str, str, str], None]
) -> bytes | None:
    """The body of a 200 answer, or None after `skip(reason, url, detail)`: a refusal, a network
    error, a timeout or the size cap is a counted skip (`too_large`, `timeout`, `http_404`...),
    never a crash."""
    request = scrapy.Request(url, meta={"download_maxsize": max_bytes}, dont_filter=True)
    assert crawler.engine is not None
    try:
        response = await crawler.engine.download_async(request)
    except Exception as exc:
        skip(download_failure(exc), url, repr(exc)[:200])
        return None
    if response.status != 200:
        skip(f"http_{response.status}", url, "")
        return None
    body: bytes = response.body
    return body
