"""The `paste` spider: paste-site archives.

archive pages (and their pages, syntax and user archives) -> paste pages -> raw paste text ->
ListingItem. Pastes are recognised by their short random keys (crawlers/engines/paste.py) unless
`listing_links` says otherwise; the raw text is read through `raw_link` (default: the paste's
/raw/ link) or from the page itself. URLs written as plain text in a paste are kept: images
(by extension or an attachment-like path) as the paste's images, tools as its tool links, and
text files on the same site (dumps: .txt, .csv...) are read as pastes of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse

from crawlers import extract
from crawlers.discovery import read_links
from crawlers.engines import paste
from crawlers.engines.base import GENERIC_ATTACHMENT, IMAGE_EXTENSIONS, Url
from crawlers.spiders.base import SourceSpider

RAW_LINKS = "a[href*='/raw/']::attr(href), a[href*='raw=']::attr(href), a[href$='/raw']::attr(href)"
# URLs written in a paste's text; commas end one (lists of URLs are written "a.jpg,b.jpg").
_URL = re.compile(r"https?://[^\s\"'<>()\[\]{},|]{1,2048}")
# An image host's short link: a random key as the last segment, no extension (/v/8fK2pQw).
_SHORT_LINK = re.compile(r"/(?-i:(?=[A-Za-z0-9]{0,15}[0-9])(?=[A-Za-z0-9]{0,15}[A-Z])[A-Za-z0-9]{5,16})/?$")
DUMP_EXTENSIONS = (".txt", ".csv", ".tsv", ".json", ".sql", ".log", ".xml")
PASTE, INDEX, EXPLORE = 20, 10, 0


class PasteSpider(SourceSpider):
    name = "paste"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.discovery.forced = paste.ENGINE

    async def start(self) -> Any:
        for url in self.start_urls:
            yield self.start_request(url, self.parse_archive)

    def parse_archive(self, response: Response) -> Iterator[scrapy.Request]:
        page = self.page(response)
        if page is None:
            return
        self.stat("bioleak/pages/index")
        sel = self.source.selectors
        if sel.listing_links:
            links = self.selected(page.selector, "listing_links")
            nexts = self.selected(page.selector, "next_page") if sel.next_page else []
            for href in links:
                request = self.follow(page, href, self.parse_paste, priority=PASTE)
                if request is not None:
                    yield request
            for href in nexts:
                request = self.follow(page, href, self.parse_archive, priority=INDEX)
                if request is not None:
                    yield request
            return
        page_url = Url.parse(page.url)
        if page_url is None:
            return
        engine = self.discovery.engine_for(page_url.host)
        self.note_engine(page_url.host)
        base = extract.base_url(page.selector, page.url)
        found = self.discovery.classify(read_links(page.selector, base), page_url, engine)
        for url in found.listings:
            key = engine.key(Url.parse(url))  # type: ignore[arg-type]
            if key in self._listing_keys:
                continue
            self._listing_keys.add(key)
            request = self.follow(page, url, self.parse_paste, priority=PASTE)
            if request is not None:
                yield request
        for url in found.indexes:
            request = self.follow(page, url, self.parse_archive, priority=INDEX)
            if request is not None:
                yield request
        if not response.meta.get("explored"):
            for url in found.explore:
                request = self.follow(page, url, self.parse_archive, priority=EXPLORE, meta={"explored": True})
                if request is not None:
                    yield request

    def parse_paste(self, response: Response) -> Iterator[Any]:
        page = self.page(response)
        if page is None:
            return
        self.stat("bioleak/pages/listing")
        if not _is_html(page):  # already the raw text
            yield from self._from_raw(page, page.url, "")
            return
        sel = self.source.selectors
        title = (
            extract.clean(extract.select(page.selector, sel.title)[:1]) if sel.title else extract.title(page.selector)
        )
        raw = extract.select(page.selector, sel.raw_link or RAW_LINKS)[:1]
        if raw:
            request = self.follow(page, raw[0], self.parse_raw, priority=PASTE + 5,
                                  meta={"paste_url": page.url, "paste_title": title})  # fmt: skip
            if request is not None:
                yield request
                return
        text = extract.clean(page.css("textarea ::text").getall()[:1]) or extract.clean(
            page.css("pre ::text, .paste ::text, .de1 ::text, ol ::text").getall()
        )
        yield from self._from_raw(page, page.url, title, text or extract.main_text(page.selector))

    def parse_raw(self, response: Response) -> Iterator[Any]:
        page = self.page(response)
        if page is None:
            return
        yield from self._from_raw(page, response.meta["paste_url"], response.meta["paste_title"])

    def _from_raw(self, page: TextResponse, url: str, title: str, text: str | None = None) -> Iterator[Any]:
        body = page.text if text is None else text
        body = body[:1_000_000]
        urls = list(dict.fromkeys(m.rstrip(".,;:!?") for m in _URL.findall(body[:200_000])))[:500]
        images, tools, dumps = [], [], []
        here = urlsplit(page.url).netloc
        for u in urls:
            parsed = Url.parse(u)
            if parsed is None:
                continue
            path = parsed.path.lower()
            elsewhere = parsed.host != here
            if (
                path.endswith(IMAGE_EXTENSIONS)
                or any(p.search(parsed.target) for p in GENERIC_ATTACHMENT)
                or (elsewhere and _SHORT_LINK.search(parsed.path))
            ):
                if not path.endswith((*DUMP_EXTENSIONS, *extract.TOOL_EXTENSIONS)):
                    images.append(u)
                    continue
            if path.endswith(extract.TOOL_EXTENSIONS):
                tools.append(u)
            elif path.endswith(DUMP_EXTENSIONS) and parsed.host == here:
                dumps.append(u)
        first_line = next((line.strip() for line in body.splitlines() if line.strip()), "")
        parsed_url = Url.parse(url)
        key = paste.ENGINE.key(parsed_url) if parsed_url is not None else ""
        yield self.listing(url, title=title or first_line[:120], text=extract.clean([body]),
                           image_urls=images, tool_links=tools, key=key, engine="paste")  # fmt: skip
        for dump in dumps:  # a dump the paste points at, on the same site: a listing of its own
            request = self.follow(page, dump, self.parse_paste, priority=PASTE)
            if request is not None:
                yield request


def _is_html(page: TextResponse) -> bool:
    content_type = (page.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
    return "html" in content_type or (not content_type and page.text.lstrip()[:1] == "<")
