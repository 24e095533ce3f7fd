"""`bioleak demo`: the whole flow end to end on one machine, checked against the demo's truth."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from alerts.dispatcher import Dispatcher, Outbox
from alerts.smtp import SmtpConfig, SmtpSender
from bioleak.config import Config, defaults
from bioleak.crawl import crawl
from bioleak.demo import market
from bioleak.demo.images import portrait, to_bytes
from bioleak.demo.server import FixtureSite
from bioleak.demo.smtp import LoopbackSmtpServer
from crawlers.sources import Selectors, Source, dump_sources
from indexer.open import open_store
from indexer.store import SearchQuery
from pipeline.models import Organisation
from pipeline.registry import SqliteRegistry, enrolment_entries

MARKER = ".bioleak-demo"


class DemoError(RuntimeError):
    pass


@dataclass
class DemoSummary:
    workspace: str
    seconds: float = 0.0
    pages: int = 0
    listings: dict[str, int] = field(default_factory=dict)
    images_hashed: int = 0
    image_skips: dict[str, int] = field(default_factory=dict)
    refused_requests: int = 0
    matches: dict[str, list[str]] = field(default_factory=dict)  # org -> matched refs
    alerts_sent: dict[str, int] = field(default_factory=dict)
    alerts_received: dict[str, int] = field(default_factory=dict)  # org -> messages the SMTP server got
    eml_files: list[str] = field(default_factory=list)
    truth_errors: list[str] = field(default_factory=list)
    crawl_failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.truth_errors and not self.crawl_failures


def prepare_workspace(keep: str | None) -> Path:
    if keep is None:
        return Path(tempfile.mkdtemp(prefix="bioleak-demo-"))
    path = Path(keep).resolve()
    if path.exists() and any(path.iterdir()):
        if not (path / MARKER).exists():
            raise DemoError(f"{path} is not empty and is not a demo workspace; choose another --keep DIR")
        shutil.rmtree(path)  # a previous demo run: start fresh so the truth check is exact
    path.mkdir(parents=True, exist_ok=True)
    return path


def enrol(config: Config) -> int:
    registry = SqliteRegistry(config.registry)
    try:
        added = 0
        for org, refs in market.ORIGINALS.items():
            folder = config.data_dir / "originals" / org  # stays on "the organisation's machine"
            folder.mkdir(parents=True, exist_ok=True)
            entries = []
            for ref, seed in refs.items():
                data = to_bytes(portrait(seed), "PNG")
                (folder / f"{ref}.png").write_bytes(data)
                entries += enrolment_entries(org, ref, data)
            added += registry.add(entries)
        return added
    finally:
        registry.close()


def check_truth(summary: DemoSummary, store: Any) -> None:
    expected_cats = market.expected_categories()
    if summary.listings != expected_cats:
        summary.truth_errors.append(f"listings per category {summary.listings} != expected {expected_cats}")
    found: dict[str, set[tuple[str, str]]] = {}
    for org in market.ORGS:
        for hit in store.hits_for_org(org):
            name = urlsplit(hit.image_url).path.rsplit("/", 1)[-1]
            found.setdefault(name, set()).add((hit.org, hit.registry_ref))
    expected = market.expected_matches()
    for name in sorted(set(found) | set(expected)):
        if found.get(name, set()) != expected.get(name, set()):
            summary.truth_errors.append(
                f"image {name}: matched {sorted(found.get(name, set()))}, expected {sorted(expected.get(name, set()))}"
            )


def run_demo(
    keep: str | None = None, *, store_url: str | None = None, es_prefix: str = "bioleak-demo", progress: Any = print
) -> DemoSummary:
    """Run the demo; `store_url` (an Elasticsearch URL) replaces the embedded SQLite store."""
    started = time.monotonic()
    workspace = prepare_workspace(keep)
    (workspace / MARKER).write_text("created by `bioleak demo`; safe to delete\n")
    config = defaults(workspace)
    if store_url:
        config = dataclasses.replace(config, store=store_url, es_prefix=es_prefix)
        _drop_previous_demo_indices(store_url, es_prefix)
    summary = DemoSummary(workspace=str(workspace))

    progress(f"workspace: {workspace}")
    progress(f"enrolled {enrol(config)} protected image hashes for {len(market.ORGS)} organisations")
    store = open_store(config.store, es_prefix=config.es_prefix)
    try:
        for name, emails in market.ORGS.items():
            store.upsert_org(Organisation(name=name, emails=emails))
        with (
            FixtureSite(market.site_pages("market")) as shop,
            FixtureSite(market.site_pages("forum")) as forum,
        ):
            sources = [
                Source(
                    name=f"demo-{site}",
                    start_urls=(server.url + market.start_path(site),),
                    allowed_domains=("127.0.0.1",),
                    allow_networks=("127.0.0.1/32",),  # the demo's only exception to public-only
                    selectors=Selectors(**market.SELECTORS),
                    max_pages=200,
                    delay=0,  # our own local site: no need to be polite
                )
                for site, server in (("market", shop), ("forum", forum))
            ]
            config.sources.write_text(dump_sources(sources), "utf-8")
            for source in sources:
                progress(f"crawling {source.name} at {source.start_urls[0]} ...")
                result = crawl(config, source.name, timeout=120)
                if not result.ok:
                    summary.crawl_failures.append(f"{source.name}: exit {result.returncode}, log {result.log_file}")
                    continue
                _add_stats(summary, result.stats)
        store.refresh()
        page = store.search(SearchQuery(limit=1))
        summary.listings = dict(sorted(page.by_category.items()))
        for org in market.ORGS:
            summary.matches[org] = sorted({h.registry_ref for h in store.hits_for_org(org)})
        check_truth(summary, store)

        with LoopbackSmtpServer() as smtp:
            progress(f"sending alerts through SMTP at {smtp.url} ...")
            outbox = Outbox(config.outbox)
            sender = SmtpSender(SmtpConfig.from_url(smtp.url))
            report = Dispatcher(store, outbox=outbox, send=sender.send, sender="alerts@bioleak.demo").run_once()
            summary.alerts_sent = dict(sorted(report.sent.items()))
            for received in smtp.received:
                org = str(received.message["X-Bioleak-Org"])
                summary.alerts_received[org] = summary.alerts_received.get(org, 0) + 1
        summary.eml_files = sorted(str(p) for p in config.outbox.glob("*.eml"))
        for org in market.ORGS:
            if summary.matches.get(org) and not summary.alerts_received.get(org):
                summary.truth_errors.append(f"no alert email received for {org}")
    finally:
        store.close()
    summary.seconds = round(time.monotonic() - started, 2)
    return summary


def _drop_previous_demo_indices(url: str, prefix: str) -> None:
    """The demo's truth check needs a clean slate: remove the demo's own indices (never others)."""
    from indexer.es_store import ElasticsearchStore

    if not prefix.startswith("bioleak-demo"):
        raise DemoError(f"refusing to reset indices with prefix {prefix!r}: demo prefixes start with bioleak-demo")
    store = ElasticsearchStore(url, prefix=prefix)
    try:
        store.drop()
    finally:
        store.close()


def _add_stats(summary: DemoSummary, stats: dict[str, Any]) -> None:
    summary.pages += int(stats.get("bioleak/pages", 0))
    summary.images_hashed += int(stats.get("bioleak/images/hashed", 0))
    for key, value in stats.items():
        if key.startswith("bioleak/images/rejected/"):
            reason = key.rsplit("/", 1)[-1]
            summary.image_skips[reason] = summary.image_skips.get(reason, 0) + int(value)
        elif key.startswith("bioleak/refused/"):
            summary.refused_requests += int(value)
