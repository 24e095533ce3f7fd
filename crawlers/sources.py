"""Crawl sources from a YAML file: what to crawl, how politely, on which schedule, and which
networks it may reach. Errors name the file, the line and the field, because operators edit
this file by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pipeline.addresses import AllowanceError, parse_allowances
from pipeline.models import TOPICS

SPIDER_KINDS = ("listing", "telegram", "paste")
ROBOTS_POLICIES = ("obey", "ignore")
_INTERVAL = re.compile(r"^every\s+(\d+)\s*(s|m|h|d)$")
_INTERVAL_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CRON_FIELD = re.compile(r"^[\d*/,\-a-zA-Z?]+$")
# Scheduled crawls may not run more often than this (seconds) unless bioleak.toml says otherwise:
# a typo such as "* * * * *" would otherwise hammer a site every minute.
MIN_SCHEDULE_INTERVAL = 300


class SourceError(ValueError):
    pass


@dataclass(frozen=True)
class Selectors:
    """CSS (or XPath, when the expression starts with '/' or '(') returning strings.

    Empty means "use the spider kind's default": the listing spider then recognises common
    forum and marketplace layouts by itself (see crawlers/extract.py)."""

    listing_links: str = ""  # index page -> listing pages (paste: archive -> pastes)
    next_page: str = ""  # index page -> next index page
    title: str = ""
    text: str = ""
    images: str = ""  # default: every image the page shows (src, lazy attributes, srcset, CSS)
    author: str = ""
    posted: str = ""
    raw_link: str = ""  # paste: paste page -> raw text


@dataclass(frozen=True)
class Source:
    name: str
    start_urls: tuple[str, ...]
    kind: str = "listing"
    allowed_domains: tuple[str, ...] = ()
    schedule: str = ""  # cron ("*/30 * * * *") or "every 6h"; empty: only when run by hand
    jitter: int = 0  # seconds of random delay added to each scheduled run
    selectors: Selectors = field(default_factory=Selectors)
    robots: str = "obey"
    proxy: str = ""  # http://host:port; the proxy, not bioleak, resolves the sites' names
    concurrency: int = 4  # requests in flight per site
    delay: float = 0.5  # seconds between requests to one site
    max_depth: int = 8
    max_pages: int = 1000
    # Reachable despite not being public: networks or hosts, each with an optional port
    # ("127.0.0.1/32", "127.0.0.1:8101", "10.0.0.0/8:443"); see pipeline/addresses.py.
    allow_networks: tuple[str, ...] = ()
    topic: str = ""  # face_data | tools | tutorials | general; empty: unknown

    @property
    def obey_robots(self) -> bool:
        return self.robots == "obey"

    @property
    def interval_seconds(self) -> int | None:
        """The period of an "every N{s,m,h,d}" schedule; None for cron or no schedule."""
        m = _INTERVAL.match(self.schedule.strip())
        return int(m.group(1)) * _INTERVAL_SECONDS[m.group(2)] if m else None


# --- validation --------------------------------------------------------------------------------


class _Located:
    """Maps a source's fields to their line numbers in the YAML file."""

    def __init__(self, path: Path, node: yaml.Node | None, index: int) -> None:
        self.path, self.node, self.index = path, node, index
        self.name = ""

    def line(self, key: str | None = None) -> int:
        node = self.node
        if isinstance(node, yaml.MappingNode) and key is not None:
            for k, v in node.value:
                if getattr(k, "value", None) == key:
                    return int(v.start_mark.line) + 1
        return int(node.start_mark.line) + 1 if node is not None else 0

    def error(self, key: str | None, message: str) -> SourceError:
        who = f" ({self.name})" if self.name else ""
        where = f"sources[{self.index}]{who}" + (f".{key}" if key else "")
        return SourceError(f"{self.path}:{self.line(key)}: {where}: {message}")


def _str_list(raw: dict[str, Any], key: str, at: _Located, *, required: bool = False) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        if required:
            raise at.error(key, "is required (a list)")
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise at.error(key, "must be a list of strings")
    if required and not value:
        raise at.error(key, "must not be empty")
    return tuple(value)


def _int(raw: dict[str, Any], key: str, default: int, at: _Located, *, low: int, high: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise at.error(key, f"must be a whole number from {low} to {high}, got {value!r}")
    return value


def schedule_period(schedule: str) -> float | None:
    """The shortest time in seconds between two runs of a valid schedule (None: no schedule).
    Cron lines are read over their next 400 fire times, which covers every pattern of minutes
    and hours in a week's worth of runs of a frequent schedule."""
    text = schedule.strip()
    if not text:
        return None
    m = _INTERVAL.match(text)
    if m:
        return float(int(m.group(1)) * _INTERVAL_SECONDS[m.group(2)])
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(text, timezone="UTC")
    now = datetime(2026, 1, 1, tzinfo=UTC)  # a fixed start: the answer does not depend on today
    previous = None
    shortest: float | None = None
    for _ in range(400):
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        if previous is not None:
            gap = (fire - previous).total_seconds()
            shortest = gap if shortest is None else min(shortest, gap)
        previous, now = fire, fire + timedelta(seconds=1)
    return shortest


def compile_selector(expression: str) -> str | None:
    """None when the CSS (or XPath, starting with '/' or '(') compiles, else why not."""
    expression = expression.strip()
    if not expression:
        return None
    try:
        if expression.startswith(("/", "(")):
            from lxml import etree

            etree.XPath(expression)
        else:
            from parsel.csstranslator import css2xpath

            css2xpath(expression)
    except Exception as exc:  # cssselect and lxml raise their own parse errors
        return f"does not compile: {str(exc).splitlines()[0][:200] or type(exc).__name__}"
    return None


def validate_schedule(schedule: str) -> str | None:
    """None when valid, else why not. Cron has five fields; intervals read "every 30m"."""
    text = schedule.strip()
    if not text or _INTERVAL.match(text):
        return None
    parts = text.split()
    if len(parts) != 5 or not all(_CRON_FIELD.match(p) for p in parts):
        return "must be a 5-field cron expression ('*/30 * * * *') or an interval ('every 6h')"
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(text, timezone="UTC")
    except ValueError as exc:
        return f"invalid cron expression: {exc}"
    return None


def parse_source(raw: Any, at: _Located, *, min_interval: float = MIN_SCHEDULE_INTERVAL) -> Source:
    if not isinstance(raw, dict):
        raise at.error(None, "a source must be a mapping (name: ..., start_urls: [...])")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise at.error("name", "is required: letters, digits, '.', '_' or '-' (it names files and jobs)")
    at.name = name
    unknown = sorted(set(raw) - {f.name for f in fields(Source)})
    if unknown:
        raise at.error(unknown[0], f"unknown field(s): {', '.join(unknown)}")
    kind = raw.get("kind", "listing")
    if kind not in SPIDER_KINDS:
        raise at.error("kind", f"must be one of {', '.join(SPIDER_KINDS)}, got {kind!r}")
    urls = _str_list(raw, "start_urls", at, required=True)
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise at.error("start_urls", f"must be http(s) URLs, got {url!r}")
    networks = _str_list(raw, "allow_networks", at)
    try:
        parse_allowances(networks)
    except AllowanceError as exc:
        raise at.error("allow_networks", str(exc)) from None
    selectors = raw.get("selectors") or {}
    if not isinstance(selectors, dict):
        raise at.error("selectors", "must be a mapping of selector name to CSS/XPath")
    unknown_sel = sorted(set(selectors) - {f.name for f in fields(Selectors)})
    if unknown_sel:
        raise at.error("selectors", f"unknown selector(s): {', '.join(unknown_sel)}")
    if not all(isinstance(v, str) for v in selectors.values()):
        raise at.error("selectors", "every selector must be a string")
    for key, expression in selectors.items():
        problem = compile_selector(expression)
        if problem:
            raise at.error("selectors", f"{key}: {expression!r} {problem}")
    schedule = raw.get("schedule", "")
    if not isinstance(schedule, str):
        raise at.error("schedule", "must be a string such as '*/30 * * * *' or 'every 6h'")
    problem = validate_schedule(schedule)
    if problem:
        raise at.error("schedule", problem)
    period = schedule_period(schedule)
    if period is not None and period < min_interval:
        raise at.error(
            "schedule",
            f"runs every {period:g} s, more often than the floor of {min_interval:g} s"
            " (min_schedule_interval in bioleak.toml)",
        )
    robots = raw.get("robots", "obey")
    if robots not in ROBOTS_POLICIES:
        raise at.error("robots", f"must be one of {', '.join(ROBOTS_POLICIES)}, got {robots!r}")
    proxy = raw.get("proxy", "")
    if proxy and (not isinstance(proxy, str) or urlsplit(proxy).scheme not in ("http", "https")):
        raise at.error("proxy", f"must be an http(s) proxy URL such as http://127.0.0.1:8118, got {proxy!r}")
    topic = raw.get("topic", "")
    if topic and topic not in TOPICS:
        raise at.error("topic", f"must be one of {', '.join(TOPICS)}, got {topic!r}")
    delay = raw.get("delay", 0.5)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 3600:
        raise at.error("delay", f"must be seconds from 0 to 3600, got {delay!r}")
    return Source(
        name=name,
        kind=kind,
        start_urls=urls,
        allowed_domains=_str_list(raw, "allowed_domains", at),
        schedule=schedule.strip(),
        jitter=_int(raw, "jitter", 0, at, low=0, high=86400),
        selectors=Selectors(**selectors),
        robots=robots,
        proxy=proxy or "",
        concurrency=_int(raw, "concurrency", 4, at, low=1, high=64),
        delay=float(delay),
        max_depth=_int(raw, "max_depth", 8, at, low=1, high=10_000),
        max_pages=_int(raw, "max_pages", 1000, at, low=1, high=10_000_000),
        allow_networks=networks,
        topic=topic or "",
    )


def load_sources(path: str | Path, *, min_interval: float = MIN_SCHEDULE_INTERVAL) -> dict[str, Source]:
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise SourceError(f"{path}: no such sources file (create one; see README 'Sources')") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: invalid YAML: {exc}") from None
    entries = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SourceError(f"{path}:1: expected a top-level 'sources:' list")
    nodes: list[yaml.Node] = []
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if getattr(key, "value", None) == "sources" and isinstance(value, yaml.SequenceNode):
                nodes = list(value.value)
    sources: dict[str, Source] = {}
    for i, raw in enumerate(entries):
        at = _Located(path, nodes[i] if i < len(nodes) else None, i)
        source = parse_source(raw, at, min_interval=min_interval)
        if source.name in sources:
            raise at.error("name", f"duplicate name {source.name!r}")
        sources[source.name] = source
    return sources


def source_to_dict(s: Source) -> dict[str, Any]:
    defaults = Source(name=s.name, start_urls=s.start_urls)
    out: dict[str, Any] = {"name": s.name, "kind": s.kind, "start_urls": list(s.start_urls)}
    for f in fields(Source):
        value = getattr(s, f.name)
        if f.name in out or value == getattr(defaults, f.name):
            continue
        if f.name == "selectors":
            value = {k.name: getattr(value, k.name) for k in fields(Selectors) if getattr(value, k.name)}
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def dump_sources(sources: list[Source]) -> str:
    return yaml.safe_dump({"sources": [source_to_dict(s) for s in sources]}, allow_unicode=True, sort_keys=False)
