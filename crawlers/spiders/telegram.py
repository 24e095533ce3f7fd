"""The `telegram` spider: public channel previews in the t.me/s/NAME markup.

Each message block (`.tgme_widget_message[data-post]`) becomes one listing: its text, author,
time, photos (`background-image:url(...)` on photo wraps, albums, video thumbnails and link
previews, often on a separate CDN host) and the names of attached files. Older messages are
reached through every `?before=ID` link, other channels the page links on the same host through
their /s/ preview, and Instant View pages of linked articles are read as listings of their own;
all within the source's page limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from parsel import Selector
from scrapy.http import Response, TextResponse

from crawlers import extract
from crawlers.engines.base import Url
from crawlers.spiders.base import SourceSpider

_POST = re.compile(r"^[A-Za-z0-9_]{1,64}/\d{1,12}$")
_CHANNEL_PATH = re.compile(r"^/(?:s/)?([A-Za-z][A-Za-z0-9_]{3,31})/?$")
_RESERVED = frozenset({"s", "iv", "share", "joinchat", "addstickers", "proxy", "socks", "login", "contact", "js", "css",
                       "img", "i", "file", "static", "api"})  # fmt: skip
_PHOTOS = (
    ".tgme_widget_message_photo_wrap, .tgme_widget_message_video_thumb, .link_preview_right_image,"
    " .link_preview_image, .tgme_widget_message_roundvideo_thumb, .tgme_widget_message_link_preview i"
)


class TelegramSpider(SourceSpider):
    name = "telegram"

    async def start(self) -> Any:
        for url in self.start_urls:
            yield self.start_request(url, self.parse_channel)

    def parse_channel(self, response: Response) -> Iterator[Any]:
        page = self.page(response)
        if page is None:
            return
        self.stat("bioleak/pages/index")
        host = urlsplit(page.url).netloc
        self.discovery.engine_for(host, page.text[:65536])
        self.note_engine(host)
        for message in page.css(".tgme_widget_message[data-post]")[:500]:
            post = message.attrib.get("data-post", "")
            if not _POST.match(post):
                self._skip("bad_post_id", page.url)
                continue
            yield self._message(page, message, post)
        older = page.css(
            "a.tme_messages_more[data-before]::attr(href), a.tme_messages_more[data-after]::attr(href),"
            " link[rel=prev]::attr(href), link[rel=next]::attr(href)"
        ).getall()
        for href in older:
            request = self.follow(page, href, self.parse_channel, priority=10)
            if request is not None:
                yield request
        yield from self._linked(page)

    def _linked(self, page: TextResponse) -> Iterator[Any]:
        """Other channels on this host (through their /s/ preview) and Instant View pages."""
        base = Url.parse(page.url)
        if base is None:
            return
        for href in page.css("a[href]::attr(href)").getall()[:2000]:
            url = Url.parse(page.urljoin(href.strip()))
            if url is None or url.host != base.host:
                continue
            if url.path.rstrip("/") == "/iv":
                request = self.follow(page, url.text, self.parse_article, priority=5)
            else:
                m = _CHANNEL_PATH.match(url.path)
                if not m or m.group(1).lower() in _RESERVED or url.query:
                    continue
                request = self.follow(page, f"{url.scheme}://{url.host}/s/{m.group(1)}", self.parse_channel)
            if request is not None:
                yield request

    def parse_article(self, response: Response) -> Iterator[Any]:
        """An Instant View page: the linked article, as a listing of its own."""
        page = self.page(response)
        if page is None:
            return
        self.stat("bioleak/pages/listing")
        yield self.listing(
            page.url, title=extract.title(page.selector), text=extract.main_text(page.selector),
            image_urls=extract.image_urls(page.selector, page.url, limit=self.listing_images),
            tool_links=extract.tool_links(page.selector, page.url),
        )  # fmt: skip

    def _message(self, page: TextResponse, message: Selector, post: str) -> Any:
        link = message.css("a.tgme_widget_message_date::attr(href)").get()
        url = extract.absolute(page.url, link) or page.urljoin("/" + post)
        text = extract.clean(message.css(".tgme_widget_message_text ::text").getall())
        files = message.css(".tgme_widget_message_document_title ::text").getall()
        if files:
            text = extract.clean([text, *("[file] " + f for f in files)])
        preview = extract.clean(message.css(".tgme_widget_message_link_preview ::text").getall())
        if preview:
            text = extract.clean([text, "[link] " + preview])
        fragment = Selector(text=message.get())
        for emoji in fragment.css("i.emoji, .emoji"):  # Telegram draws emoji as background images
            emoji.drop()
        images = extract.image_urls(fragment, page.url, limit=self.listing_images, chrome=True)
        for wrap in message.css(_PHOTOS):
            for css_url in re.findall(r"""url\(\s*['"]?([^'")\s]{1,2048})""", wrap.attrib.get("style", "")):
                absolute = extract.absolute(page.url, css_url)
                if absolute and absolute not in images:
                    images.append(absolute)
        first_line = extract.first_line(message.css(".tgme_widget_message_text")) or text
        return self.listing(
            url,
            title=(first_line[:120] or post),
            text=text,
            author=extract.clean(message.css(".tgme_widget_message_owner_name ::text").getall()[:1])
            or extract.clean(message.css(".tgme_widget_message_from_author ::text").getall()[:1]),
            posted_at=message.css("time::attr(datetime)").get() or "",
            image_urls=images,
            tool_links=extract.tool_links(fragment, page.url),
            key=f"telegram:{post.lower()}",
            engine="telegram",
        )
