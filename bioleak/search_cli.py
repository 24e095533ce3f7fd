"""`bioleak search`, `show` and `triage`: what an analyst does with what was found."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from bioleak.config import Config
from bioleak.output import CliError, as_dict, emit_json, safe_text
from indexer.store import AGGREGATIONS, SORTS, SearchQuery, Store
from pipeline.models import CATEGORIES, TRIAGE_STATES, Hit, Listing

QUERY_HELP = """\
query language (WORDS):
  人脸 照片                  every word must occur, in the title or the text
  "selfie with id"           a phrase; a Chinese word is always matched as one (人脸数据)
  活体 OR 过人脸              either word (OR binds tighter than the spaces between words)
  title:人脸  text:"qq group" only in that field
  category:tutorial site:HOST:PORT source:NAME org:ORG contact:VALUE author:NAME triage:STATE
                             exact filters; category:a OR category:b for either value

examples:
  bioleak search 人脸 照片 --category face_data_sale --org acme-bank
  bioleak search '"selfie with id" OR 手持身份证' --since 2026-11-01 --agg site --agg day
  bioleak search --matched --max-distance 4 --sort first_seen --json | jq -r .url
  bioleak search --limit 100 --after CURSOR        (the cursor the previous page printed)
"""


def open_store(config: Config) -> Store:
    from indexer.open import open_store as _open

    if not config.uses_elasticsearch and not Path(config.store).exists():
        raise CliError(f"no store at {config.store}: crawl something first, or pass --data-dir")
    try:
        return _open(config.store, es_prefix=config.es_prefix)
    except Exception as exc:
        raise CliError(f"cannot open store {config.store}: {exc}") from exc


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    from indexer.query import QueryError

    try:
        query = SearchQuery(
            text=" ".join(args.query), category=args.category, site=args.site, source=args.source, org=args.org,
            has_match=True if args.matched else False if args.unmatched else None, max_distance=args.max_distance,
            needs_review=True if args.needs_review else None,
            triage=args.triage, contact=args.contact, price_min=args.price_min, price_max=args.price_max,
            first_seen_from=args.since, first_seen_to=args.until,
            last_seen_from=args.seen_since, last_seen_to=args.seen_until,
            sort=args.sort, descending=not args.ascending, limit=args.limit, offset=args.offset, after=args.after,
            aggregations=tuple(dict.fromkeys(["category", *(args.agg or [])])),
        )  # fmt: skip
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    store = open_store(config)
    try:
        try:
            page = store.search(query)
        except (QueryError, ValueError) as exc:
            raise CliError(str(exc)) from exc
        hits = {listing.id: store.hits_for_listing(listing.id) for listing in page.listings}
    finally:
        store.close()
    if args.json:
        for listing in page.listings:
            emit_json(as_dict(listing) | {"hits": [as_dict(h) for h in hits[listing.id]]})
        if args.agg:
            emit_json({"total": page.total, "aggregations": page.aggregations, "next_after": page.next_after})
        return 0
    print(f"{page.total} listing(s)  " + "  ".join(f"{k}:{v}" for k, v in sorted(page.by_category.items())))
    for listing in page.listings:
        orgs = sorted({h.org for h in hits[listing.id]})
        print(
            f"{listing.id[:12]}  {listing.category + ('?' if listing.needs_review else ''):<15} "
            f"{len(hits[listing.id]):>2} hit(s) "
            f"{','.join(orgs) or '-':<20} {listing.last_seen[:10]}  {safe_text(listing.title, 60)}"
        )
    for name in args.agg or []:
        if name != "category":
            buckets = ", ".join(f"{safe_text(k, 40)} {v}" for k, v in page.aggregations.get(name, []))
            print(f"by {name}: {buckets or 'none'}")
    if page.next_after and len(page.listings) < page.total:
        print(f"next page: --after {page.next_after}")
    return 0


def explain_listing(listing: Listing) -> list[tuple[str, float]]:
    """What tipped the model towards the listing's category: evidence by name, n-grams as the
    text spells them, with their weight (the model as this bioleak ships it, not as it was when
    the listing was classified)."""
    from crawlers.classifier import cached_classifier
    from pipeline.entities import Entities

    entities = Entities(listing.prices, listing.quantities, listing.contacts)
    return cached_classifier().explain(listing.title, listing.text, entities)


def resolve_listing(store: Store, prefix: str) -> Listing:
    found = store.listing_ids_with_prefix(prefix.lower(), limit=2)
    if not found:
        raise CliError(f"no listing with id {prefix}")
    if len(found) > 1:
        raise CliError(f"{prefix} is ambiguous ({', '.join(i[:16] for i in found)}, ...): give more characters")
    listing = store.get_listing(found[0])
    assert listing is not None
    return listing


def cmd_show(args: argparse.Namespace, config: Config) -> int:
    store = open_store(config)
    try:
        listing = resolve_listing(store, args.id)
        hits = store.hits_for_listing(listing.id)
        history = {h.id: store.triage_history(h.id) for h in hits}
        thumbnails = store.get_thumbnails(sorted({h.image_sha256 for h in hits}))
    finally:
        store.close()
    weights = explain_listing(listing) if not args.no_explain else []
    saved: dict[str, str] = {}
    if args.save_thumbnails:
        folder = Path(args.save_thumbnails)
        folder.mkdir(parents=True, exist_ok=True)
        for sha, jpeg in thumbnails.items():
            path = folder / f"evidence-{sha[:16]}.jpg"
            path.write_bytes(jpeg)
            saved[sha] = str(path)
    if args.json:
        emit_json(
            as_dict(listing)
            | {"explain": [{"feature": name, "weight": round(w, 4)} for name, w in weights]}
            | {"hits": [as_dict(h) | {"triage_history": [as_dict(e) for e in history[h.id]],
                                      "thumbnail": h.image_sha256 in thumbnails,
                                      "thumbnail_file": saved.get(h.image_sha256)} for h in hits]}
        )  # fmt: skip
        return 0
    print(f"{safe_text(listing.title)}\n{safe_text(listing.url)}\nid {listing.id}")
    print(f"site {safe_text(listing.site)}  source {listing.source}  category {listing.category} ({listing.score})")
    if listing.needs_review:
        print("needs review: the classifier was unsure of this category")
    print(f"first seen {listing.first_seen}  last seen {listing.last_seen}")
    if listing.author:
        print(f"seller: {safe_text(listing.author)}")
    if listing.evidence:
        print("evidence: " + ", ".join(safe_text(e) for e in listing.evidence))
    if listing.prices:
        print("prices: " + ", ".join(f"{p.amount:g} {p.currency} {p.unit}" for p in listing.prices))
    if listing.quantities:
        print("quantities: " + ", ".join(f"{q.value:g} {q.unit}" for q in listing.quantities))
    elif listing.quantity:
        print(f"quantity: {listing.quantity}")
    if listing.contacts:
        print("contacts: " + ", ".join(f"{c.kind}:{safe_text(c.value)}" for c in listing.contacts))
    if weights:
        print("weighed most: " + ", ".join(f"{safe_text(name, 30)} {w:+.2f}" for name, w in weights))
    print(f"\n{safe_text(listing.text, 2000)}\n")
    for h in hits:
        print(
            f"HIT {h.id[:12]} {h.org}/{safe_text(h.registry_ref)} {h.region}"
            f" pHash {h.distance} dHash {h.dhash_distance} [{h.triage}, alert {h.alert_state}] {safe_text(h.image_url)}"
        )
        if h.image_sha256 in saved:
            print(f"    thumbnail saved: {saved[h.image_sha256]}")
        elif h.image_sha256 in thumbnails:
            print("    thumbnail kept (--save-thumbnails DIR writes it out)")
        for e in history[h.id]:
            note = f": {safe_text(e.note)}" if e.note else ""
            print(f"    {e.at[:19]} {e.status} by {safe_text(e.who) or '?'}{note}")
    if hits:
        print(f"\ntriage a hit: bioleak triage {hits[0].id[:12]} --status confirmed --note '...'")
    return 0


def _hits_for(store: Store, prefix: str) -> list[Hit]:
    """A hit id (or prefix), or a listing id (or prefix) standing for all of its hits."""
    prefix = prefix.lower()
    hit_ids = store.hit_ids_with_prefix(prefix, limit=2)
    if len(hit_ids) == 1:
        hit = store.get_hit(hit_ids[0])
        return [hit] if hit else []
    if len(hit_ids) > 1:
        raise CliError(f"{prefix} is ambiguous among hits: give more characters")
    listing_ids = store.listing_ids_with_prefix(prefix, limit=2)
    if len(listing_ids) > 1:
        raise CliError(f"{prefix} is ambiguous among listings: give more characters")
    if not listing_ids:
        raise CliError(f"no hit or listing with id {prefix}")
    hits = store.hits_for_listing(listing_ids[0])
    if not hits:
        raise CliError(f"listing {listing_ids[0][:12]} has no matches to triage")
    return hits


def cmd_triage(args: argparse.Namespace, config: Config) -> int:
    who = args.who or os.environ.get("USER") or getpass.getuser()
    store = open_store(config)
    try:
        hits = _hits_for(store, args.id)
        events = store.triage([h.id for h in hits], args.status, note=args.note, who=who)
    finally:
        store.close()
    by_id = {h.id: h for h in hits}
    for e in events:
        if args.json:
            emit_json(as_dict(e))
        else:
            hit = by_id[e.hit_id]
            print(f"{e.hit_id[:12]} {hit.org}/{safe_text(hit.registry_ref)}: {hit.triage} -> {e.status} (by {who})")
    return 0


def register(sub: Any, add: Any, json_flag: Any) -> None:
    p = add(sub, "search", cmd_search,
            "Search indexed listings by text and filters; Chinese and English text both work.",
            "bioleak search 人脸 照片 --category face_data_sale --org acme-bank --json")  # fmt: skip
    p.epilog = QUERY_HELP
    p.add_argument("query", nargs="*", metavar="WORDS", help="query words, phrases and field:value filters")
    p.add_argument("--category", choices=CATEGORIES)
    p.add_argument("--site", help="host:port of the site, exactly")
    p.add_argument("--source", help="name of the source in sources.yaml")
    p.add_argument("--org", help="only listings with a match for this organisation")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--matched", action="store_true", help="only listings with at least one match")
    group.add_argument("--unmatched", action="store_true", help="only listings without matches")
    p.add_argument("--max-distance", type=int, metavar="BITS", help="only matches this close (pHash bits, 0-8)")
    p.add_argument(
        "--needs-review", action="store_true",
        help="only listings the classifier was unsure of (shown with a ? after the category): check their category",
    )  # fmt: skip
    p.add_argument("--triage", choices=TRIAGE_STATES, help="only listings with a match in this triage state")
    p.add_argument("--contact", help="a seller contact exactly as shown (QQ number, @handle, WeChat id, email)")
    p.add_argument("--price-min", type=float, metavar="AMOUNT", help="some price at least this (any currency)")
    p.add_argument("--price-max", type=float, metavar="AMOUNT", help="some price at most this (any currency)")
    p.add_argument("--since", metavar="DATE", help="first seen on or after (2026-11-01 or an ISO 8601 time)")
    p.add_argument("--until", metavar="DATE", help="first seen before")
    p.add_argument("--seen-since", metavar="DATE", help="last seen on or after")
    p.add_argument("--seen-until", metavar="DATE", help="last seen before")
    p.add_argument("--sort", choices=SORTS, default="last_seen", help="newest first unless --ascending")
    p.add_argument("--ascending", action="store_true", help="oldest (or lowest score) first")
    p.add_argument(
        "--agg", action="append", choices=AGGREGATIONS,
        help="also count results by this field (repeatable); with --json a last line holds the counts",
    )  # fmt: skip
    p.add_argument("--limit", type=int, default=20, help="results per page (default 20)")
    p.add_argument("--offset", type=int, default=0, help="skip this many results (shallow pages)")
    p.add_argument("--after", metavar="CURSOR", help="the page after the one that printed this cursor (deep pages)")
    json_flag(p)

    p = add(sub, "show", cmd_show,
            "Show one listing with its evidence, matches, their triage history and whether the crawl kept a"
            " thumbnail of the matched image.",
            "bioleak show 3f2a9c01be77")  # fmt: skip
    p.add_argument("id", help="listing id, or the 12-character prefix `search` prints")
    p.add_argument("--no-explain", action="store_true", help="skip what weighed most in the model's decision")
    p.add_argument(
        "--save-thumbnails",
        metavar="DIR",
        help="write the kept thumbnail of each matched image to DIR (as evidence-SHA256PREFIX.jpg)",
    )
    json_flag(p)

    p = add(sub, "triage", cmd_triage,
            "Record an analyst's verdict on a match (kept as history; false positives are not alerted).",
            "bioleak triage 9c41d0e2a7b3 --status false_positive --note 'stock photo, not our customer'")  # fmt: skip
    p.add_argument("id", help="hit id or prefix (`show` prints them), or a listing id for all of its matches")
    p.add_argument("--status", required=True, choices=[s for s in TRIAGE_STATES if s != "new"])
    p.add_argument("--note", default="", help="why (kept with the verdict)")
    p.add_argument("--who", default="", help="analyst name (default: $USER)")
    json_flag(p)
