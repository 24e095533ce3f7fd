"""Which links on a page lead to listings, to more lists, to other pages of the same listing, or
nowhere worth a request: without selectors, on engines bioleak knows and on ones it does not.

The site's engine is recognised once, from the markup of its first pages (crawlers/engines/).
Its rules come first. Links they say nothing about are read by their *structure*: on a list page,
links to listings stand in repeated blocks (table rows, list items, cards) with a title each, so
anchors are grouped by the chain of elements and classes above them; a group of several
distinct links with title-like texts is a group of listing links, and the URL shapes of its
members are remembered for the rest of the site. Generic URL rules (words such as thread, item,
forum, page) decide the rest; what none of them place is explored once, at low priority, within
the page budget (a link the operator may never have thought of, such as a navigation entry).

Everything here is linear in the page: links and ancestors read are capped.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from parsel import Selector

from crawlers.engines import ENGINES
from crawlers.engines.base import (
    GENERIC,
    GENERIC_IGNORE,
    GENERIC_INDEX,
    GENERIC_LISTING,
    Engine,
    Role,
    Url,
)

MAX_LINKS = 3000  # anchors read per page
MAX_ANCESTORS = 10  # elements above an anchor that make up its block signature
MIN_GROUP = 3  # distinct links in a repeated block before it is taken for a list of listings
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NEXT_TEXT = re.compile(
    r"^\s*(?:next|next\s+page|older|more|load\s+more|下一页|下页|后页|下一頁|下頁|›|»|>|>>|→|次へ|следующая)\s*[›»>→]*\s*$",
    re.I,
)
_PREV_TEXT = re.compile(r"^\s*(?:prev|previous|newer|上一页|上页|前页|上一頁|‹|«|<|<<|←)\s*$", re.I)
_NUMBER_TEXT = re.compile(r"^\s*(?:\.\.\.\s*)?\d{1,5}\s*$")
_PAGER_CLASS = re.compile(r"pag|pager|pages|pagenav|pg\b|page-numbers|pagination", re.I)


@dataclass(frozen=True)
class Link:
    url: Url
    text: str
    block: str  # the chain of tags and classes above the anchor
    rel: str = ""
    in_pager: bool = False
    element: object = field(default=None, compare=False, repr=False)  # the anchor, for its card


@dataclass
class PageLinks:
    listings: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    explore: list[str] = field(default_factory=list)
    listing_pages: list[str] = field(default_factory=list)  # other pages of the listing on this page


MAX_CARD_LEVELS = 5  # elements above a listing link searched for its card


def card(link: Link) -> object | None:
    """The block a list page shows one listing in (a product card, a table row): the largest
    element above the link whose links all lead to that same listing; None if there is none."""
    element: Any = link.element
    if element is None or not hasattr(element, "getparent"):
        return None
    own = (element.get("href") or "").split("#")[0].strip()
    best = None
    for _ in range(MAX_CARD_LEVELS):
        parent = element.getparent()
        if parent is None or getattr(parent, "tag", "") in ("body", "html"):
            break
        hrefs = {(a.get("href") or "").split("#")[0].strip() for a in parent.iter("a")} - {""}
        if hrefs != {own}:
            break  # it holds links elsewhere: the list itself, not one listing's card
        best = element = parent
    return best


def title_weight(text: str) -> int:
    """Characters of a title, a CJK ideograph counting as two (it carries about a word)."""
    return len(text) + len(_CJK.findall(text))


def _is_title(text: str) -> bool:
    text = text.strip()
    return title_weight(text) >= 10 and not _NUMBER_TEXT.match(text) and not _NEXT_TEXT.match(text)


def _class_of(element: object) -> str:
    get = getattr(element, "get", None)
    classes = (get("class") or "").split() if callable(get) else []
    return ".".join(sorted(re.sub(r"\d+", "", c) for c in classes[:3] if c))


def read_links(sel: Selector, base: str, *, limit: int = MAX_LINKS) -> list[Link]:
    """Every anchor (and <link rel=next>) with an http(s) URL, in document order."""
    from urllib.parse import urljoin

    links: list[Link] = []
    for node in sel.xpath("//a[@href] | //link[@rel][@href] | //area[@href]")[:limit]:
        element = node.root
        try:
            href = (element.get("href") or "").strip()
        except (AttributeError, ValueError):
            continue
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        try:
            url = Url.parse(urljoin(base, href))
        except ValueError:
            continue
        if url is None:
            continue
        tag = getattr(element, "tag", "")
        rel = (element.get("rel") or "").lower()
        if tag == "link" and "next" not in rel and "prev" not in rel:
            continue
        chain: list[str] = []
        in_pager = False
        parent = element.getparent() if hasattr(element, "getparent") else None
        while parent is not None and len(chain) < MAX_ANCESTORS:
            parent_tag = getattr(parent, "tag", "")
            if not isinstance(parent_tag, str) or parent_tag in ("body", "html"):
                break
            cls = _class_of(parent)
            if cls and _PAGER_CLASS.search(cls):
                in_pager = True
            chain.append(f"{parent_tag}.{cls}" if cls else parent_tag)
            parent = parent.getparent()
        try:
            text = " ".join(element.itertext()).strip()[:200] if tag == "a" else ""
        except ValueError:
            text = ""
        if tag == "a" and not text:
            text = (element.get("title") or "").strip()[:200]
        block = "/".join(reversed(chain)) + f"/{tag}.{_class_of(element)}"
        links.append(Link(url, " ".join(text.split()), block, rel, in_pager, element))
    return links


_SEGMENT_WORDS = re.compile(r"[a-z]+", re.I)
_ID = re.compile(
    r"\d{2,}|[0-9a-f]{8,}|[A-Za-z0-9]*[0-9][A-Za-z0-9]*[A-Z][A-Za-z0-9]*|[A-Za-z0-9]*[A-Z][A-Za-z0-9]*[0-9]"
)


def _names_an_item(url: Url) -> bool:
    """Whether a URL carries an item's identity: a number, a hash or random key, or a slug of
    several words (a title), rather than one category word."""
    if _ID.search(url.target):
        return True
    return any(len(_SEGMENT_WORDS.findall(seg)) >= 3 for seg in url.path.split("/"))


def shape(url: Url) -> str:
    """A URL with its variable parts generalised: digits, and slugs of several words."""
    segments = []
    for segment in url.path.split("/"):
        segment = re.sub(r"\d+", "9", segment)
        if len(_SEGMENT_WORDS.findall(segment)) >= 2 and re.search(r"[-_+]", segment):
            segment = (
                re.sub(r"[^/.]+", "{slug}", segment, count=1)
                if "." not in segment
                else re.sub(r"^[^.]+", "{slug}", segment)
            )
        segments.append(segment.lower())
    keys = ",".join(sorted({k.lower() for k, _ in url.query}))
    return f"{url.host}{'/'.join(segments)}?{keys}"


def url_role(url: Url, engine: Engine) -> Role | None:
    """A URL's role by the engine's rules, then the generic URL rules (no page structure)."""
    role = engine.role(url)
    if role is not None or not engine.generic_rules:
        return role
    target = url.target
    if any(p.search(target) for p in GENERIC_IGNORE):
        return Role.IGNORE
    if any(p.search(target) for p in GENERIC_LISTING):
        return Role.LISTING
    if any(p.search(target) for p in GENERIC_INDEX):
        return Role.INDEX
    return None


@dataclass
class SiteKnowledge:
    """What discovery learned about one site (host:port)."""

    engine: Engine | None = None  # None until recognised (or given up on)
    pages_seen: int = 0
    listing_shapes: Counter[str] = field(default_factory=Counter)


class Discovery:
    """Per crawl: each site's engine and what its list pages taught."""

    DETECT_PAGES = 3  # pages read for the engine's signature before settling on the generic rules

    def __init__(self, engines: Iterable[Engine] = ENGINES, forced: Engine | None = None) -> None:
        self.engines = tuple(engines)
        self.forced = forced
        self.sites: dict[str, SiteKnowledge] = defaultdict(SiteKnowledge)

    def engine_for(self, host: str, head: str = "") -> Engine:
        site = self.sites[host]
        if self.forced is not None:
            site.engine = self.forced
            return self.forced
        if site.engine is None and head:
            site.pages_seen += 1
            for candidate in self.engines:
                if candidate.detect(head):
                    site.engine = candidate
                    break
            else:
                if site.pages_seen >= self.DETECT_PAGES:
                    site.engine = GENERIC
        return site.engine or GENERIC

    def known_engine(self, host: str) -> str:
        site = self.sites.get(host)
        return site.engine.name if site and site.engine else ""

    # --- roles ------------------------------------------------------------------------------------

    def role(self, link: Link, engine: Engine) -> Role | None:
        """A link's role by the engine's rules, then what the site's lists taught, then the generic
        URL rules; None: nothing says (explore it)."""
        role = engine.role(link.url)
        if role is not None:
            return role
        if not engine.generic_rules:
            return None
        target = link.url.target
        if any(p.search(target) for p in GENERIC_IGNORE):
            return Role.IGNORE
        if self.sites[link.url.host].listing_shapes.get(shape(link.url), 0) >= MIN_GROUP:
            return Role.LISTING
        if link.in_pager or "next" in link.rel or _NEXT_TEXT.match(link.text) or _PREV_TEXT.match(link.text):
            return Role.INDEX
        if any(p.search(target) for p in GENERIC_LISTING):
            return Role.LISTING
        if any(p.search(target) for p in GENERIC_INDEX):
            return Role.INDEX
        return None

    def learn(self, links: list[Link], engine: Engine) -> set[str]:
        """Listing links found by structure on a list page (and their shapes remembered)."""
        groups: dict[str, dict[str, Link]] = defaultdict(dict)
        for link in links:
            groups[link.block][engine.canonical(link.url)] = link
        found: set[str] = set()
        for members in groups.values():
            if len(members) < MIN_GROUP:
                continue
            texts = [m.text for m in members.values()]
            titles = [t for t in texts if _is_title(t)]
            if len(titles) < MIN_GROUP or len(titles) < 0.6 * len(texts):
                continue
            if median(title_weight(t) for t in titles) < 12 or len(set(titles)) < 0.8 * len(titles):
                continue
            candidates = [m for m in members.values() if _is_title(m.text)]
            if sum(_names_an_item(m.url) for m in candidates) < 0.6 * len(candidates):
                continue  # category names: listings are addressed by an id or a long slug
            roles = Counter(self._url_role(m, engine) for m in candidates)
            if roles[Role.INDEX] > roles[Role.LISTING] or roles[Role.IGNORE] > len(candidates) / 2:
                continue  # a list of sub-forums or categories, or of profiles
            for m in candidates:
                if self._url_role(m, engine) in (Role.IGNORE, Role.INDEX, Role.ATTACHMENT):
                    continue
                found.add(engine.canonical(m.url))
                self.sites[m.url.host].listing_shapes[shape(m.url)] += 1
        return found

    @staticmethod
    def _url_role(link: Link, engine: Engine) -> Role | None:
        return url_role(link.url, engine)

    # --- pages ------------------------------------------------------------------------------------

    def classify(self, links: list[Link], page_url: Url, engine: Engine, *, listing: str | None = None) -> PageLinks:
        """What to follow from a page: on a list page, everything of use (and what it teaches);
        on a page of the listing whose key is `listing`, the other pages of that listing, other
        listings and lists."""
        out = PageLinks()
        listing_page = listing is not None
        same_site = [link for link in links if link.url.host == page_url.host]
        structural = set() if listing_page else self.learn(same_site, engine)
        seen: set[str] = set()
        for link in same_site:
            canonical = engine.canonical(link.url)
            if canonical in seen or canonical == engine.canonical(page_url):
                continue
            seen.add(canonical)
            role = Role.LISTING if canonical in structural else self.role(link, engine)
            if listing_page and role not in (Role.IGNORE, Role.ATTACHMENT) and engine.key(link.url) == listing:
                out.listing_pages.append(link.url.text)  # page 2 of this thread, by whatever name
            elif role is Role.LISTING:
                out.listings.append(link.url.text)
            elif role is Role.INDEX:
                out.indexes.append(link.url.text)
            elif role is None and not listing_page:
                out.explore.append(link.url.text)
        return out
