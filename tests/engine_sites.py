"""Fixture sites of real forum, shop, paste and channel engines, loaded from tests/data/engines/.

Each engine is a directory with `site.yaml` and the page files it names:

    engine: phpbb                 # what bioleak should say it recognised
    kind: listing                 # the source kind a user would pick (listing | telegram | paste)
    seed: /index.php              # the start URL's path
    charset: utf-8                # how the page files are encoded (they are served as stored)
    routes:
      /index.php: {file: index.html}                       # text/html; charset=utf-8 unless `type`
      /viewtopic.php?t=55: {file: t55.html, type: "text/html"}
      /download/file.php?id=3: {image: 3, type: application/octet-stream}   # generated portrait 3
      /download/file.php?id=4: {image: 4, format: PNG, size: 500}
      /old-link: {status: 301, location: /viewtopic.php?t=55}
      /gone: {status: 404}
    listings:                     # every listing page a crawler should find
      - url: /viewtopic.php?t=55  # canonical path of its first page
        alt_urls: [/viewtopic.php?p=120]   # other paths showing the same listing
        pages: [/viewtopic.php?t=55, /viewtopic.php?t=55&start=10]   # pages holding its text
        title: ...
        images: [/download/file.php?id=3]  # every distinct content image file it shows

Routes are matched on the path and the query with its parameters sorted and decoded, so a
crawler asking `?b=2&a=1` gets `?a=1&b=2`. `{{SITE}}` in a page file is replaced by the site's
own `http://127.0.0.1:PORT`, `{{CDN}}` by the second (image) site's when the engine has one
(`cdn_routes:` in the same form).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import yaml

from bioleak.demo.images import portrait, to_bytes
from bioleak.demo.server import FixtureSite, Page

ENGINES_DIR = Path(__file__).resolve().parent / "data" / "engines"


def route_key(path_and_query: str) -> str:
    """A request target as routes are keyed: unquoted path, query parameters sorted and decoded."""
    parts = urlsplit(path_and_query.split("#", 1)[0])
    path = unquote(parts.path) or "/"
    if not parts.query:
        return path
    pairs = sorted(parse_qsl(parts.query, keep_blank_values=True))
    return f"{path}?{urlencode(pairs)}" if pairs else path


@dataclass(frozen=True)
class ExpectedListing:
    url: str
    title: str
    alt_urls: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()
    images: tuple[str, ...] = ()

    def paths(self) -> set[str]:
        return {route_key(p) for p in (self.url, *self.alt_urls, *self.pages)}


@dataclass
class EngineSite:
    name: str
    engine: str
    kind: str
    seed: str
    charset: str
    routes: dict[str, dict[str, Any]]
    cdn_routes: dict[str, dict[str, Any]]
    listings: list[ExpectedListing]
    directory: Path
    site: FixtureSite | None = None
    cdn: FixtureSite | None = None
    _log: list[str] = field(default_factory=list)

    def _pages(self, routes: dict[str, dict[str, Any]], own: str, cdn: str) -> dict[str, Page]:
        pages: dict[str, Page] = {}
        for path, spec in routes.items():
            status = int(spec.get("status", 200))
            headers: tuple[tuple[str, str], ...] = ()
            if "location" in spec:
                location = str(spec["location"]).replace("{{SITE}}", own).replace("{{CDN}}", cdn)
                headers = (("Location", location),)
            if "file" in spec:
                raw = (self.directory / spec["file"]).read_bytes()
                body = raw.replace(b"{{SITE}}", own.encode()).replace(b"{{CDN}}", cdn.encode())
                content_type = spec.get("type", "text/html; charset=utf-8")
            elif "image" in spec:
                fmt = spec.get("format", "JPEG")
                img = portrait(int(spec["image"]), int(spec.get("size", 320)))
                body = to_bytes(img if fmt == "JPEG" else img.convert("RGB"), fmt)
                content_type = spec.get("type", f"image/{fmt.lower()}")
            else:
                body, content_type = b"", spec.get("type", "text/plain")
            pages[route_key(path)] = Page(body, content_type, status, headers)
        return pages

    def start(self) -> EngineSite:
        self.site = FixtureSite({}).start()
        self.cdn = FixtureSite({}).start() if self.cdn_routes else None
        cdn_url = self.cdn.url if self.cdn else ""
        self.site.pages = _keyed(self._pages(self.routes, self.site.url, cdn_url))
        if self.cdn is not None:
            self.cdn.pages = _keyed(self._pages(self.cdn_routes, self.cdn.url, cdn_url))
        return self

    def stop(self) -> None:
        for site in (self.site, self.cdn):
            if site is not None:
                site.stop()

    def __enter__(self) -> EngineSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self.site is not None, "site not started"
        return self.site.url

    def requested(self) -> list[str]:
        """Every request target the site (and its CDN) saw, as route keys, in order."""
        log = list(self.site.access_log if self.site else ()) + list(self.cdn.access_log if self.cdn else ())
        return [route_key(p) for p in log]


class _KeyedPages(dict[str, Page]):
    """FixtureSite looks pages up by the raw request target; this looks them up by route key."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(route_key(key), default)


def _keyed(pages: dict[str, Page]) -> _KeyedPages:
    return _KeyedPages(pages)


def load_engine_site(name: str) -> EngineSite:
    directory = ENGINES_DIR / name
    spec = yaml.safe_load((directory / "site.yaml").read_text("utf-8"))
    listings = [
        ExpectedListing(
            url=item["url"],
            title=item.get("title", ""),
            alt_urls=tuple(item.get("alt_urls") or ()),
            pages=tuple(item.get("pages") or ()),
            images=tuple(item.get("images") or ()),
        )
        for item in spec.get("listings") or ()
    ]
    return EngineSite(
        name=name,
        engine=spec["engine"],
        kind=spec.get("kind", "listing"),
        seed=spec["seed"],
        charset=spec.get("charset", "utf-8"),
        routes={str(k): dict(v) for k, v in (spec.get("routes") or {}).items()},
        cdn_routes={str(k): dict(v) for k, v in (spec.get("cdn_routes") or {}).items()},
        listings=listings,
        directory=directory,
    )


def engine_names() -> list[str]:
    return sorted(p.name for p in ENGINES_DIR.iterdir() if (p / "site.yaml").exists()) if ENGINES_DIR.exists() else []
