"""The `listing` spider: marketplaces and forums.

index page -> listing links (+ next index page) -> listing page -> ListingItem. With selectors
from sources.yaml it follows exactly those; without, it recognises thread and listing links and
pagination on common forum and marketplace layouts, within the source's page and depth limits.
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

# Paths and queries of thread/listing pages on common forum and shop software (Discuz, phpBB,
# vBulletin, XenForo, Discourse, WordPress, shop carts) and on hand-written markets.
LISTING_URL = re.compile(
    r"(thread|topic|viewtopic|showtopic|showthread|item|listing|product|goods|detail|offer|post|article|view)"
    r"s?[-_/=.]?\w*\d|/t/[^/]+/\d+|/p/\d+|/\d{3,}\.html?$|[?&](tid|pid|id|p|t)=\d+",
    re.I,
)
NEXT_TEXT = re.compile(r"^\s*(next|next page|older|more|下一页|下页|后页|›|»|>|>>)\s*$", re.I)
PAGE_PARAM = re.compile(r"[?&](page|pg|p|start|offset)=\d+|/page/\d+|[-_]page[-_]?\d+", re.I)


def default_listing_links(page: TextResponse) -> list[str]:
    links = []
    for href in page.css("a::attr(href)").getall():
        url = page.urljoin(href.strip())
        parts = urlsplit(url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        if LISTING_URL.search(target) and not PAGE_PARAM.search(target) and url not in links:
            links.append(url)
    return links


def default_next_pages(page: TextResponse) -> list[str]:
    found = page.css("a[rel~=next]::attr(href), link[rel~=next]::attr(href)").getall()
    for anchor in page.css("a[href]"):
        text = extract.clean(anchor.css("::text").getall()) or anchor.attrib.get("title", "")
        if NEXT_TEXT.match(text):
            found.append(anchor.attrib["href"])
    return found[:2]


class ListingSpider(SourceSpider):
    name = "listing"

    async def start(self) -> Any:
        for url in self.start_urls:
            yield self.start_request(url, self.parse_index)

    def parse_index(self, response: Response) -> Iterator[scrapy.Request]:
        page = self.page(response)
        if page is None:
            return
        sel = self.source.selectors
        links = extract.select(page.selector, sel.listing_links) if sel.listing_links else default_listing_links(page)
        yield from self.follow_all(page, links, self.parse_listing)
        nexts = extract.select(page.selector, sel.next_page)[:1] if sel.next_page else default_next_pages(page)
        yield from self.follow_all(page, nexts, self.parse_index)

    def parse_listing(self, response: Response) -> Iterator[Any]:
        page = self.page(response)
        if page is None:
            return
        sel = self.source.selectors
        if sel.images:
            base = extract.base_url(page.selector, page.url)
            images = [u for u in (extract.absolute(base, s) for s in extract.select(page.selector, sel.images)) if u]
            images = list(dict.fromkeys(images))
        else:
            images = extract.image_urls(page.selector, page.url)
        yield self.listing(
            page.url,
            title=extract.clean(extract.select(page.selector, sel.title)[:1])
            if sel.title
            else extract.title(page.selector),
            text=extract.clean(extract.select(page.selector, sel.text))
            if sel.text
            else extract.main_text(page.selector),
            author=extract.first_of(page.selector, [sel.author] if sel.author else extract.AUTHOR_SELECTORS),
            posted_at=extract.first_of(page.selector, [sel.posted] if sel.posted else extract.POSTED_SELECTORS),
            image_urls=images,
            tool_links=extract.tool_links(page.selector, page.url),
        )
