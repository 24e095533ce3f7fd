"""Crawl sources from a YAML file: what to crawl, how, and which networks it may reach."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SPIDER_KINDS = ("listing",)


class SourceError(ValueError):
    pass


@dataclass(frozen=True)
class Selectors:
    """CSS selectors; each defaults to something that works on plain pages."""

    listing_links: str = "a::attr(href)"
    next_page: str = ""
    title: str = "h1::text, title::text"
    text: str = "body ::text"
    images: str = "img::attr(src)"


@dataclass(frozen=True)
class Source:
    name: str
    start_urls: tuple[str, ...]
    kind: str = "listing"
    allowed_domains: tuple[str, ...] = ()
    allow_networks: tuple[str, ...] = ()  # CIDRs that may be reached despite being non-public
    selectors: Selectors = field(default_factory=Selectors)
    max_pages: int = 1000
    obey_robots: bool = True


def _networks(values: list[str], where: str) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise SourceError(f"{where}: allow_networks: {exc}") from exc
    return tuple(values)


def parse_source(raw: dict[str, Any], where: str) -> Source:
    if not isinstance(raw, dict):
        raise SourceError(f"{where}: a source must be a mapping")
    unknown = set(raw) - {f for f in Source.__dataclass_fields__}
    if unknown:
        raise SourceError(f"{where}: unknown field(s): {', '.join(sorted(unknown))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise SourceError(f"{where}: 'name' is required")
    urls = raw.get("start_urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise SourceError(f"{where} ({name}): 'start_urls' must be a non-empty list of URLs")
    if any(not u.startswith(("http://", "https://")) for u in urls):
        raise SourceError(f"{where} ({name}): start_urls must be http(s) URLs")
    kind = raw.get("kind", "listing")
    if kind not in SPIDER_KINDS:
        raise SourceError(f"{where} ({name}): kind must be one of {', '.join(SPIDER_KINDS)}")
    selectors = raw.get("selectors") or {}
    unknown_sel = set(selectors) - set(Selectors.__dataclass_fields__)
    if unknown_sel:
        raise SourceError(f"{where} ({name}): unknown selector(s): {', '.join(sorted(unknown_sel))}")
    return Source(
        name=name,
        kind=kind,
        start_urls=tuple(urls),
        allowed_domains=tuple(raw.get("allowed_domains") or ()),
        allow_networks=_networks(list(raw.get("allow_networks") or ()), f"{where} ({name})"),
        selectors=Selectors(**selectors),
        max_pages=int(raw.get("max_pages", 1000)),
        obey_robots=bool(raw.get("obey_robots", True)),
    )


def load_sources(path: str | Path) -> dict[str, Source]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise SourceError(f"{path}: no such sources file") from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: invalid YAML: {exc}") from exc
    entries = (data or {}).get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SourceError(f"{path}: expected a top-level 'sources:' list")
    sources: dict[str, Source] = {}
    for i, raw in enumerate(entries):
        source = parse_source(raw, f"{path}: sources[{i}]")
        if source.name in sources:
            raise SourceError(f"{path}: sources[{i}]: duplicate name {source.name!r}")
        sources[source.name] = source
    return sources


def dump_sources(sources: list[Source]) -> str:
    def one(s: Source) -> dict[str, Any]:
        return {
            "name": s.name,
            "kind": s.kind,
            "start_urls": list(s.start_urls),
            "allowed_domains": list(s.allowed_domains),
            "allow_networks": list(s.allow_networks),
            "selectors": {k: getattr(s.selectors, k) for k in Selectors.__dataclass_fields__},
            "max_pages": s.max_pages,
            "obey_robots": s.obey_robots,
        }

    return yaml.safe_dump({"sources": [one(s) for s in sources]}, allow_unicode=True, sort_keys=False)
