"""The `bioleak` command line."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bioleak import __version__
from bioleak.config import Config, ConfigError, load
from bioleak.output import CliError, as_dict, emit_json, safe_text, stderr

DIGEST_CHOICES = ("instant", "hourly", "daily")
EXAMPLES = """\
examples:
  bioleak demo --keep ./bioleak-demo          run the whole flow on a local fake black market
  bioleak --data-dir ./bioleak-demo search 人脸 --category face_data_sale
  bioleak registry add --org acme-bank ./protected-photos/
  bioleak match ./suspicious.jpg
  bioleak org add acme-bank --email security@acme-bank.example
  bioleak crawl my-forum && bioleak alerts run --once

Configuration: --data-dir (or $BIOLEAK_HOME, default ./bioleak-data) holds the SQLite store,
the registry, sources.yaml and the outbox. $BIOLEAK_ES_URL selects Elasticsearch instead of
SQLite; $BIOLEAK_SMTP_URL (smtp://user:pass@host:587?starttls=1) enables email delivery.
"""


# --- commands ---------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    from bioleak.demo.run import DemoError, run_demo

    try:
        summary = run_demo(args.keep, store_url=args.es_url, progress=(lambda _m: None) if args.json else stderr)
    except DemoError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        emit_json(as_dict(summary) | {"ok": summary.ok})
        return 0 if summary.ok else 1
    print()
    print(f"bioleak demo finished in {summary.seconds:.1f} s")
    print(f"  pages crawled:     {summary.pages}")
    print("  listings:          " + ", ".join(f"{k} {v}" for k, v in summary.listings.items()))
    skips = ", ".join(f"{k} {v}" for k, v in sorted(summary.image_skips.items())) or "none"
    print(
        f"  images hashed:     {summary.images_hashed} (skipped: {skips}; refused requests: {summary.refused_requests})"
    )
    for org, refs in summary.matches.items():
        print(f"  matches {org + ':':<11}{len(refs)} protected image(s): {', '.join(refs)}")
    for org in summary.matches:
        print(f"  alerts  {org + ':':<11}{summary.alerts_received.get(org, 0)} email(s) received by the SMTP server")
    print(f"  .eml copies:       {len(summary.eml_files)} in {Path(summary.workspace) / 'outbox'}")
    if summary.ok:
        print("  truth check:       OK (categories, matches and alerts as the demo expects)")
    else:
        print("  truth check:       FAILED")
        for line in summary.crawl_failures + summary.truth_errors:
            print(f"    - {line}")
    if args.keep:
        env = f"BIOLEAK_ES_URL={args.es_url} BIOLEAK_ES_PREFIX=bioleak-demo " if args.es_url else ""
        print(f"\nexplore: {env}{_invocation()} --data-dir {summary.workspace} search 人脸 --matched")
    else:
        print("\nrun with --keep DIR to keep the workspace and explore it with `bioleak search`")
    return 0 if summary.ok else 1


def _invocation() -> str:
    """How the user can run bioleak again: `bioleak` if it is on PATH, else the path they used."""
    used = Path(sys.argv[0])
    on_path = shutil.which("bioleak")
    return "bioleak" if on_path and Path(on_path).resolve() == used.resolve() else str(used)


def _open_store(config: Config) -> Any:
    from bioleak.search_cli import open_store

    return open_store(config)


def cmd_org_add(args: argparse.Namespace, config: Config) -> int:
    from pipeline.models import Organisation
    from pipeline.registry import ORG_NAME

    if not ORG_NAME.match(args.name):
        raise CliError(f"invalid organisation name {args.name!r} (letters, digits, . _ -)")
    emails = tuple(e.strip() for e in (args.email or "").split(",") if e.strip())
    if any("@" not in e for e in emails):
        raise CliError("--email needs one or more addresses separated by commas")
    if not emails and not args.webhook:
        raise CliError("give --email, --webhook or both: where should alerts go?")
    if args.webhook and not args.webhook.startswith(("http://", "https://")):
        raise CliError(f"--webhook must be an http:// or https:// URL, got {args.webhook!r}")
    if args.webhook and not args.secret:
        raise CliError("--webhook needs --secret: receivers verify each request's signature with it")
    if args.digest not in DIGEST_CHOICES:
        raise CliError(f"--digest must be one of {', '.join(DIGEST_CHOICES)}")
    if args.max_distance is not None and not 0 <= args.max_distance <= 64:
        raise CliError("--max-distance is a number of bits from 0 to 64")
    from indexer.open import open_store

    org = Organisation(args.name, emails, max_distance=args.max_distance, webhook_url=args.webhook or "",
                       webhook_secret=args.secret or "", digest=args.digest)  # fmt: skip
    store = open_store(config.store, es_prefix=config.es_prefix)
    try:
        store.upsert_org(org)
    finally:
        store.close()
    print(f"organisation {args.name}: alerts to {_destinations(org)}")
    return 0


def _without_secret(org: Any) -> Any:
    return dataclasses.replace(org, webhook_secret="***" if org.webhook_secret else "")  # never printed


def _destinations(org: Any) -> str:
    parts = list(org.emails) + ([f"webhook {org.webhook_url}"] if org.webhook_url else [])
    limit = f" (matches within {org.max_distance} bits)" if org.max_distance is not None else ""
    digest = f", {org.digest} digest" if org.digest != "instant" else ""
    return ", ".join(parts) + limit + digest


def cmd_org_list(args: argparse.Namespace, config: Config) -> int:
    store = _open_store(config)
    try:
        orgs = store.list_orgs()
    finally:
        store.close()
    for org in orgs:
        emit_json(as_dict(_without_secret(org))) if args.json else print(f"{org.name}\t{_destinations(org)}")
    return 0


def _find_org(store: Any, name: str) -> Any:
    org = next((o for o in store.list_orgs() if o.name == name), None)
    if org is None:
        raise CliError(f"no organisation {name!r} (see `bioleak org list`)")
    return org


def cmd_org_show(args: argparse.Namespace, config: Config) -> int:
    store = _open_store(config)
    try:
        org = _find_org(store, args.name)
        states = Counter(h.alert_state for h in store.hits_for_org(org.name))
    finally:
        store.close()
    if args.json:
        emit_json(as_dict(_without_secret(org)) | {"hits": dict(states)})
        return 0
    print(f"{org.name}: alerts to {_destinations(org)}")
    print("matches: " + ", ".join(f"{k} {states.get(k, 0)}" for k in ("pending", "sending", "sent", "suppressed")))
    return 0


def cmd_org_remove(args: argparse.Namespace, config: Config) -> int:
    store = _open_store(config)
    try:
        if not store.remove_org(args.name):
            raise CliError(f"no organisation {args.name!r} (see `bioleak org list`)")
    finally:
        store.close()
    print(f"organisation {args.name} removed: no more alerts; its matches stay searchable")
    return 0


def cmd_crawl(args: argparse.Namespace, config: Config) -> int:
    from bioleak.progress import CrawlProgress
    from bioleak.runner import run_source
    from crawlers.sources import SourceError, load_sources

    try:
        sources = load_sources(config.sources, min_interval=config.min_schedule_interval)
    except SourceError as exc:
        raise CliError(str(exc)) from exc
    if args.source not in sources:
        raise CliError(f"{config.sources}: no source named {args.source!r} (have: {', '.join(sorted(sources))})")
    if not args.json:
        stderr(f"crawling {args.source} ({sources[args.source].kind}); log in {config.data_dir / 'runs' / args.source}")
    # SIGTERM (a service manager, `kill`) stops the crawl as Ctrl-C does: its process is stopped
    # and the run is recorded as terminated.
    cancel = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    live = CrawlProgress(enabled=not args.json)
    try:
        outcome = run_source(config, args.source, trigger="manual", timeout=args.timeout, cancel=cancel,
                             progress=live.update)  # fmt: skip
    finally:
        signal.signal(signal.SIGTERM, previous)
        live.finish()
    result = outcome.result
    if result is None:  # another crawl of this source holds its lock
        raise CliError(f"{outcome.run.detail}: not started (see `bioleak runs --source {args.source}`)")
    numbers = result.summary()
    code = 0 if result.ok else 130 if result.status == "terminated" else 1
    if args.json:
        emit_json({"source": result.source, "ok": result.ok, "run": outcome.run.id,
                   "returncode": result.returncode, "log": str(result.log_file)} | numbers)  # fmt: skip
        return code
    state = "ok" if result.ok else f"{result.status.upper()}: {result.reason}"
    print(f"{args.source}: {state} (run {outcome.run.id}, exit {result.returncode}); log {result.log_file}")
    if numbers["engines"]:
        print(f"  engine:    {', '.join(numbers['engines'])}")
    failed = ", ".join(f"{k} {v}" for k, v in numbers["pages_failed"].items())
    print(f"  pages:     {numbers['pages']}" + (f" (failed: {failed})" if failed else ""))
    listings = ", ".join(f"{k} {v}" for k, v in numbers["listings"].items()) or "none new"
    print(f"  listings:  {listings}; unchanged since last crawl {numbers['unchanged']}")
    images = numbers["images"]
    print(f"  images:    hashed {images['hashed']}, reused {images['known_url'] + images['known_content']}")
    print(f"  hits:      {numbers['hits']}")
    print("  skipped:   " + (", ".join(f"{k} {v}" for k, v in numbers["skipped"].items()) or "none"))
    if numbers["store_failed"]:
        print("  NOT STORED: " + ", ".join(f"{k} {v}" for k, v in numbers["store_failed"].items()))
    return code


def cmd_alerts_run(args: argparse.Namespace, config: Config) -> int:
    from bioleak.dispatch import make_dispatcher

    store = _open_store(config)
    stop = threading.Event()
    if not args.once:  # SIGTERM (a service manager) stops between passes, like Ctrl-C
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stderr(f"dispatching alerts every {args.interval:g} s; Ctrl-C or SIGTERM stops")
    try:
        dispatcher = make_dispatcher(config, store, attach_thumbnails=args.attach_thumbnails or None)
        while True:
            report = dispatcher.run_once()
            _print_report(args, report, dispatcher.send is not None, config)
            if args.once:
                return 0 if not report.deferred else 1
            if stop.wait(args.interval):
                return 0
    except KeyboardInterrupt:
        return 0 if not args.once else 130
    finally:
        store.close()


def _print_report(args: argparse.Namespace, report: Any, smtp: bool, config: Config) -> None:
    if args.json:
        emit_json(as_dict(report))
        return
    for org, n in report.hits.items():
        print(f"{org}: {n} hit(s) alerted" + ("" if smtp else f" (saved to {config.outbox}, no SMTP configured)"))
    for org, n in report.suppressed.items():
        print(f"{org}: {n} hit(s) suppressed (false positive, beyond --max-distance, or already alerted)")
    for org, why in report.deferred.items():
        print(f"{org}: deferred, will retry: {why}")
    for org, why in report.waiting.items():
        print(f"{org}: not due yet ({why})")
    if not (report.hits or report.deferred or report.suppressed or report.waiting) and args.once:
        print("nothing pending")


def cmd_alerts_status(args: argparse.Namespace, config: Config) -> int:
    store = _open_store(config)
    try:
        orgs = store.list_orgs()
        states = {o.name: Counter(h.alert_state for h in store.hits_for_org(o.name)) for o in orgs}
        recent = {o.name: store.deliveries(o.name, limit=args.last) for o in orgs}
    finally:
        store.close()
    for org in orgs:
        if args.json:
            emit_json({"org": org.name, "hits": dict(states[org.name]),
                       "deliveries": [as_dict(d) for d in recent[org.name]]})  # fmt: skip
            continue
        counts = ", ".join(f"{k} {states[org.name].get(k, 0)}" for k in ("pending", "sending", "sent", "suppressed"))
        print(f"{org.name}: {counts}")
        for d in recent[org.name]:
            flag = "" if d.status == "sent" else "  <--"
            print(f"  {d.at[:19]} {d.channel:<7} {d.status:<8} {d.hits} hit(s) {safe_text(d.detail, 100)}{flag}")
    if not orgs and not args.json:
        print("no organisations: add one with `bioleak org add`")
    return 0


def cmd_alerts_preview(args: argparse.Namespace, config: Config) -> int:
    from bioleak.dispatch import make_dispatcher

    store = _open_store(config)
    try:
        org = _find_org(store, args.org)
        message = make_dispatcher(config, store, attach_thumbnails=args.attach_thumbnails or None).preview(org)
    finally:
        store.close()
    if message is None:
        print(f"{args.org}: nothing pending")
        return 0
    part = message.get_body(("html",) if args.html else ("plain",))
    assert part is not None
    print(f"Subject: {message['Subject']}\nTo: {message['To']}\nMessage-ID: {message['Message-ID']}")
    attached = [str(p.get_filename()) for p in message.walk() if p.get_content_maintype() == "image"]
    print(f"Attachments: {', '.join(attached) if attached else 'none'}\n")
    print(part.get_content())
    return 0


# --- parser -----------------------------------------------------------------------------------


def _add(
    subparsers: Any, name: str, func: Callable[[argparse.Namespace, Config], int], help: str, example: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=help, epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.set_defaults(func=func)
    return parser


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bioleak",
        description="Find leaked face data on black markets, prove whose it is, and alert the owner.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bioleak {__version__}")
    parser.add_argument("--data-dir", metavar="DIR", help="workspace (default $BIOLEAK_HOME or ./bioleak-data)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _add(sub, "demo", cmd_demo,
             "Run the whole flow against a fake black market on 127.0.0.1 and check the result.",
             "bioleak demo --keep ./bioleak-demo")  # fmt: skip
    p.add_argument("--keep", metavar="DIR", help="keep the workspace in DIR (default: a temporary one)")
    p.add_argument(
        "--es-url", metavar="URL", help="index into this Elasticsearch (prefix bioleak-demo) instead of SQLite"
    )
    _json_flag(p)

    p = _add(sub, "crawl", cmd_crawl,
             "Crawl one source from sources.yaml now: the scheduler's code path (a `scrapy crawl` subprocess,"
             " recorded in `bioleak runs`; refused while another crawl of the source runs).",
             "bioleak crawl demo-market --json")  # fmt: skip
    p.add_argument("source", help="name of a source in sources.yaml")
    p.add_argument("--timeout", type=float, help="wall-clock limit in seconds (default: crawl_timeout, 3600)")
    _json_flag(p)

    from bioleak import registry_cli, schedule_cli, search_cli, sources_cli

    search_cli.register(sub, _add, _json_flag)
    registry_cli.register(sub, _add, _json_flag)
    sources_cli.register(sub, _add, _json_flag)
    schedule_cli.register(sub, _add, _json_flag)

    org = sub.add_parser("org", help="Organisations that receive alerts.")
    osub = org.add_subparsers(dest="org_command", metavar="ACTION", required=True)
    p = _add(osub, "add", cmd_org_add, "Add or update an organisation and its alert addresses.",
             "bioleak org add acme-bank --email soc@acme-bank.example --webhook https://soc.acme-bank.example/hook"
             " --secret S --max-distance 6")  # fmt: skip
    p.add_argument("name")
    p.add_argument("--email", help="comma-separated alert addresses")
    p.add_argument("--webhook", metavar="URL", help="also POST each alert as signed JSON to this URL")
    p.add_argument("--secret", help="shared secret for the webhook's HMAC-SHA256 signature header")
    p.add_argument("--digest", choices=DIGEST_CHOICES, default="instant",
                   help="instant (default): every pass; hourly or daily: at most one alert per window")  # fmt: skip
    p.add_argument("--max-distance", type=int, metavar="BITS",
                   help="alert only matches at most this many pHash bits away (default: every match)")  # fmt: skip
    p = _add(osub, "list", cmd_org_list, "List organisations.", "bioleak org list --json")
    _json_flag(p)
    p = _add(osub, "show", cmd_org_show, "One organisation: where its alerts go and its matches by alert state.",
             "bioleak org show acme-bank")  # fmt: skip
    p.add_argument("name")
    _json_flag(p)
    p = _add(osub, "remove", cmd_org_remove, "Stop alerting an organisation (its matches stay as evidence).",
             "bioleak org remove acme-bank")  # fmt: skip
    p.add_argument("name")

    alerts = sub.add_parser("alerts", help="Send alert emails for new matches.")
    asub = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    p = _add(asub, "run", cmd_alerts_run,
             "Claim pending matches, send one email (and webhook) per organisation (or save the email to the "
             "outbox when no SMTP URL is configured), mark them sent; every --interval seconds until stopped, "
             "or one pass with --once (exit 1 if a delivery was deferred). Failed organisations are retried "
             "with backoff (1 minute doubling to 1 hour); digests wait for their window.",
             "BIOLEAK_SMTP_URL=smtp://mail.example:587?starttls=1 bioleak alerts run --once")  # fmt: skip
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between passes (default 60)")
    _attach_flag(p)
    _json_flag(p)
    p = _add(asub, "status", cmd_alerts_status,
             "Per organisation: matches pending, sent and suppressed, and the latest deliveries; refused"
             " recipients and failed webhooks are marked.", "bioleak alerts status --last 5")  # fmt: skip
    p.add_argument("--last", type=int, default=10, help="deliveries shown per organisation (default 10)")
    _json_flag(p)
    p = _add(asub, "preview", cmd_alerts_preview,
             "Show the alert the next run would send an organisation, without sending or claiming anything.",
             "bioleak alerts preview acme-bank")  # fmt: skip
    p.add_argument("org", help="organisation name")
    p.add_argument("--html", action="store_true", help="the HTML part (scraped text escaped) instead of plain text")
    _attach_flag(p)
    return parser


def _attach_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--attach-thumbnails", action="store_true",
        help="attach the thumbnail the crawl kept of each matched image (off by default: leaked faces stay in"
        " bioleak; set attach_thumbnails = true in bioleak.toml to make it the default)",
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load(args.data_dir)
        result: int = args.func(args, config)
        return result
    except (CliError, ConfigError) as exc:
        print(f"bioleak: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`bioleak search --json | head`): not an error of ours.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
