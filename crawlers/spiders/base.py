"""SourceSpider: what every bioleak spider shares. It takes its source from the crawl's context,
turns the source's politeness and safety fields into Scrapy settings, bounds the crawl (pages,
depth, URL traps, aliases of pages already requested), counts what fails and why, refuses
binaries posing as pages, and builds ListingItems."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.context import crawl_context
from crawlers.discovery import Discovery
from crawlers.engines.base import Url
from crawlers.failures import download_failure
from crawlers.items import ListingItem
from crawlers.sources import Source, SourceError
from pipeline.models import listing_id

log = logging.getLogger(__name__)

MAX_QUERY_VARIANTS = 50  # distinct query strings followed per path: bounds calendar-style traps
MAX_SEGMENT_REPEATS = 3  # /a/b/a/b/a/b/... is a relative-link loop, not content
MAX_PATH_SEGMENTS = 24  # a path this deep is a relative-link trap, not a page
MAX_TEXT = 50_000  # characters of text kept per listing (all of its pages together)
MAX_URL = 2048  # characters: longer links are traps or garbage


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
    b"\x7fELF",
    b"MZ",
)


def content_sha256(title: str, text: str, image_urls: Iterable[str]) -> str:
    content = f"{title}\n{text}\n" + "\n".join(image_urls)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


class SourceSpider(scrapy.Spider):
    """Subclasses set `name` (the source kind they crawl) and implement `start` callbacks."""

    def __init__(
        self,
        source: Source,
        *,
        thread_pages: int = 20,
        listing_images: int = 50,
        engines: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=self.name, **kwargs)
        self.source = source
        self.start_urls = list(source.start_urls)
        self.allowed_domains = list(source.allowed_domains)
        self.thread_pages = thread_pages
        self.listing_images = listing_images
        self.pages_followed = 0
        if engines not in ("auto", "generic"):
            raise ValueError(f"BIOLEAK_ENGINES must be auto or generic, got {engines!r}")
        self.discovery = Discovery() if engines == "auto" else Discovery(engines=())
        self._variants: dict[tuple[str, str], set[str]] = {}
        self._requested: set[str] = set()  # canonical URLs asked for, whatever their spelling
        self._listing_keys: set[str] = set()  # listings asked for (aliases of one share a key)
        self._engines_logged: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Any:
        settings = crawler.settings
        asked = kwargs.pop("source", None)
        source = crawl_context(crawler).source
        if source is None:
            raise SourceError(
                f"run as: scrapy crawl {cls.name} -s BIOLEAK_SOURCES=sources.yaml -s BIOLEAK_SOURCE=NAME"
                " (or use `bioleak crawl NAME`)"
            )
        if asked and asked != source.name:
            raise SourceError(f"-a source={asked} and -s BIOLEAK_SOURCE={source.name} disagree")
        if source.kind != cls.name:
            raise SourceError(f"source {source.name!r} is of kind {source.kind!r}: run `scrapy crawl {source.kind}`")
        # The crawler freezes its settings only after creating the spider.
        per_source = {
            "ROBOTSTXT_OBEY": source.obey_robots,
            "DEPTH_LIMIT": source.max_depth,
            "CONCURRENT_REQUESTS_PER_DOMAIN": source.concurrency,
            "DOWNLOAD_DELAY": source.delay,
        }
        for key, value in per_source.items():
            settings.set(key, value, priority="spider")
        spider = super().from_crawler(
            crawler, *args, source=source, thread_pages=settings.getint("BIOLEAK_THREAD_PAGES"),
            listing_images=settings.getint("BIOLEAK_LISTING_IMAGES"), engines=settings.get("BIOLEAK_ENGINES"),
            **kwargs,
        )  # fmt: skip
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        if not source.obey_robots:
            log.warning("robots.txt is IGNORED for source %r (robots: ignore)", source.name)
        if source.proxy:
            log.info("source %r crawls through a proxy", source.name)
        return spider

    def _opened(self) -> None:
        if not self.source.obey_robots:
            self.stat("bioleak/robots_ignored")

    def _closed(self) -> None:
        for host, site in self.discovery.sites.items():
            if site.engine is not None:
                log.info("site %s: engine %s", host, site.engine.name)

    def stat(self, key: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, count)

    # --- bounds --------------------------------------------------------------------------------

    def _skip(self, reason: str, url: str) -> None:
        self.stat(f"bioleak/skipped/{reason}")
        log.debug("not following (%s): %s", reason, url[:300])

    def follow(
        self, page: TextResponse | None, href: str, callback: Callable[..., Any], *, priority: int = 0,
        meta: dict[str, Any] | None = None, budget: bool = True,
    ) -> scrapy.Request | None:  # fmt: skip
        """A request for `href`, unless it was asked for already (under any spelling), would
        exceed the source's limits, or looks like a trap."""
        url = page.urljoin(href.strip()) if page is not None else href.strip()
        if len(url) > MAX_URL:
            self._skip("trap", url)
            return None
        parsed = Url.parse(url)
        if parsed is None:
            return None
        canonical = parsed.canonical()
        if canonical in self._requested:
            return None
        segments = [s for s in parsed.path.split("/") if s]
        if len(segments) > MAX_PATH_SEGMENTS or (segments and max(Counter(segments).values()) > MAX_SEGMENT_REPEATS):
            self._skip("trap", url)
            return None
        if parsed.query:
            variants = self._variants.setdefault((parsed.host, parsed.path), set())
            query = canonical.partition("?")[2]
            if query not in variants and len(variants) >= MAX_QUERY_VARIANTS:
                self._skip("trap", url)
                return None
            variants.add(query)
        if budget and self.pages_followed >= self.source.max_pages:
            self._skip("page_limit", url)
            return None
        self.pages_followed += budget
        self._requested.add(canonical)
        return scrapy.Request(url, callback=callback, errback=self.failed, meta=meta, priority=priority,
                              dont_filter=True)  # fmt: skip

    def start_request(self, url: str, callback: Callable[..., Any]) -> scrapy.Request:
        parsed = Url.parse(url)
        if parsed is not None:
            self._requested.add(parsed.canonical())
        return scrapy.Request(url, callback=callback, errback=self.failed, meta={"seed": True}, dont_filter=True)

    def failed(self, failure: Failure) -> Any:
        """A page that could not be fetched (HTTP error, timeout, refused, reset): counted by
        reason, and the crawl goes on."""
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        seed = bool(request is not None and request.meta.get("seed"))
        error = failure.value
        if isinstance(error, HttpError):
            reason = f"http_{error.response.status}"
        else:
            reason = download_failure(error) if error is not None else "download_failed"
        if reason == "refused":
            return None  # refusals and robots.txt are counted where they are decided
        self.stat("bioleak/skipped/page_failed")
        self.stat(f"bioleak/pages_failed/{reason}")
        if seed:
            self.stat("bioleak/seed/failed")
            assert self.crawler.stats is not None
            self.crawler.stats.set_value("bioleak/seed/failure", f"{reason}: {url}")
        log.warning("page failed (%s): %s %s", reason, url, failure.getErrorMessage()[:200])
        return None

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
        self.stat("bioleak/pages")
        if response.meta.get("seed"):
            self.stat("bioleak/seed/ok")
        return response

    def selected(self, selector: Any, name: str) -> list[str]:
        """What the source's selector `name` finds on a page, counted: a selector that never
        matches on any page it was tried on makes the run `degraded`."""
        from crawlers import extract

        found = extract.select(selector, getattr(self.source.selectors, name))
        self.stat(f"bioleak/selectors/tried/{name}")
        if found:
            self.stat(f"bioleak/selectors/matched/{name}")
        return found

    def note_engine(self, host: str) -> None:
        name = self.discovery.known_engine(host)
        if name and host not in self._engines_logged:
            self._engines_logged.add(host)
            self.stat(f"bioleak/engine/{name}")
            log.info("site %s: recognised as %s", host, name)

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
        key: str = "",
        engine: str = "",
    ) -> ListingItem:
        """One listing. `key` identifies it whatever URL it was reached by (see Engine.key), so
        a re-crawl through another alias updates the same listing."""
        title, text = title[:500], text[:MAX_TEXT]
        images = list(dict.fromkeys(image_urls))[: self.listing_images]
        if not key:
            parsed = Url.parse(url)
            key = parsed.canonical() if parsed else url
        self.stat("bioleak/listings/seen")
        return ListingItem(
            listing_id=listing_id(key),
            source=self.source.name,
            url=url,
            site=urlsplit(url).netloc,
            title=title,
            text=text,
            author=author[:200],
            posted_at=posted_at[:64],
            image_urls=images,
            tool_links=list(dict.fromkeys(tool_links or ()))[:50],
            content_sha256=content_sha256(title, text, images),
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
            engine=engine,
        )
