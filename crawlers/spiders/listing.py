"""The `listing` spider: forums, shops and classified-ad markets.

index page -> listing links, sub-forums, categories, every page of every list -> listing page
(with every page of a multi-page thread) -> one ListingItem. With selectors from sources.yaml it
follows exactly those; without, crawlers/discovery.py recognises the site's engine and reads its
links, and falls back on the structure of the site's list pages.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import scrapy
from parsel import Selector
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawlers import extract
from crawlers.discovery import Link, card, read_links, url_role
from crawlers.engines.base import GENERIC_ATTACHMENT, Engine, Role, Url
from crawlers.spiders.base import SourceSpider

# Scrapy priorities: a listing's pages first (its item waits for them), then listings, lists,
# and last the pages nothing recognised.
THREAD_PAGE, LISTING, INDEX, EXPLORE = 30, 20, 10, 0
HEAD_BYTES = 65536  # of a page, searched for engine signatures


@dataclass
class ListingParts:
    """A listing read so far, page by page (its pages may be reached in any order: a post link
    lands on page 3), and the pages still to read."""

    key: str
    engine: str
    title: str
    author: str
    posted_at: str
    pages: dict[int, tuple[str, str]] = field(default_factory=dict)  # page number -> (URL, text)
    images: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    pending: list[tuple[int, str]] = field(default_factory=list)  # (page number, URL) still to read
    queued: set[int] = field(default_factory=set)  # page numbers read or queued

    @property
    def url(self) -> str:
        return self.pages[min(self.pages)][0] if self.pages else ""

    @property
    def text(self) -> str:
        return extract.clean(text for _, (_, text) in sorted(self.pages.items()))


class ListingSpider(SourceSpider):
    name = "listing"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parsed_keys: set[str] = set()  # listings read, by key
        self._index_pages: set[tuple[str, int]] = set()  # (list, page) asked for

    async def start(self) -> Any:
        for url in self.start_urls:
            yield self.start_request(url, self.parse_index)

    # --- engines and selectors ---------------------------------------------------------------------

    def _engine(self, page: TextResponse) -> Engine:
        head = page.text[:HEAD_BYTES]
        parsed = Url.parse(page.url)
        host = parsed.host if parsed else ""
        engine = self.discovery.engine_for(host, head)
        self.note_engine(host)
        return engine

    # --- list pages --------------------------------------------------------------------------------

    def parse_index(self, response: Response) -> Iterator[scrapy.Request | Any]:
        page = self.page(response)
        if page is None:
            return
        self.stat("bioleak/pages/index")
        sel = self.source.selectors
        if sel.listing_links:
            for href in self.selected(page.selector, "listing_links"):
                yield from self._follow_listing(page, href, None)
            nexts = self.selected(page.selector, "next_page") if sel.next_page else []
            for href in nexts:
                request = self.follow(page, href, self.parse_index, priority=INDEX)
                if request is not None:
                    yield request
            return
        engine = self._engine(page)
        page_url = Url.parse(page.url)
        if page_url is None:
            return
        if response.meta.get("seed") and engine.role(page_url) is Role.LISTING:
            yield from self.parse_listing(response)  # a seed that is itself a listing
            return
        base = extract.base_url(page.selector, page.url)
        links = read_links(page.selector, base)
        found = self.discovery.classify(links, page_url, engine)
        cards = self._card_images(page, links, set(found.listings))
        for url in found.listings:
            yield from self._follow_listing(page, url, engine, cards.get(url, ()))
        for url in found.indexes:
            yield from self._follow_index(page, url, engine)
        if response.meta.get("explored"):
            return  # what nothing recognised is explored one step from a list page, no further
        for url in found.explore:
            request = self.follow(page, url, self.parse_index, priority=EXPLORE, meta={"explored": True})
            if request is not None:
                self.stat("bioleak/pages/explored")
                yield request

    def _follow_index(self, page: TextResponse, href: str, engine: Engine) -> Iterator[scrapy.Request]:
        """A list page, unless the same page of the same list was asked for under another name
        (a forum's rewritten and dynamic URLs)."""
        url = Url.parse(page.urljoin(href.strip()))
        if url is None:
            return
        which = (engine.index_key(url), engine.page(url))
        if which in self._index_pages:
            return
        self._index_pages.add(which)
        request = self.follow(page, url.text, self.parse_index, priority=INDEX)
        if request is not None:
            yield request

    def _card_images(self, page: TextResponse, links: list[Link], listings: set[str]) -> dict[str, list[str]]:
        """Images a list page shows in each listing's card (a shop's product thumbnails, often CSS
        backgrounds): part of the listing too, though its own page may not show them."""
        out: dict[str, list[str]] = {}
        for link in links:
            if link.url.text not in listings or link.url.text in out or len(out) >= 200:
                continue
            block = card(link)
            if block is not None:
                images = extract.image_urls(Selector(root=block), page.url, limit=8, chrome=True)
                if images:
                    out[link.url.text] = images
        return out

    def _follow_listing(
        self, page: TextResponse, href: str, engine: Engine | None, card_images: Sequence[str] = ()
    ) -> Iterator[scrapy.Request]:
        url = Url.parse(page.urljoin(href.strip()))
        if url is None:
            return
        if engine is not None:
            key = engine.key(url)
            if key in self._listing_keys:
                self.stat("bioleak/skipped/duplicate_listing")
                return
            self._listing_keys.add(key)
        request = self.follow(page, url.text, self.parse_listing, priority=LISTING,
                              meta={"card_images": list(card_images)} if card_images else None)  # fmt: skip
        if request is not None:
            yield request

    # --- listing pages -----------------------------------------------------------------------------

    def parse_listing(self, response: Response) -> Iterator[Any]:
        page = self.page(response)
        if page is None:
            return
        self.stat("bioleak/pages/listing")
        sel = self.source.selectors
        engine = self._engine(page)
        page_url = Url.parse(page.url)
        if page_url is None:
            return
        named = self._canonical(page, page_url, engine)
        key = engine.key(named)
        if key in self._parsed_keys:  # the same listing reached under another name (a post link, a redirect)
            self.stat("bioleak/skipped/duplicate_listing")
            return
        self._parsed_keys.add(key)
        self._listing_keys.add(key)
        title = extract.clean(self.selected(page.selector, "title")[:1]) if sel.title else extract.title(page.selector)
        parts = ListingParts(
            key=key, engine=engine.name if engine.name != "generic" else "", title=title,
            images=list(response.meta.get("card_images") or ()),
            author=extract.first_of(page.selector, [sel.author] if sel.author else extract.AUTHOR_SELECTORS),
            posted_at=extract.first_of(page.selector, [sel.posted] if sel.posted else extract.POSTED_SELECTORS),
        )  # fmt: skip
        yield from self._read_and_continue(page, page_url, engine, parts, engine.page(named), first=True)

    def parse_listing_page(self, response: Response) -> Iterator[Any]:
        """Page 2, 3... of a listing: its text and images join the listing's."""
        parts: ListingParts = response.meta["listing"]
        number: int = response.meta["page_number"]
        page = self.page(response)
        page_url = Url.parse(page.url) if page is not None else None
        if page is None or page_url is None:
            yield from self._next_or_item(None, parts)
            return
        self.stat("bioleak/pages/listing")
        yield from self._read_and_continue(page, page_url, self._engine(page), parts, number, first=False)

    def _read_and_continue(
        self, page: TextResponse, page_url: Url, engine: Engine, parts: ListingParts, number: int, *, first: bool
    ) -> Iterator[Any]:
        self._read_page(page, engine, parts, number)
        if not self.source.selectors.listing_links:
            base = extract.base_url(page.selector, page.url)
            found = self.discovery.classify(read_links(page.selector, base), page_url, engine, listing=parts.key)
            self._queue_pages(parts, engine, found.listing_pages)  # long threads show a window of pages
            if first:
                for url in found.listings:
                    yield from self._follow_listing(page, url, engine)
                for url in found.indexes:
                    yield from self._follow_index(page, url, engine)
        yield from self._next_or_item(page, parts)

    @staticmethod
    def _canonical(page: TextResponse, page_url: Url, engine: Engine) -> Url:
        """The URL the page declares canonical, if it is a listing's on this site (a post
        permalink's page names its thread and page; some themes name the home page on every
        page, which is not taken), else the page's own."""
        canonical = page.css("link[rel=canonical]::attr(href)").get()
        if canonical:
            url = Url.parse(page.urljoin(canonical.strip()))
            if url is not None and url.host == page_url.host and url_role(url, engine) is Role.LISTING:
                return url
        return page_url

    def _read_page(self, page: TextResponse, engine: Engine, parts: ListingParts, number: int) -> None:
        sel = self.source.selectors
        selector: Selector = page.selector
        parts.queued.add(number)
        if sel.text:
            text = extract.clean(self.selected(selector, "text"))
        else:
            text = extract.main_text(selector, engine.post_selectors)
        parts.pages.setdefault(number, (page.url, text))
        if sel.images:
            base = extract.base_url(selector, page.url)
            found = [u for u in (extract.absolute(base, s) for s in self.selected(selector, "images")) if u]
            parts.images += found
        else:
            parts.images += extract.image_urls(
                selector, page.url, limit=self.listing_images, attachment=GENERIC_ATTACHMENT,
                attachments=engine.attachment,
            )  # fmt: skip
        parts.tools += extract.tool_links(selector, page.url)

    def _queue_pages(self, parts: ListingParts, engine: Engine, urls: list[str]) -> None:
        for href in urls:
            url = Url.parse(href)
            if url is None:
                continue
            number = engine.page(url)
            if number in parts.queued:
                continue  # that page, under another name, is read or queued already
            parts.queued.add(number)
            parts.pending.append((number, url.text))
        parts.pending.sort()

    def _next_or_item(self, page: TextResponse | None, parts: ListingParts) -> Iterator[Any]:
        """The listing's next page still to read, or, once all are read, the listing itself."""
        while parts.pending and len(parts.pages) < self.thread_pages:
            number, url = parts.pending.pop(0)
            request = self.follow(page, url, self.parse_listing_page, priority=THREAD_PAGE,
                                  meta={"listing": parts, "page_number": number})  # fmt: skip
            if request is not None:
                request.errback = self.listing_page_failed
                yield request
                return
        yield self.listing(
            parts.url, title=parts.title, text=parts.text, image_urls=parts.images, author=parts.author,
            posted_at=parts.posted_at, tool_links=parts.tools, key=parts.key, engine=parts.engine,
        )  # fmt: skip

    def listing_page_failed(self, failure: Failure) -> Iterator[Any]:
        """A later page of a listing failed: counted, and the listing is kept with what was read."""
        self.failed(failure)
        request = getattr(failure, "request", None)
        if request is not None and "listing" in request.meta:
            yield from self._next_or_item(None, request.meta["listing"])
