"""What a listing page says: title, clean text, seller, posting time, image and tool links.

Pure functions over a parsel Selector, so spiders share them and tests need no crawl. Nothing
here trusts the page: URLs are resolved against a well-formed `<base href>` only, just http(s)
ones are kept, and every loop over the page's elements or an attribute's text is capped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from crawlers.engines.base import IMAGE_EXTENSIONS, Url

_SPACE = re.compile(r"\s+")
# Bounded: a url( without its closing parenthesis costs at most this many characters per try.
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")\s]{1,2048})\1\s*\)""", re.I)
# Attributes lazy-loading scripts read the real image from; every one that is set is a file.
LAZY_ATTRIBUTES = (
    "data-src", "data-original", "data-lazy-src", "data-lazy", "data-url", "data-echo", "data-actualsrc",
    "data-hi-res-src", "data-large_image", "data-zoom-image", "data-full", "data-fullsrc", "data-image",
    "zoomfile", "file", "lazy-src", "original", "data-bg", "data-background", "data-background-image",
)  # fmt: skip
LAZY_SRCSET = ("srcset", "data-srcset", "data-lazy-srcset")
TOOL_EXTENSIONS = (".apk", ".exe", ".zip", ".rar", ".7z", ".ipa", ".dmg", ".msi", ".xapk", ".jar", ".deb", ".apks")
# Placeholders lazy loaders put in src until a script swaps the real image in.
_PLACEHOLDER = re.compile(
    r"(?:^|/)(?:none|blank|spacer|pixel|transparent|loading|lazy|grey|gray|empty|placeholder|1x1)\.(?:gif|png)$", re.I
)
MAX_ELEMENTS = 5000  # image-bearing elements read per page
MAX_SRCSET = 4096  # characters of one srcset read
MAX_CANDIDATES = 32  # candidates taken from one srcset
# Text nodes outside page chrome (scripts, styles, navigation) that is never the listing's own.
_TEXT_XPATH = (
    ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript or ancestor::template"
    " or ancestor::nav or ancestor::header or ancestor::footer or ancestor::svg)]"
)
_TEXT_ROOTS = (
    "article", "[itemprop=articleBody]", ".post-content", ".message-body", ".t_f", ".postmessage", ".post_body",
    ".postbody", ".post-body", ".entry-content", ".content", "#content", "main", ".description", "#description",
    "body",
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
_CHROME = "ancestor::header or ancestor::nav or ancestor::footer or ancestor::script"


def clean(parts: Iterable[str]) -> str:
    return _SPACE.sub(" ", " ".join(p.strip() for p in parts if p and p.strip())).strip()


def select(sel: Selector, expression: str) -> list[str]:
    """CSS, or XPath when the expression starts with '/' or '('. Results are strings."""
    expression = expression.strip()
    found = sel.xpath(expression) if expression.startswith(("/", "(")) else sel.css(expression)
    return [v for v in found.getall() if isinstance(v, str)]


def base_url(sel: Selector, page_url: str) -> str:
    """The page's <base href>, if it is a well-formed http(s) URL; else the page's own URL."""
    href = (sel.css("base::attr(href)").get() or "").strip()
    if not href:
        return page_url
    try:
        joined = urljoin(page_url, href)
        parts = urlsplit(joined)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return page_url
    return joined if parts.scheme in ("http", "https") and parts.netloc else page_url


def absolute(base: str, href: str | None) -> str | None:
    href = (href or "").strip()
    if not href or href.startswith(("data:", "javascript:", "#", "mailto:", "blob:", "about:")):
        return None
    try:
        url = urljoin(base, href)
        parts = urlsplit(url)
        parts.port  # noqa: B018
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def srcset_urls(srcset: str) -> list[str]:
    """Every candidate URL of a srcset, in order ("a.jpg 320w, b.jpg 2x", URLs may hold commas):
    the HTML standard's reading, in one pass over at most MAX_SRCSET characters."""
    text = srcset[:MAX_SRCSET]
    urls: list[str] = []
    i, n = 0, len(text)
    while i < n and len(urls) < MAX_CANDIDATES:
        while i < n and (text[i].isspace() or text[i] == ","):
            i += 1
        start = i
        while i < n and not text[i].isspace():
            i += 1
        url = text[start:i]
        if url.endswith(","):
            url = url.rstrip(",")
        else:  # skip the descriptors up to the next comma
            while i < n and text[i] != ",":
                i += 1
        if url:
            urls.append(url)
    return urls


def largest_srcset(srcset: str) -> str | None:
    """The biggest candidate of a srcset (by its w or x descriptor), for callers that want one."""
    best: tuple[float, str] | None = None
    for candidate in srcset[:MAX_SRCSET].split(","):
        fields = candidate.strip().split()
        if not fields:
            continue
        size = 1.0
        if len(fields) > 1 and re.fullmatch(r"\d{1,6}(?:\.\d{1,3})?[wx]", fields[1]):
            number = float(fields[1][:-1])
            size = number if fields[1].endswith("w") else number * 1000
        if best is None or size > best[0]:
            best = (size, fields[0])
    return best[1] if best else None


def _looks_like_image_link(
    url: str, text: str, wraps_image: bool, attachment: Sequence[re.Pattern[str]],
    attachments: Sequence[re.Pattern[str]],
) -> bool:  # fmt: skip
    path = urlsplit(url).path.lower()
    if path.endswith(IMAGE_EXTENSIONS) or text.lower().strip().endswith(IMAGE_EXTENSIONS):
        return True
    parsed = Url.parse(url)
    target = parsed.target if parsed else url
    if any(p.search(target) for p in attachments):
        return True  # the engine's own attachment downloads: sniffed by their content, whatever they are
    if path.endswith(TOOL_EXTENSIONS) or text.lower().strip().endswith(TOOL_EXTENSIONS):
        return False
    return wraps_image and any(p.search(target) for p in attachment)


def image_urls(
    sel: Selector,
    page_url: str,
    *,
    limit: int = 50,
    attachment: Sequence[re.Pattern[str]] = (),
    attachments: Sequence[re.Pattern[str]] = (),
    chrome: bool = False,
) -> list[str]:
    """Every distinct image file the page shows, in document order: `src` (unless a lazy
    loader's placeholder), every lazy attribute (`data-src`, Discuz `zoomfile`/`file`, ...), every
    `srcset` candidate, `<picture>` sources and their fallback `<img>`, CSS backgrounds, and links
    to full-size images (by extension, by the file name a link shows, or an attachment link
    around a thumbnail matching `attachment`; any link matching the engine's `attachments`).
    Images in the page's header, navigation and footer come last (or in order with `chrome`), so
    the listing's own images fill `limit` first."""
    base = base_url(sel, page_url)
    found: dict[str, None] = {}

    def add(href: str | None) -> None:
        url = absolute(base, href)
        if url and url not in found and len(found) < limit:
            found[url] = None

    every = (
        "(.//img | .//source | .//input[@type='image'] | .//*[@style] | .//a[@href] | .//*[@data-bg]"
        " | .//*[@data-background] | .//*[@data-background-image] | .//video[@poster])"
    )
    elements = (
        sel.xpath(every)[:MAX_ELEMENTS]
        if chrome
        else [*sel.xpath(f"{every}[not({_CHROME})]")[:MAX_ELEMENTS], *sel.xpath(f"{every}[{_CHROME}]")[:500]]
    )
    for node in elements:
        if len(found) >= limit:
            break
        element = node.root
        tag = getattr(element, "tag", "")
        try:
            attrs = dict(element.attrib)
        except (AttributeError, ValueError):  # an attribute name the tree cannot represent
            continue
        if tag == "a":
            href = attrs.get("href", "")
            wraps = bool(element.find(".//img") is not None) if hasattr(element, "find") else False
            text = " ".join(element.itertext())[:200] if hasattr(element, "itertext") else ""
            url = absolute(base, href)
            if url and _looks_like_image_link(url, text, wraps, attachment, attachments):
                add(url)
            continue
        if tag in ("img", "input", "source"):
            src = attrs.get("src", "")
            lazy = [attrs[a] for a in LAZY_ATTRIBUTES if attrs.get(a)]
            if src and not (lazy and _PLACEHOLDER.search(urlsplit(src.strip()).path)):
                add(src)
            for value in lazy:
                add(value)
            for name in LAZY_SRCSET:
                for candidate in srcset_urls(attrs.get(name, "")):
                    add(candidate)
        elif tag == "video":
            add(attrs.get("poster"))
        else:
            for name in ("data-bg", "data-background", "data-background-image"):
                if attrs.get(name):
                    add(attrs[name])
        style = attrs.get("style", "")
        if "url(" in style:
            for m in _CSS_URL.finditer(style[:8192]):
                add(m.group(2))
    for style in sel.css("style::text").getall()[:20]:
        for m in _CSS_URL.finditer(style[:65536]):
            if urlsplit(m.group(2)).path.lower().endswith(IMAGE_EXTENSIONS):
                add(m.group(2))
    return list(found)


def tool_links(sel: Selector, page_url: str, *, limit: int = 50) -> list[str]:
    """Links to downloadable tools: by the URL's extension, or the file name the link shows
    (attachment downloads often have no extension of their own)."""
    base = base_url(sel, page_url)
    links: dict[str, None] = {}
    for node in sel.xpath("//a[@href]")[:MAX_ELEMENTS]:
        element = node.root
        try:
            href = element.get("href")
            text = " ".join(element.itertext())[:200].strip().lower()
        except (AttributeError, ValueError):
            continue
        url = absolute(base, href)
        if url and (urlsplit(url).path.lower().endswith(TOOL_EXTENSIONS) or text.endswith(TOOL_EXTENSIONS)):
            links[url] = None
            if len(links) >= limit:
                break
    return list(links)


def title(sel: Selector) -> str:
    for expression in ("h1 ::text", "meta[property='og:title']::attr(content)", "title::text", "h2 ::text"):
        text = clean(sel.css(expression).getall()[:50])
        if text:
            return text[:500]
    return ""


def _text_of(nodes: Sequence[Selector], limit: int) -> str:
    parts: list[str] = []
    size = 0
    for node in nodes:
        for piece in node.xpath(_TEXT_XPATH).getall():
            parts.append(piece)
            size += len(piece)
            if size > limit:
                return clean(parts)[:limit]
    return clean(parts)[:limit]


def main_text(sel: Selector, post_selectors: Sequence[str] = (), *, limit: int = 20_000) -> str:
    """The listing's own text: the engine's post elements when it has them (posts, signatures,
    attachments, a product's description), else the first common content element that has
    text. A page whose content is all inside <noscript> (apps that render with JavaScript
    and give crawlers a noscript copy) is read from there."""
    if post_selectors:
        nodes = sel.css(", ".join(post_selectors))
        if nodes:
            text = _text_of(nodes[:200], limit)
            if text:
                return text
    text = ""
    for root in _TEXT_ROOTS:
        nodes = sel.css(root)
        if nodes:
            text = _text_of(nodes[:20], limit)
            if text:
                break
    if len(text) < 200:
        hidden = clean(sel.xpath("//noscript//text()").getall()[:5000])
        if len(hidden) > 2 * len(text):
            return hidden[:limit]
    return text


def first_line(nodes: Sequence[Selector]) -> str:
    """The first non-blank line of an element's text, lines ending at <br> and block elements."""
    pieces: list[str] = []
    for node in nodes[:1]:
        for part in node.xpath(".//text() | .//br | .//p | .//div")[:2000]:
            root = part.root
            if isinstance(root, str):
                pieces.append(root)
            elif pieces and "".join(pieces).strip():
                break  # a line break after some text: the first line is done
    return clean(pieces)[:200]


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
