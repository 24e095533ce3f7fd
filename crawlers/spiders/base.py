"""SourceSpider: what every bioleak spider shares. It loads its source from sources.yaml, turns the
source's politeness and safety fields into Scrapy settings, bounds the crawl (pages, depth, URL
traps), refuses binaries posing as pages, and builds ListingItems."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from w3lib.url import canonicalize_url

from crawlers.items import ListingItem
from crawlers.sources import Source, SourceError, load_sources
from pipeline.models import listing_id

log = logging.getLogger(__name__)

MAX_QUERY_VARIANTS = 50  # distinct query strings followed per path: bounds calendar-style traps
MAX_SEGMENT_REPEATS = 3  # /a/b/a/b/a/b/... is a relative-link loop, not content


# Binary formats that some sites serve as text/html; a page must not be parsed out of them.
BINARY_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"%PDF",
    b"PK\x03\x04",
    b"RIFF",
    b"\x1f\x8b",
    b"Rar!",
    b"7z\xbc\xaf",
)


def content_sha256(title: str, text: str, image_urls: Iterable[str]) -> str:
    content = f"{title}\n{text}\n" + "\n".join(image_urls)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


class SourceSpider(scrapy.Spider):
    """Subclasses set `name` (the source kind they crawl) and implement `start` callbacks."""

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(name=self.name, **kwargs)
        self.source = source
        self.start_urls = list(source.start_urls)
        self.allowed_domains = list(source.allowed_domains)
        self.pages_followed = 0
        self._variants: dict[tuple[str, str], set[str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Any:
        settings = crawler.settings
        name = kwargs.pop("source", None) or settings.get("BIOLEAK_SOURCE")
        path = settings.get("BIOLEAK_SOURCES")
        if not name or not path:
            raise SourceError(
                f"run as: scrapy crawl {cls.name} -s BIOLEAK_SOURCES=sources.yaml -s BIOLEAK_SOURCE=NAME"
                " (or use `bioleak crawl NAME`)"
            )
        sources = load_sources(path)
        if name not in sources:
            raise SourceError(f"{path}: no source named {name!r} (have: {', '.join(sorted(sources)) or 'none'})")
        source = sources[name]
        if source.kind != cls.name:
            raise SourceError(f"source {name!r} is of kind {source.kind!r}: run `scrapy crawl {source.kind}`")
        if settings.get("BIOLEAK_SOURCE") != name and source.allow_networks:
            # The DNS resolver is installed before spiders exist and reads the source from settings.
            raise SourceError(f"source {name!r} allows extra networks: pass -s BIOLEAK_SOURCE={name} as well")
        # The crawler freezes its settings only after creating the spider.
        per_source = {
            "BIOLEAK_SOURCE": name,
            "ROBOTSTXT_OBEY": source.obey_robots,
            "DEPTH_LIMIT": source.max_depth,
            "CONCURRENT_REQUESTS_PER_DOMAIN": source.concurrency,
            "DOWNLOAD_DELAY": source.delay,
            "BIOLEAK_PROXY": source.proxy,
        }
        for key, value in per_source.items():
            settings.set(key, value, priority="spider")
        spider = super().from_crawler(crawler, *args, source=source, **kwargs)
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        if not source.obey_robots:
            log.warning("robots.txt is IGNORED for source %r (robots: ignore in %s)", name, path)
        if source.proxy:
            log.info("source %r crawls through proxy %s", name, source.proxy)
        return spider

    def _opened(self) -> None:
        if not self.source.obey_robots:
            self.crawler.stats.set_value("bioleak/robots_ignored", 1)

    # --- bounds --------------------------------------------------------------------------------

    def _skip(self, reason: str, url: str) -> None:
        self.crawler.stats.inc_value(f"bioleak/skipped/{reason}")
        log.debug("not following (%s): %s", reason, url)

    def follow(self, page: TextResponse, href: str, callback: Any, **meta: Any) -> scrapy.Request | None:
        """A request for `href`, unless it would exceed the source's limits or looks like a trap."""
        url = page.urljoin(href.strip())
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return None
        segments = [s for s in parts.path.split("/") if s]
        if segments and max(Counter(segments).values()) > MAX_SEGMENT_REPEATS:
            self._skip("trap", url)
            return None
        if parts.query:
            variants = self._variants.setdefault((parts.netloc, parts.path), set())
            if parts.query not in variants and len(variants) >= MAX_QUERY_VARIANTS:
                self._skip("trap", url)
                return None
            variants.add(parts.query)
        if self.pages_followed >= self.source.max_pages:
            self._skip("page_limit", url)
            return None
        self.pages_followed += 1
        return scrapy.Request(url, callback=callback, errback=self.failed, meta=meta or None)

    def start_request(self, url: str, callback: Any) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.failed)

    def failed(self, failure: Any) -> None:
        """A page that could not be fetched (timeout, refused, reset): counted, and the crawl goes on."""
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        if failure.check(IgnoreRequest):
            return  # refusals and robots.txt are counted where they are decided
        self.crawler.stats.inc_value("bioleak/skipped/page_failed")
        log.warning("page failed: %s (%s)", url, failure.getErrorMessage()[:200])

    def follow_all(self, page: TextResponse, hrefs: Iterable[str], callback: Any) -> list[scrapy.Request]:
        requests = (self.follow(page, href, callback) for href in hrefs)
        return [r for r in requests if r is not None]

    # --- pages ---------------------------------------------------------------------------------

    def page(self, response: Response) -> TextResponse | None:
        """The response as text. Scrapy already sniffs HTML served as image/jpeg or octet-stream;
        this adds the reverse, binaries served as text/html, which would parse into garbage."""
        if (
            not isinstance(response, TextResponse)
            or response.body.startswith(BINARY_MAGIC)
            or (b"\x00" in response.body[:1024])
        ):
            self._skip("not_html", response.url)
            return None
        self.crawler.stats.inc_value("bioleak/pages")
        return response

    def listing(
        self,
        url: str,
        *,
        title: str,
        text: str,
        image_urls: list[str],
        author: str = "",
        posted_at: str = "",
        tool_links: list[str] | None = None,
    ) -> ListingItem:
        title, text = title[:500], text[:20_000]
        return ListingItem(
            listing_id=listing_id(canonicalize_url(url)),
            source=self.source.name,
            url=url,
            site=urlsplit(url).netloc,
            title=title,
            text=text,
            author=author[:200],
            posted_at=posted_at[:64],
            image_urls=image_urls[:50],
            tool_links=(tool_links or [])[:50],
            content_sha256=content_sha256(title, text, image_urls),
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
