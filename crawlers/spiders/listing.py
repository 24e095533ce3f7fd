"""The `listing` spider: marketplaces and forums driven by CSS selectors from sources.yaml.

index page -> listing links (+ next page) -> listing page -> ListingItem with image URLs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from w3lib.url import canonicalize_url

from crawlers.items import ListingItem
from crawlers.sources import Source, SourceError, load_sources
from pipeline.models import listing_id

_SPACE = re.compile(r"\s+")


def clean(parts: list[str]) -> str:
    return _SPACE.sub(" ", " ".join(p.strip() for p in parts if p.strip())).strip()


class ListingSpider(scrapy.Spider):
    name = "listing"

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(name=self.name, **kwargs)
        self.source = source
        self.start_urls = list(source.start_urls)
        self.allowed_domains = list(source.allowed_domains)
        self.pages_seen = 0

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ListingSpider:
        name = kwargs.pop("source", None)
        path = crawler.settings.get("BIOLEAK_SOURCES")
        if not name or not path:
            raise SourceError("run as: scrapy crawl listing -a source=NAME -s BIOLEAK_SOURCES=sources.yaml")
        sources = load_sources(path)
        if name not in sources:
            raise SourceError(f"{path}: no source named {name!r} (have: {', '.join(sorted(sources))})")
        source = sources[name]
        # Per-source policy; the crawler freezes its settings only after creating the spider.
        crawler.settings.set("ROBOTSTXT_OBEY", source.obey_robots, priority="spider")
        crawler.settings.set("CLOSESPIDER_PAGECOUNT", source.max_pages, priority="spider")
        spider: ListingSpider = super().from_crawler(crawler, *args, source=source, **kwargs)
        return spider

    async def start(self) -> Any:
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse_index)

    def _text(self, response: Response) -> TextResponse | None:
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value("bioleak/skipped/not_html")
            return None
        self.crawler.stats.inc_value("bioleak/pages")
        return response

    def parse_index(self, response: Response) -> Iterator[scrapy.Request]:
        page = self._text(response)
        if page is None:
            return
        sel = self.source.selectors
        for href in page.css(sel.listing_links).getall():
            yield page.follow(href, callback=self.parse_listing)
        if sel.next_page:
            for href in page.css(sel.next_page).getall()[:1]:
                yield page.follow(href, callback=self.parse_index)

    def parse_listing(self, response: Response) -> Iterator[ListingItem]:
        page = self._text(response)
        if page is None:
            return
        sel = self.source.selectors
        canonical = canonicalize_url(page.url)
        images = []
        for src in page.css(sel.images).getall():
            url = page.urljoin(src.strip())
            if url.startswith(("http://", "https://")) and url not in images:
                images.append(url)
        yield ListingItem(
            listing_id=listing_id(canonical),
            source=self.source.name,
            url=page.url,
            site=urlsplit(page.url).netloc,
            title=clean(page.css(sel.title).getall()[:1])[:500],
            text=clean(page.css(sel.text).getall())[:20_000],
            image_urls=images[:50],
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
