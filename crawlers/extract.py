"""What a listing page says: title, clean text, seller, posting time, image and tool links.

Pure functions over a parsel Selector, so spiders share them and tests need no crawl. Nothing
here trusts the page: URLs are resolved against `<base href>`, and only http(s) ones are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import urljoin, urlsplit

from parsel import Selector

_SPACE = re.compile(r"\s+")
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""", re.I)
# Attributes lazy-loading scripts read the real image from, most specific first.
LAZY_ATTRIBUTES = (
    "data-src", "data-original", "data-lazy-src", "data-lazy", "data-url", "data-echo",
    "data-actualsrc", "data-hi-res-src", "zoomfile", "file", "lazy-src", "original",
)  # fmt: skip
LAZY_SRCSET = ("srcset", "data-srcset", "data-lazy-srcset")
TOOL_EXTENSIONS = (".apk", ".exe", ".zip", ".rar", ".7z", ".ipa", ".dmg", ".msi", ".xapk", ".jar")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic")
# Text nodes outside page chrome (scripts, styles, navigation) that is never the listing's own.
_TEXT_XPATH = (
    ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript or ancestor::template"
    " or ancestor::nav or ancestor::header or ancestor::footer or ancestor::svg)]"
)
_TEXT_ROOTS = (
    "article", "[itemprop=articleBody]", ".post-content", ".message-body", ".t_f", ".postmessage",
    ".post_body", ".content", "#content", "main", ".description", "body",
)  # fmt: skip
AUTHOR_SELECTORS = (
    "[itemprop=author] [itemprop=name]::text", "[itemprop=author]::text", "a[rel=author]::text",
    ".author a::text", ".author::text", ".username::text", ".seller::text", ".poster::text",
    "meta[name=author]::attr(content)",
)  # fmt: skip
POSTED_SELECTORS = (
    "meta[property='article:published_time']::attr(content)", "[itemprop=datePublished]::attr(content)",
    "[itemprop=datePublished]::attr(datetime)", "time::attr(datetime)", ".post-date::text", ".date::text",
)  # fmt: skip


def clean(parts: Iterable[str]) -> str:
    return _SPACE.sub(" ", " ".join(p.strip() for p in parts if p and p.strip())).strip()


def select(sel: Selector, expression: str) -> list[str]:
    """CSS, or XPath when the expression starts with '/' or '('. Results are strings."""
    expression = expression.strip()
    found = sel.xpath(expression) if expression.startswith(("/", "(")) else sel.css(expression)
    return [v for v in found.getall() if isinstance(v, str)]


def base_url(sel: Selector, page_url: str) -> str:
    href = sel.css("base::attr(href)").get()
    return urljoin(page_url, href.strip()) if href else page_url


def absolute(base: str, href: str | None) -> str | None:
    href = (href or "").strip()
    if not href or href.startswith(("data:", "javascript:", "#", "mailto:", "blob:")):
        return None
    try:
        url = urljoin(base, href)
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def largest_srcset(srcset: str) -> str | None:
    """The biggest candidate of a srcset ("a.jpg 320w, b.jpg 1024w" or "1x/2x" densities)."""
    best: tuple[float, str] | None = None
    for candidate in re.split(r",\s+|,(?=\S+\s+\d)", srcset.strip()):
        fields = candidate.strip().split()
        if not fields:
            continue
        size = 1.0
        if len(fields) > 1 and re.fullmatch(r"\d+(?:\.\d+)?[wx]", fields[1]):
            number = float(fields[1][:-1])
            size = number if fields[1].endswith("w") else number * 1000  # density beats unknown widths
        if best is None or size > best[0]:
            best = (size, fields[0].rstrip(","))
    return best[1] if best else None


def image_urls(sel: Selector, page_url: str, *, limit: int = 50) -> list[str]:
    """Every image the page shows, in document order, without duplicates."""
    base = base_url(sel, page_url)
    found: list[str] = []

    def add(href: str | None) -> None:
        url = absolute(base, href)
        if url and url not in found:
            found.append(url)

    # The fallback <img> of a <picture> whose sources are taken instead (asked only of the <img>s
    # inside a <picture>, not of every one on the page).
    fallbacks = {i.root for i in sel.xpath("//picture//img") if i.xpath("ancestor::picture[1][.//source[@srcset]]")}
    for node in sel.css("img, picture source, source[type^='image'], [style*='url('], input[type=image]"):
        tag = node.root.tag if hasattr(node.root, "tag") else ""
        if tag == "img" and node.root in fallbacks:
            continue
        lazy = [node.attrib.get(a) for a in LAZY_ATTRIBUTES if node.attrib.get(a)]
        srcsets = [node.attrib.get(a) for a in LAZY_SRCSET if node.attrib.get(a)]
        if srcsets:
            add(largest_srcset(srcsets[0] or ""))
        elif lazy:
            add(lazy[0])
        elif tag in ("img", "input") and node.attrib.get("src"):
            add(node.attrib["src"])
        for style_url in _CSS_URL.findall(node.attrib.get("style", "")):
            add(style_url[1])
    for style in sel.css("style::text").getall():
        for style_url in _CSS_URL.findall(style):
            if style_url[1].lower().split("?")[0].endswith(IMAGE_EXTENSIONS):
                add(style_url[1])
    for href in sel.css("a::attr(href)").getall():  # linked full-size images
        if urlsplit(href.strip()).path.lower().endswith(IMAGE_EXTENSIONS):
            add(href)
    return found[:limit]


def tool_links(sel: Selector, page_url: str) -> list[str]:
    base = base_url(sel, page_url)
    links: list[str] = []
    for href in sel.css("a::attr(href)").getall():
        url = absolute(base, href)
        if url and urlsplit(url).path.lower().endswith(TOOL_EXTENSIONS) and url not in links:
            links.append(url)
    return links[:50]


def title(sel: Selector) -> str:
    for expression in ("h1 ::text", "meta[property='og:title']::attr(content)", "title::text", "h2 ::text"):
        text = clean(sel.css(expression).getall())
        if text:
            return text[:500]
    return ""


def main_text(sel: Selector) -> str:
    for root in _TEXT_ROOTS:
        nodes = sel.css(root)
        if not nodes:
            continue
        parts: list[str] = []
        for node in nodes[:20]:
            parts.extend(node.xpath(_TEXT_XPATH).getall())
        text = clean(parts)
        if text:
            return text[:20_000]
    return ""


def first_of(sel: Selector, expressions: Sequence[str]) -> str:
    """The first expression, in order, whose first match is not blank."""
    if len(expressions) > 1 and not any(e.strip().startswith(("/", "(")) for e in expressions):
        # Most pages match none of a dozen CSS fallbacks: one pass over the page with all of them
        # at once says so, where trying each in turn costs a pass each.
        if not any(v.strip() for v in sel.css(", ".join(expressions)).getall() if isinstance(v, str)):
            return ""
    for expression in expressions:
        value = clean(select(sel, expression)[:1])
        if value:
            return value[:200]
    return ""
