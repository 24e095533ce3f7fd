"""`bioleak sources list|check`: what will be crawled, and whether sources.yaml is valid."""

from __future__ import annotations

import argparse
import socket
from typing import Any
from urllib.parse import urlsplit

from bioleak.config import Config
from bioleak.output import CliError, emit_json, safe_text
from crawlers.sources import Source, SourceError, load_sources, source_to_dict
from pipeline.addresses import AddressPolicy, literal_ip, parse_ip


def _load(config: Config) -> dict[str, Source]:
    try:
        return load_sources(config.sources, min_interval=config.min_schedule_interval)
    except SourceError as exc:
        raise CliError(str(exc)) from exc


def warnings_for(source: Source, *, resolve: bool) -> list[str]:
    notes = []
    if not source.obey_robots:
        notes.append("robots.txt is ignored (robots: ignore)")
    if source.allow_networks:
        notes.append(f"may reach non-public networks: {', '.join(source.allow_networks)}")
    if source.proxy:
        notes.append(f"crawls through proxy {source.proxy}; the proxy resolves names, so only literal IPs are checked")
    if not source.schedule:
        notes.append("no schedule: runs only with `bioleak crawl`")
    if not source.allowed_domains:
        notes.append("no allowed_domains: only links on the start URLs' own sites are followed")
    if resolve and not source.proxy:
        policy = AddressPolicy.build(source.allow_networks)
        for url in source.start_urls:
            host = urlsplit(url).hostname or ""
            try:
                ip = literal_ip(host) or parse_ip(socket.gethostbyname(host))
            except OSError as exc:
                notes.append(f"{host}: does not resolve ({exc})")
                continue
            port = urlsplit(url).port or (443 if url.startswith("https:") else 80)
            reason = policy.refusal(ip, port, host) if ip else None
            if reason:
                notes.append(f"{host} resolves to {ip}: it will be refused ({reason.replace('_', ' ')})")
    return notes


def cmd_sources_list(args: argparse.Namespace, config: Config) -> int:
    sources = _load(config)
    if args.json:
        for source in sources.values():
            emit_json(source_to_dict(source))
        return 0
    if not sources:
        print(f"no sources in {config.sources}")
        return 0
    print(f"{'NAME':<20} {'KIND':<9} {'SCHEDULE':<16} START URL")
    for s in sources.values():
        more = f" (+{len(s.start_urls) - 1})" if len(s.start_urls) > 1 else ""
        print(f"{s.name:<20} {s.kind:<9} {s.schedule or '-':<16} {safe_text(s.start_urls[0])}{more}")
    return 0


def cmd_sources_check(args: argparse.Namespace, config: Config) -> int:
    sources = _load(config)  # an invalid file exits 2 with file:line: field: problem
    report: list[dict[str, Any]] = [
        {"name": s.name, "kind": s.kind, "ok": True, "warnings": warnings_for(s, resolve=args.resolve)}
        for s in sources.values()
    ]
    if args.json:
        emit_json({"file": str(config.sources), "ok": True, "sources": report})
        return 0
    print(f"{config.sources}: {len(report)} source(s), valid")
    for entry in report:
        print(f"  {entry['name']} ({entry['kind']}): ok")
        for note in entry["warnings"]:
            print(f"    note: {safe_text(note)}")
    return 0


def register(sub: Any, add: Any, json_flag: Any) -> None:
    sources = sub.add_parser("sources", help="The crawl sources in sources.yaml.")
    ssub = sources.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    p = add(ssub, "list", cmd_sources_list, "List the sources bioleak crawls (from sources.yaml).",
            "bioleak sources list --json")  # fmt: skip
    json_flag(p)
    p = add(ssub, "check", cmd_sources_check,
            "Validate sources.yaml; errors name the file, line and field (exit 2). Notes point out "
            "risky settings such as ignored robots.txt or extra networks.",
            "BIOLEAK_SOURCES=./sources.yaml bioleak sources check --resolve")  # fmt: skip
    p.add_argument("--resolve", action="store_true", help="also resolve start URLs and report refused addresses")
    json_flag(p)
