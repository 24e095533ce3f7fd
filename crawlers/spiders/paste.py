"""The `paste` spider: paste-site archives.

archive page -> paste pages -> raw paste text -> ListingItem. Paste pages are recognised by
their short random ids (pastebin style) unless `listing_links` says otherwise; the raw text is
followed through `raw_link` (default: a link with "raw" in it) or read from the page itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse

from crawlers import extract
from crawlers.spiders.base import SourceSpider

PASTE_PATH = re.compile(r"^/(?:paste/|p/|view/)?[A-Za-z0-9]{6,12}/?$")
RAW_LINKS = "a[href*='/raw/']::attr(href), a[href*='raw=']::attr(href), a[href$='/raw']::attr(href)"
_URL = re.compile(r"https?://[^\s\"'<>()\[\]]+")


class PasteSpider(SourceSpider):
    name = "paste"

    async def start(self) -> Any:
        for url in self.start_urls:
            yield self.start_request(url, self.parse_archive)

    def parse_archive(self, response: Response) -> Iterator[scrapy.Request]:
        page = self.page(response)
        if page is None:
            return
        sel = self.source.selectors
        if sel.listing_links:
            links = extract.select(page.selector, sel.listing_links)
        else:
            links = [h for h in page.css("a::attr(href)").getall() if PASTE_PATH.match(urlsplit(page.urljoin(h)).path)]
        yield from self.follow_all(page, list(dict.fromkeys(links)), self.parse_paste)
        if sel.next_page:
            yield from self.follow_all(page, extract.select(page.selector, sel.next_page)[:1], self.parse_archive)

    def parse_paste(self, response: Response) -> Iterator[Any]:
        page = self.page(response)
        if page is None:
            return
        if not _is_html(page):  # already the raw text
            yield self._from_raw(page, page.url, "")
            return
        sel = self.source.selectors
        title = (
            extract.clean(extract.select(page.selector, sel.title)[:1]) if sel.title else extract.title(page.selector)
        )
        raw = extract.select(page.selector, sel.raw_link or RAW_LINKS)[:1]
        request = self.follow(page, raw[0], self.parse_raw, paste_url=page.url, paste_title=title) if raw else None
        if request is not None:
            yield request
            return
        text = extract.clean(page.css("pre ::text, textarea ::text, .paste ::text, .de1 ::text").getall())
        yield self._from_raw(page, page.url, title, text or extract.main_text(page.selector))

    def parse_raw(self, response: Response) -> Iterator[Any]:
        page = self.page(response)
        if page is None:
            return
        yield self._from_raw(page, response.meta["paste_url"], response.meta["paste_title"])

    def _from_raw(self, page: TextResponse, url: str, title: str, text: str | None = None) -> Any:
        body = page.text if text is None else text
        urls = list(dict.fromkeys(m.rstrip(".,;") for m in _URL.findall(body)))
        images = [u for u in urls if urlsplit(u).path.lower().endswith(extract.IMAGE_EXTENSIONS)]
        tools = [u for u in urls if urlsplit(u).path.lower().endswith(extract.TOOL_EXTENSIONS)]
        first_line = next((line.strip() for line in body.splitlines() if line.strip()), "")
        return self.listing(url, title=title or first_line[:120], text=extract.clean([body]),
                            image_urls=images, tool_links=tools)  # fmt: skip


def _is_html(page: TextResponse) -> bool:
    content_type = (page.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
    return "html" in content_type or (not content_type and page.text.lstrip()[:1] == "<")
