"""The `telegram` spider: public channel previews in the t.me/s/NAME markup.

Each message block (`.tgme_widget_message[data-post]`) becomes one listing: its text, author,
time, photos (`background-image:url(...)` on photo wraps, albums included) and file names.
Older messages are reached through the `?before=ID` link, within the source's page limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from parsel import Selector
from scrapy.http import Response, TextResponse

from crawlers import extract
from crawlers.spiders.base import SourceSpider

_POST = re.compile(r"^[A-Za-z0-9_]{1,64}/\d{1,12}$")
_PHOTOS = (
    ".tgme_widget_message_photo_wrap, .tgme_widget_message_video_thumb, .link_preview_right_image,"
    " .link_preview_image, .tgme_widget_message_roundvideo_thumb"
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
        for message in page.css(".tgme_widget_message[data-post]"):
            post = message.attrib.get("data-post", "")
            if not _POST.match(post):
                self._skip("bad_post_id", page.url)
                continue
            yield self._message(page, message, post)
        older = page.css("a.tme_messages_more[data-before]::attr(href), link[rel=prev]::attr(href)").getall()
        yield from self.follow_all(page, older[:1], self.parse_channel)

    def _message(self, page: TextResponse, message: Selector, post: str) -> Any:
        link = message.css("a.tgme_widget_message_date::attr(href)").get()
        url = extract.absolute(page.url, link) or page.urljoin("/" + post)
        text = extract.clean(message.css(".tgme_widget_message_text ::text").getall())
        files = message.css(".tgme_widget_message_document_title ::text").getall()
        if files:
            text = extract.clean([text, *("[file] " + f for f in files)])
        images = extract.image_urls(Selector(text=message.get()), page.url)
        for wrap in message.css(_PHOTOS):
            for css_url in re.findall(r"""url\(\s*['"]?([^'")]+)""", wrap.attrib.get("style", "")):
                absolute = extract.absolute(page.url, css_url)
                if absolute and absolute not in images:
                    images.append(absolute)
        first_line = text.split(". ")[0] if text else ""
        return self.listing(
            url,
            title=(first_line[:120] or post),
            text=text,
            author=extract.clean(message.css(".tgme_widget_message_owner_name ::text").getall()[:1])
            or extract.clean(message.css(".tgme_widget_message_from_author ::text").getall()[:1]),
            posted_at=message.css("time::attr(datetime)").get() or "",
            image_urls=images,
            tool_links=extract.tool_links(Selector(text=message.get()), page.url),
        )
