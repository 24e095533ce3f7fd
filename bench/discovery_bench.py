"""Discovery without selectors on fixture sites of real engines (tests/data/engines/).

    python bench/discovery_bench.py [ENGINE...] [--json] [--verbose]

Each engine's fixture site (built from the engine's real markup and URL schemes) is crawled with
a plain source, seed URL and kind only, by `bioleak crawl`'s code path. Per engine: listings found
/ present, content images downloaded / present (those robots.txt lets a crawler fetch), pages
fetched per listing found, and the engine bioleak said it recognised. Goals (issue 17): 100% of
listings found, <= 3 pages fetched per listing found.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bioleak.config import defaults  # noqa: E402
from bioleak.crawl import crawl  # noqa: E402
from crawlers.sources import Source, dump_sources  # noqa: E402
from indexer.sqlite_store import SqliteStore  # noqa: E402
from indexer.store import SearchQuery  # noqa: E402
from tests.engine_sites import EngineSite, engine_names, load_engine_site, route_key  # noqa: E402

MAX_PAGES_PER_LISTING = 3.0


def _robots(site: EngineSite) -> Any:
    from protego import Protego

    spec = site.routes.get("/robots.txt")
    if not spec or "file" not in spec:
        return None
    return Protego.parse((site.directory / spec["file"]).read_text("utf-8", "replace"))


def run(name: str, workdir: Path, *, generic: bool = False) -> dict[str, Any]:
    site = load_engine_site(name)
    with site:
        config = defaults(workdir)
        allow = [urlsplit(site.url).netloc] + ([urlsplit(site.cdn.url).netloc] if site.cdn else [])
        source = Source(name, (site.url + site.seed,), kind=site.kind, allow_networks=tuple(allow), delay=0)
        config.sources.write_text(dump_sources([source]), "utf-8")
        started = time.monotonic()
        result = crawl(config, name, timeout=600, settings={"BIOLEAK_ENGINES": "generic"} if generic else None)
        seconds = time.monotonic() - started
        requested = set(site.requested())
        cdn_host = urlsplit(site.cdn.url).netloc if site.cdn else ""
    store = SqliteStore(config.store)
    try:
        stored = store.search(SearchQuery(limit=5000, aggregations=())).listings
    finally:
        store.close()
    keys: dict[str, Any] = {}
    for listing in stored:
        parts = urlsplit(listing.url)
        if parts.netloc != cdn_host:
            keys.setdefault(route_key(parts.path + ("?" + parts.query if parts.query else "")), listing)
    found, missed, duplicates = 0, [], 0
    expected_paths: set[str] = set()
    for expected in site.listings:
        paths = expected.paths()
        expected_paths |= paths
        hits = [k for k in keys if k in paths]
        found += bool(hits)
        duplicates += max(0, len(hits) - 1)
        if not hits:
            missed.append(expected.url)
    extra = sorted(k for k in keys if k not in expected_paths)
    robots = _robots(site)
    images = allowed = downloaded = 0
    missed_images = []
    for expected in site.listings:
        for image in expected.images:
            images += 1
            on_cdn = image.startswith("{{CDN}}")
            path = image.removeprefix("{{CDN}}")
            if not on_cdn and robots is not None and not robots.can_fetch(path, "bioleak"):
                continue
            allowed += 1
            if route_key(path) in requested:
                downloaded += 1
            else:
                missed_images.append(image)
    pages = int(result.stats.get("bioleak/pages", 0))
    engines = sorted(k.rsplit("/", 1)[-1] for k in result.stats if k.startswith("bioleak/engine/"))
    return {
        "engine": name, "recognised_as": engines, "status": result.status, "listings": len(site.listings),
        "found": found, "duplicates": duplicates, "not_listings": len(extra), "pages": pages,
        "pages_per_listing": round(pages / max(found, 1), 2), "images": images, "images_allowed": allowed,
        "images_downloaded": downloaded, "seconds": round(seconds, 1), "missed": missed,
        "missed_images": missed_images, "extra": extra,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engines", nargs="*", help="engine fixtures to crawl (default: all)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="list every miss and every stored non-listing")
    parser.add_argument(
        "--generic", action="store_true",
        help="no engine modules, structure and generic URL rules only: how bioleak does on an engine it does not know",
    )  # fmt: skip
    args = parser.parse_args(argv)
    names = args.engines or engine_names()
    rows = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"discovery-{name}-") as tmp:
            rows.append(run(name, Path(tmp), generic=args.generic))
    total_found = sum(r["found"] for r in rows)
    total = sum(r["listings"] for r in rows)
    total_pages = sum(r["pages"] for r in rows)
    ok_found = total_found == total
    ok_pages = all(r["pages_per_listing"] <= MAX_PAGES_PER_LISTING for r in rows)
    if args.json:
        print(json.dumps({"engines": rows, "found": total_found, "listings": total}, indent=1))
    else:
        print(f"{'engine':<12} {'said':<12} {'found':>7} {'dupes':>5} {'extra':>5} {'pages':>5} {'p/listing':>9}"
              f" {'images':>9} {'secs':>5}")  # fmt: skip
        for r in rows:
            print(f"{r['engine']:<12} {','.join(r['recognised_as']) or '-':<12} {r['found']:>3}/{r['listings']:<3}"
                  f" {r['duplicates']:>5} {r['not_listings']:>5} {r['pages']:>5} {r['pages_per_listing']:>9}"
                  f" {r['images_downloaded']:>4}/{r['images_allowed']:<4} {r['seconds']:>5}")  # fmt: skip
            if args.verbose:
                for miss in r["missed"]:
                    print(f"    missed listing {miss}")
                for miss in r["missed_images"]:
                    print(f"    missed image   {miss}")
                for extra in r["extra"][:20]:
                    print(f"    not a listing  {extra}")
        print(f"total: {total_found}/{total} listings, {total_pages / max(total_found, 1):.2f} pages per listing")
        print(f"{'PASS' if ok_found else 'FAIL'}  every listing found: {total_found}/{total}")
        worst = max((r["pages_per_listing"] for r in rows), default=0)
        print(
            f"{'PASS' if ok_pages else 'FAIL'}  <= {MAX_PAGES_PER_LISTING:g} pages fetched per listing: worst {worst}"
        )
    return 0 if ok_found and ok_pages else 1


if __name__ == "__main__":
    sys.exit(main())
