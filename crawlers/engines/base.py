"""What a site engine knows: how to recognise it, what its links are, and where a listing's text is.

An `Engine` answers, for a URL on its site: is it a listing (a thread, a product, a paste), an
index (a sub-forum, a category, a list page), a link not worth a request (login, reply form, print
view, sort variant, "last post" redirect), or none of those (None: the generic rules and the
page's structure decide, see crawlers/discovery.py). It also says which listing a URL belongs to
(its key: the aliases of one thread share it), which page of a multi-page listing a URL is, and
which elements hold the listing's text. The generic engine, used on sites no module recognises,
answers from URL shapes common to most software.

An engine module defines one `Engine` and is registered in crawlers/engines/__init__.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit


class Role(Enum):
    LISTING = "listing"  # a listing's page: thread, product, paste, ad
    INDEX = "index"  # a page of links to listings: forum, sub-forum, category, list page
    IGNORE = "ignore"  # never worth a request: forms, accounts, print views, sort variants, feeds
    ATTACHMENT = "attachment"  # a file a listing shows (an image, often without an extension)


# Session and tracking parameters: the same page under another visitor's id is the same page.
SESSION_PARAMS = frozenset({
    "sid", "s_id", "phpsessid", "sessionid", "session_id", "jsessionid", "osCsid", "zenid", "utm_source",
    "utm_medium", "utm_campaign", "utm_term", "utm_content", "fbclid", "gclid", "spm", "hilit", "highlight",
})  # fmt: skip
# Parameters that page through a list or a thread (the same listing on another page).
PAGE_PARAMS = ("page", "pg", "start", "offset", "pagenumber", "ipage", "comments-page", "cpage", "paged", "p_page")
_PAGE_PATH = re.compile(r"(?:/page[/-]?|/page,|[-_]page[-_]?)(\d{1,5})/?$", re.I)


@dataclass(frozen=True)
class Url:
    """An absolute URL split once, with the canonical form bioleak compares URLs by."""

    text: str
    scheme: str
    host: str  # host[:port], lower case
    path: str  # unquoted
    query: tuple[tuple[str, str], ...]  # decoded, in page order

    @classmethod
    def parse(cls, url: str) -> Url | None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            return None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        query = tuple(parse_qsl(parts.query, keep_blank_values=True))[:64]
        return cls(url, parts.scheme, parts.netloc.lower(), unquote(parts.path) or "/", query)

    @property
    def params(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.query}

    @property
    def target(self) -> str:
        """Path and query, decoded, parameters in page order: what URL patterns are matched on."""
        return self.path + ("?" + "&".join(f"{k}={v}" for k, v in self.query) if self.query else "")

    def canonical(self, drop: Iterable[str] = ()) -> str:
        """Scheme, host, path and the query sorted, without session ids (and `drop`), no fragment."""
        dropped = {d.lower() for d in drop} | {p.lower() for p in SESSION_PARAMS}
        query = sorted((k, v) for k, v in self.query if k.lower() not in dropped)
        return urlunsplit((self.scheme, self.host, self.path, urlencode(query), ""))


def _compile(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.I) for p in patterns)


# What most software calls its listings, indexes and chrome. Engines add their own rules first.
GENERIC_IGNORE = _compile([
    r"(?:^|[/._?&=-])(?:log-?in|log-?out|sign-?in|sign-?up|sign_in|sign_up|register|registration|lost-?password|"
    r"members?|memberlist|profiles?|users?|u(?=/)|"
    r"lostpw|forgot|reset-?password|captcha|ucp|usercp|my-?account|cart|checkout|add-to-cart|wishlist|compare|"
    r"posting|newthread|newreply|new-?topic|reply|sendmessage|sendthread|send-?friend|send-?to-?friend|"
    r"subscribe|unsubscribe|feed|rss|atom|opensearch|oembed|wp-json|xmlrpc|wp-login|wp-admin|report|"
    r"print|printthread|printable|misc\.php|ajax|api/|share|sharer|bookmark|like|vote|rate|rating_filter|"
    r"privatemessage|private\.php|pm\.php|messages?/new|notifications?|settings|preferences|language|lang=|"
    r"setlang|theme=|styleid|mobile=|action=lastpost|action=newpost|goto=lastpost|goto=newpost|"
    r"getnewcomment|getlastcomment|view=getnewpost|view=getlastpost|view=print|view=previous|view=next|"
    r"orderby=|order=|sort=|sortby=|sort_by=|dir=|direction=|filter=|display=|layout=|mode=(?:print|list|grid)"
    r")(?:$|[/._?&=-])",
    r"^mailto:|^javascript:|^tel:",
    r"\.(?:css|js|json|xml|ico|woff2?|ttf|eot|map|svg)(?:$|\?)",
])  # fmt: skip
GENERIC_LISTING = _compile([
    r"/(?:thread|threads|topic|topics|viewtopic|showtopic|showthread|item|items|listing|listings|product|products|"
    r"goods|buy|ad|ads|offer|offers|detail|details|post|posts|article|articles|view|paste|d|t|p|i)[s]?"
    r"(?:[-_/.=]|\.php\?)[^?#]*\d",
    r"[?&](?:tid|t|topic|threadid|thread_id|goods_id|product_id|productid|item_id|itemid|ad_id|adid|pid|post_id)=\d+",
    r"/[^/?#]*[a-z][^/?#]*[._-]\d{2,}/?(?:$|\?)",  # /threads/some-title.123/, /title_i41.html, /slug-123
    r"/\d{3,}(?:[-_][^/]*)?\.s?html?$",  # /2024/123.html, /1234-title.html
    r"/\d{4}/\d{2}/[^/]+/?$",  # /2024/03/title/ (blogs)
])  # fmt: skip
GENERIC_INDEX = _compile([
    r"(?:^|/)(?:forum|forums|board|boards|category|categories|cat|section|sections|subforum|tag|tags|list|"
    r"archive|archives|shop|store|catalog|catalogue|collections?|latest|new|newest|top|hot|all|browse|"
    r"directory|channel|channels|market|marketplace|classifieds|search/category)(?:$|[/._,-])",
    r"[?&](?:f|fid|forum|forumid|forum_id|board|cat|cid|category|category_id|catid|gid|section|tag|c)=[\w-]+",
    r"[?&](?:page|pg|start|offset|paged|ipage|before|after)=\d+",
    r"/page[/-]?\d+/?$|/page,\d+|[-_]page[-_]?\d+",
])  # fmt: skip
# Attachment downloads that often have no image extension but are images.
GENERIC_ATTACHMENT = _compile([
    r"(?:attachment|attachments|attach|getattach|download/file\.php|file\.php\?id=|dl\.php|getfile|"
    r"mod=attachment|filedata/fetch|/uploads?/|/files?/|/media/|showimage|image\.php|img\.php|/images?/)",
])  # fmt: skip
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".jfif", ".avif")


@dataclass(frozen=True)
class Engine:
    name: str
    # Markup (or URL) signatures of the engine, searched in the page's first 64 KB; `detect`
    # needs `min_signatures` of them (one distinctive marker is usually enough).
    signatures: tuple[re.Pattern[str], ...] = ()
    min_signatures: int = 1
    listing: tuple[re.Pattern[str], ...] = ()
    index: tuple[re.Pattern[str], ...] = ()
    ignore: tuple[re.Pattern[str], ...] = ()
    attachment: tuple[re.Pattern[str], ...] = ()
    # How a URL names its listing: regexes whose groups make the listing's id, tried in order on
    # the decoded path?query; without a match the listing key is the URL without its page
    # parameters. `index_id` does the same for list pages (a forum under two URL schemes).
    listing_id: tuple[re.Pattern[str], ...] = ()
    index_id: tuple[re.Pattern[str], ...] = ()
    # Where the page number of a multi-page listing (or a list) is: regexes whose first group is
    # a page number, or a parameter named in `page_params` (with `page_step` items per page).
    page_number: tuple[re.Pattern[str], ...] = ()
    page_params: tuple[str, ...] = PAGE_PARAMS
    # Elements that hold a listing's text (posts, signatures, a product description), tried as a
    # group; empty: the generic text roots.
    post_selectors: tuple[str, ...] = ()
    # Other parameters that make no difference to the page (on this engine).
    drop_params: frozenset[str] = frozenset()
    generic_rules: bool = True  # fall back on the generic URL rules for links it has no rule for
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def detect(self, head: str) -> bool:
        found = 0
        for signature in self.signatures:
            if signature.search(head):
                found += 1
                if found >= self.min_signatures:
                    return True
        return False

    def role(self, url: Url) -> Role | None:
        target = url.target
        for role, patterns in (
            (Role.IGNORE, self.ignore),
            (Role.ATTACHMENT, self.attachment),
            (Role.LISTING, self.listing),
            (Role.INDEX, self.index),
        ):
            if any(p.search(target) for p in patterns):
                return role
        return None

    def key(self, url: Url) -> str:
        """The listing a URL shows (aliases and pages of one thread share it)."""
        return self._key(url, self.listing_id)

    def index_key(self, url: Url) -> str:
        """The list a URL shows (its pages share it)."""
        return self._key(url, self.index_id)

    def _key(self, url: Url, patterns: tuple[re.Pattern[str], ...]) -> str:
        target = url.target
        for pattern in patterns:
            m = pattern.search(target)
            if m:
                return f"{url.host}|{self.name}:" + ":".join(g.lower() for g in m.groups() if g)
        page_params = {p.lower() for p in self.page_params}
        path = _PAGE_PATH.sub("", url.path) if url.path != "/" else url.path
        stripped = Url(url.text, url.scheme, url.host, path or "/", url.query)
        return stripped.canonical(drop=page_params | self.drop_params)

    def page(self, url: Url) -> int:
        """Where a URL is among the pages of its listing or list, for putting them in order (1 when
        it says nothing; `start`/`offset` items count as pages too, in the same order)."""
        target = url.target
        for pattern in self.page_number:
            m = pattern.search(target)
            if m:
                return max(1, int(m.group(1)))
        params = url.params
        for name in self.page_params:
            value = params.get(name.lower(), "")
            if value.isdigit():
                number = int(value)
                # start/offset count items, not pages: every step is a page, in order
                return number + 2 if name in ("start", "offset") and number else max(1, number)
        m = _PAGE_PATH.search(url.path)
        return max(1, int(m.group(1))) if m else 1

    def canonical(self, url: Url) -> str:
        return url.canonical(drop=self.drop_params)


def engine(name: str, **rules: object) -> Engine:
    """An Engine from lists of regex strings (compiled case-insensitively)."""
    compiled: dict[str, object] = {}
    for key, value in rules.items():
        if key in ("signatures", "listing", "index", "ignore", "attachment", "listing_id", "index_id", "page_number"):
            compiled[key] = _compile(value)  # type: ignore[arg-type]
        elif key == "drop_params":
            compiled[key] = frozenset(str(v).lower() for v in value)  # type: ignore[attr-defined]
        else:
            compiled[key] = value
    return Engine(name=name, **compiled)  # type: ignore[arg-type]


GENERIC = Engine(name="generic")
