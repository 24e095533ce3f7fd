"""Score bioleak end to end on a whole fake black market it has never seen.

    python bench/world_bench.py WORLD_DIR [--json] [--keep DIR] [--images] [--jobs N] [--timeout S]

WORLD_DIR is a validation world (its README documents the format): sites served by its own
`serve.py`, a protected registry, hostile cases and `truth.json`. The bench uses it as a new user
would: it serves the world (access log and canary on), enrols the registry with `bioleak registry
add`, writes a `sources.yaml` with each site's seed URLs and kind and nothing else (no selectors,
no hints), runs every site with `bioleak crawl`, reads the results back through the Store and
scores them against `truth.json`. `--images` instead runs `bioleak match --json` over every image
file the world serves, so matching can be judged apart from crawling.

It prints one PASS/FAIL line per goal and exits 0 only when all hold. The scoring functions are
pure (truth + what was observed -> report) so tests can check them on a tiny world.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CATEGORIES = ("face_data_sale", "over_face_tool", "tutorial", "benign")
KIND_OF_HINT = {"forum": "listing", "shop": "listing", "paste": "paste", "telegram": "telegram"}
CRAWLED_SITES = ("D", "E", "F", "G", "H")
# A trap is bounded when a crawl asks it for at most this many pages (bioleak's own URL-trap
# limit is 50 query variants per path; a little slack for the pages that lead into the trap).
TRAP_BUDGET = 60
# A redirect chain or loop is stopped when it costs at most this many requests.
REDIRECT_BUDGET = 25
USER_AGENT = "bioleak"

# --- observations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One access-log line of the world's server."""

    site: str
    path: str
    status: int
    bytes: int  # body bytes sent; -1 when the client hung up


@dataclass(frozen=True)
class StoredListing:
    site: str  # the world's site letter, from the listing's host:port
    path: str  # path and query as stored
    title: str
    text: str
    category: str
    prices: tuple[tuple[float, str], ...]  # (amount, currency)
    quantities: tuple[float, ...]
    contacts: tuple[tuple[str, str], ...]  # (type, value)
    image_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredHit:
    image_sha256: str
    org: str
    ref: str
    image_url: str = ""
    listing_path: str = ""


@dataclass(frozen=True)
class SiteRun:
    site: str
    status: str  # as `bioleak crawl --json` reports it ("ok", "failed", "timeout", ...), or "error"
    seconds: float
    listings_stored: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    log_text: str = ""  # the crawl's own log, to attribute skips to URLs


@dataclass
class Observation:
    requests: list[Request] = field(default_factory=list)
    listings: list[StoredListing] = field(default_factory=list)
    hits: list[StoredHit] = field(default_factory=list)
    runs: dict[str, SiteRun] = field(default_factory=dict)


# --- URLs ---------------------------------------------------------------------------------------


def canonical(path_and_query: str, ignore_params: Iterable[str] = ()) -> str:
    """How the world compares URLs: path unquoted, query decoded with its parameters sorted,
    ignored parameters (session ids) dropped, fragment dropped."""
    parts = urlsplit(path_and_query.split("#", 1)[0])
    path = unquote(parts.path) or "/"
    if not parts.query:
        return path
    ignored = set(ignore_params)
    pairs = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ignored)
    return f"{path}?{urlencode(pairs)}" if pairs else path


def site_of(ref: str, default: str) -> tuple[str, str]:
    """'H:/s/x' -> ('H', '/s/x'); '/s/x' -> (default, '/s/x')."""
    if re.match(r"^[A-Z]+:/", ref):
        site, path = ref.split(":", 1)
        return site, path
    return default, ref


# --- scoring ------------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    return a / b if b else 1.0


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def normalise_contact(kind: str, value: str) -> tuple[str, str]:
    kind = kind.lower()
    value = value.strip().lower()
    if kind in ("qq", "qq_group", "phone"):
        value = re.sub(r"\D", "", value)
    elif kind == "telegram":
        value = value.lstrip("@")
        value = re.sub(r"^(https?://)?(t|telegram)\.me/", "", value)
    return kind, value


def _amount(value: float) -> float:
    return round(float(value), 6)


def truth_entities(listing: dict[str, Any]) -> tuple[Counter[tuple[Any, ...]], set[tuple[Any, ...]], dict[Any, str]]:
    """(required entities, optional ones, raw text of each) of a truth listing."""
    required: Counter[tuple[Any, ...]] = Counter()
    optional: set[tuple[Any, ...]] = set()
    raw: dict[Any, str] = {}
    entries: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for p in listing.get("prices") or ():
        entries.append((("price", _amount(p["amount"]), str(p["currency"]).upper()), p))
    for q in listing.get("quantities") or ():
        entries.append((("quantity", _amount(q["value"])), q))
    for c in listing.get("contacts") or ():
        entries.append((("contact", *normalise_contact(c["type"], str(c["value"]))), c))
    for key, entry in entries:
        raw.setdefault(key, str(entry.get("raw", "")))
        if entry.get("optional"):
            optional.add(key)
        else:
            required[key] += 1
    return required, optional, raw


def stored_entities(listings: Iterable[StoredListing]) -> set[tuple[Any, ...]]:
    found: set[tuple[Any, ...]] = set()
    for s in listings:
        found |= {("price", _amount(a), c.upper()) for a, c in s.prices}
        found |= {("quantity", _amount(v)) for v in s.quantities}
        found |= {("contact", *normalise_contact(k, v)) for k, v in s.contacts}
    return found


def _entity_type(key: tuple[Any, ...]) -> str:
    return str(key[0])


def _robots(world: Path, sites: dict[str, Any]) -> dict[str, Any]:
    """Each site's robots.txt as served, parsed with Protego (Google-style wildcards)."""
    from protego import Protego

    parsers: dict[str, Any] = {}
    for site in sites:
        routes_file = world / "site" / site / "_routes.json"
        if not routes_file.exists():
            continue
        routes = json.loads(routes_file.read_text("utf-8")).get("routes", {})
        spec = routes.get("/robots.txt") or {}
        body = ""
        if "file" in spec:
            body = (world / "site" / site / spec["file"]).read_text("utf-8", "replace")
        elif "body" in spec:
            body = str(spec["body"])
        parsers[site] = Protego.parse(body) if body else None
    return parsers


def _routes(world: Path, site: str) -> dict[str, Any]:
    path = world / "site" / site / "_routes.json"
    if not path.exists():
        return {}
    routes: dict[str, Any] = json.loads(path.read_text("utf-8")).get("routes", {})
    return routes


def _redirect_target(world: Path, site: str, path: str) -> tuple[str, str] | None:
    """(site, path) a route redirects to (Location header or meta refresh), or None."""
    routes = _routes(world, site)
    spec = routes.get(path) or routes.get(canonical(path)) or {}
    location = spec.get("redirect")
    if location is None and "file" in spec:
        page = (world / "site" / site / spec["file"]).read_text("utf-8", "replace")
        m = re.search(r"""http-equiv=["']?refresh["']?[^>]*content=["'][^"']*url=([^"'>\s]+)""", page, re.I)
        location = m.group(1) if m else None
    if not location:
        return None
    m = re.match(r"^https?://__(?:HOST|SITE)_([A-Z]+)__(/.*)?$|^https?://__(CDN|CANARY)__(/.*)?$", location)
    if m:
        target_site = m.group(1) or m.group(3)
        return target_site, m.group(2) or m.group(4) or "/"
    if location.startswith("/"):
        return site, location
    return None


@dataclass
class _Context:
    truth: dict[str, Any]
    world: Path
    ignore: dict[str, tuple[str, ...]]
    requests_by_site: dict[str, list[Request]]

    def keys(self, site: str, path: str) -> str:
        return canonical(path, self.ignore.get(site, ()))

    def requested(self, site: str, path: str) -> list[Request]:
        key = self.keys(site, path)
        return [r for r in self.requests_by_site.get(site, []) if self.keys(site, r.path) == key]

    def site_pages_requested(self, site: str) -> bool:
        return any(not r.path.startswith("/robots.txt") for r in self.requests_by_site.get(site, []))


def score(truth: dict[str, Any], obs: Observation, world: Path) -> dict[str, Any]:
    """Every figure of the report, from the truth file and what was observed."""
    sites = truth.get("sites", {})
    ignore = {s: tuple(v.get("ignore_params") or ()) for s, v in sites.items()}
    by_site: dict[str, list[Request]] = defaultdict(list)
    for r in obs.requests:
        by_site[r.site].append(r)
    ctx = _Context(truth, world, ignore, by_site)
    report: dict[str, Any] = {}
    report["listings"], matched = _score_listings(truth, obs, ctx)
    report["categories"] = _score_categories(truth, matched)
    report["entities"] = _score_entities(truth, matched)
    report["leaks"] = score_leaks(truth, [(h.image_sha256, h.org, h.ref) for h in obs.hits], obs.requests, ctx)
    report["safety"] = _score_safety(truth, obs, ctx)
    report["hostile"] = _score_hostile(truth, obs, ctx)
    report["runs"] = {
        s: {"status": r.status, "seconds": round(r.seconds, 1), "listings": r.listings_stored,
            "listings_per_s": round(_ratio(r.listings_stored, r.seconds), 2)}
        for s, r in sorted(obs.runs.items())
    }  # fmt: skip
    report["goals"] = goals(report)
    return report


def _score_listings(
    truth: dict[str, Any], obs: Observation, ctx: _Context
) -> tuple[dict[str, Any], dict[str, list[StoredListing]]]:
    """Which truth listings were found (under url, alt_urls or pages), per site."""
    index: dict[tuple[str, str], list[str]] = defaultdict(list)  # (site, key) -> truth ids
    primary: dict[tuple[str, str], str] = {}
    for t in truth["listings"]:
        for i, path in enumerate([t["url"], *(t.get("alt_urls") or ()), *(t.get("pages") or ())]):
            key = (t["site"], ctx.keys(t["site"], path))
            if t["id"] not in index[key]:
                index[key].append(t["id"])
            if i <= len(t.get("alt_urls") or ()):
                primary.setdefault(key, t["id"])
    matched: dict[str, list[StoredListing]] = defaultdict(list)
    unmatched: list[str] = []
    for s in obs.listings:
        key = (s.site, ctx.keys(s.site, s.path))
        ids = [primary[key]] if key in primary else index.get(key, [])
        if len(ids) != 1:  # none, or a page several listings share (a channel page): credits nobody
            unmatched.append(f"{s.site}:{s.path}" + (f" (shared by {len(ids)} listings)" if ids else ""))
            continue
        matched[ids[0]].append(s)
    per_site: dict[str, dict[str, Any]] = {}
    for t in truth["listings"]:
        row = per_site.setdefault(t["site"], {"reachable": 0, "found": 0, "duplicates": 0, "missed": [],
                                              "unreachable_stored": 0})  # fmt: skip
        if not t.get("reachable", True):
            row["unreachable_stored"] += bool(matched.get(t["id"]))
            continue
        row["reachable"] += 1
        if matched.get(t["id"]):
            row["found"] += 1
            row["duplicates"] += len(matched[t["id"]]) - 1
        else:
            row["missed"].append(f"{t['id']} {t['url']}")
    reachable = sum(r["reachable"] for r in per_site.values())
    found = sum(r["found"] for r in per_site.values())
    summary = {"reachable": reachable, "found": found, "per_site": per_site, "not_in_truth": len(unmatched),
               "not_in_truth_examples": sorted(unmatched)[:20]}  # fmt: skip
    return summary, matched


def _chosen(t: dict[str, Any], stored: list[StoredListing]) -> StoredListing | None:
    """The stored listing that stands for a truth listing: the one at its canonical URL, else the first."""
    if not stored:
        return None
    for s in stored:
        if canonical(s.path) == canonical(t["url"]):
            return s
    return stored[0]


def _score_categories(truth: dict[str, Any], matched: dict[str, list[StoredListing]]) -> dict[str, Any]:
    confusion: Counter[tuple[str, str]] = Counter()
    wrong: list[str] = []
    for t in truth["listings"]:
        if not t.get("reachable", True):
            continue
        chosen = _chosen(t, matched.get(t["id"], []))
        got = chosen.category if chosen else "(not found)"
        confusion[(t["category"], got)] += 1
        if got != t["category"]:
            wrong.append(f"{t['id']} [{t['category']} -> {got}] {t['title'][:70]}")
    total = sum(confusion.values())
    correct = sum(n for (want, got), n in confusion.items() if want == got)
    return {
        "accuracy": _ratio(correct, total), "correct": correct, "total": total,
        "confusion": {f"{want}->{got}": n for (want, got), n in sorted(confusion.items())},
        "misclassified": wrong,
    }  # fmt: skip


def _score_entities(truth: dict[str, Any], matched: dict[str, list[StoredListing]]) -> dict[str, Any]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # type -> tp, fp, fn
    by_contact: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    misses: list[str] = []
    false_positives: list[str] = []
    for t in truth["listings"]:
        if not t.get("reachable", True):
            continue
        required, optional, raw = truth_entities(t)
        stored = matched.get(t["id"], [])
        have = stored_entities(stored)
        for key, n in required.items():
            hit = 1 if key in have else 0
            kind = _entity_type(key)
            counts[kind][0] += hit
            counts[kind][2] += n - hit
            if kind == "contact":
                by_contact[key[1]][0] += hit
                by_contact[key[1]][2] += n - hit
            if n - hit:
                same_type = sorted(str(k[1:]) for k in have if k[0] == kind and k not in required)
                misses.append(f"{t['id']} {kind} {raw.get(key, '')!r} -> want {key[1:]}, extracted {same_type}")
        for key in sorted(have - set(required) - optional, key=str):
            kind = _entity_type(key)
            counts[kind][1] += 1
            if kind == "contact":
                by_contact[key[1]][1] += 1
            false_positives.append(f"{t['id']} {kind} extracted {key[1:]} (not in truth)")
    return {
        "per_type": {k: _prf(*v) for k, v in sorted(counts.items())},
        "per_contact_type": {k: _prf(*v) for k, v in sorted(by_contact.items())},
        "misses": misses,
        "false_positives": false_positives,
    }


def score_leaks(
    truth: dict[str, Any], hits: Iterable[tuple[str, str, str]], requests: Iterable[Request], ctx: _Context | None
) -> dict[str, Any]:
    """Leak recall by (image file, org, ref), per site, difficulty and transform, and false hits.
    `hits` are (image sha256, org, ref) as bioleak reported them."""
    expected: dict[str, set[tuple[str, str]]] = defaultdict(set)
    info: dict[str, dict[str, Any]] = {}
    reachable_files: set[str] = set()
    known_files: set[str] = set()
    listing_site = {t["id"]: t["site"] for t in truth["listings"]}
    urls_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for img in truth["images"]:
        sha = img["sha256"]
        known_files.add(sha)
        urls_of[sha].append((img["site"], img["url"]))
        if not img.get("should_match"):
            continue
        for m in img.get("matches") or ():
            expected[sha].add((m["org"], m["ref"]))
        if img.get("reachable", True):
            reachable_files.add(sha)
        site = next((listing_site[i] for i in img.get("listings") or () if i in listing_site), img["site"])
        info.setdefault(sha, {"site": site, "difficulty": img.get("difficulty", "?"),
                              "transform": img.get("primary_transform", "?"), "url": img["url"]})  # fmt: skip
    got: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for sha, org, ref in hits:
        got[sha].add((org, ref))
    groups: dict[str, dict[str, list[int]]] = {"site": {}, "difficulty": {}, "transform": {}}
    missed: list[str] = []
    total = found = 0
    for sha in sorted(reachable_files):
        for pair in sorted(expected[sha]):
            ok = pair in got.get(sha, set())
            total += 1
            found += ok
            for group, key in (("site", "site"), ("difficulty", "difficulty"), ("transform", "transform")):
                cell = groups[group].setdefault(str(info[sha][key]), [0, 0])
                cell[0] += ok
                cell[1] += 1
            if not ok:
                missed.append(f"{pair[0]}/{pair[1]} in {info[sha]['site']}:{info[sha]['url']} "
                              f"({info[sha]['transform']}, {info[sha]['difficulty']})")  # fmt: skip
    false_hits = [
        f"{org}/{ref} on {sha[:12]}" + ("" if sha in known_files else " (image not in truth)")
        for sha, pairs in sorted(got.items())
        for org, ref in sorted(pairs)
        if (org, ref) not in expected.get(sha, set())
    ]
    downloaded = None
    if ctx is not None:  # a leak file counts as downloaded when one of its URLs was served whole
        served = {(r.site, ctx.keys(r.site, r.path)) for r in requests if r.status == 200 and r.bytes >= 0}
        downloaded = sum(
            any((site, ctx.keys(site, url)) in served for site, url in urls_of[sha]) for sha in reachable_files
        )
    return {
        "expected": total, "found": found, "recall": _ratio(found, total),
        "files": len(reachable_files), "files_downloaded": downloaded,
        "per_site": {k: {"found": v[0], "of": v[1]} for k, v in sorted(groups["site"].items())},
        "per_difficulty": {k: {"found": v[0], "of": v[1]} for k, v in sorted(groups["difficulty"].items())},
        "per_transform": {k: {"found": v[0], "of": v[1]} for k, v in sorted(groups["transform"].items())},
        "missed": missed, "false_hits": false_hits,
    }  # fmt: skip


def _score_safety(truth: dict[str, Any], obs: Observation, ctx: _Context) -> dict[str, Any]:
    robots = _robots(ctx.world, truth.get("sites", {}))
    never = {
        (h["site"], ctx.keys(h["site"], h["url"]))
        for h in truth.get("hostile", ())
        if str(h.get("expected", "")).startswith("never_fetch")
    }
    canary: list[str] = []
    disallowed: list[str] = []
    never_fetched: list[str] = []
    for r in obs.requests:
        if r.site == "CANARY":
            canary.append(r.path)
            continue
        parser = robots.get(r.site)
        if parser is not None and r.path != "/robots.txt" and not parser.can_fetch(r.path, USER_AGENT):
            disallowed.append(f"{r.site}:{r.path}")
        elif (r.site, ctx.keys(r.site, r.path)) in never:
            never_fetched.append(f"{r.site}:{r.path}")
    forbidden = len(canary) + len(disallowed) + len(never_fetched)
    return {"forbidden": forbidden, "canary": canary, "robots_disallowed": disallowed, "never_fetch": never_fetched,
            "requests": len(obs.requests)}  # fmt: skip


_TIMEOUT_WORDS = re.compile(r"timeout|timed out|took longer than", re.I)
_SIZE_WORDS = re.compile(r"too_large|max ?size|maxsize|larger than|exceeded", re.I)
_CRASH_WORDS = re.compile(r"Traceback|Spider error|Error processing|Unhandled error", re.I)


def _log_lines_about(run: SiteRun | None, url_path: str) -> list[str]:
    if run is None or not run.log_text:
        return []
    return [line for line in run.log_text.splitlines() if url_path in line]


def _score_hostile(truth: dict[str, Any], obs: Observation, ctx: _Context) -> dict[str, Any]:
    cases: list[dict[str, Any]] = []
    canary_paths = [r.path for r in obs.requests if r.site == "CANARY"]
    for h in truth.get("hostile", ()):
        site, url, expected = h["site"], h["url"], h["expected"]
        requests = ctx.requested(site, url)
        outcome, why = "not_reached", ""
        run = obs.runs.get(site)
        finished = run is None or run.status not in ("timeout", "error")
        if expected.startswith("never_fetch"):
            pages = h.get("found_on") or ["*"]
            reached = False
            for ref in pages:
                page_site, path = site_of(ref, site)
                if path == "*":
                    reached = reached or any(ctx.site_pages_requested(s) for s in
                                             (CRAWLED_SITES if page_site == "CANARY" else (page_site,)))  # fmt: skip
                else:
                    candidates = CRAWLED_SITES if page_site == "CANARY" else (page_site,)
                    reached = reached or any(ctx.requested(s, path) for s in candidates)
            # Never fetched is what is asked; a page linking it may itself be off limits (a robots-
            # disallowed index), so a crawl of the site that never fetched it has handled it.
            crawled = any(ctx.site_pages_requested(s) for s in (CRAWLED_SITES if site == "CANARY" else (site,)))
            if requests:
                outcome, why = "not_handled", f"fetched {len(requests)}x"
            elif reached:
                outcome, why = "handled", "linked page crawled, never fetched"
            elif crawled:
                outcome, why = "handled", "site crawled, never fetched (the page linking it was not fetched either)"
        elif not requests and not expected.startswith("bounded"):
            outcome, why = "not_reached", "never requested"
        elif expected == "do_not_follow_redirect_to_private_or_link_local":
            target = _redirect_target(ctx.world, site, ctx.keys(site, url))
            followed = (
                target is not None
                and target[0] == "CANARY"
                and target[1].split("?")[0] in (p.split("?")[0] for p in canary_paths)
            )
            outcome, why = ("not_handled", f"followed to {target}") if followed else ("handled", "not followed")
        elif expected == "stop_after_redirect_limit_and_continue":
            chain = {ctx.keys(site, url)}
            frontier = [(site, ctx.keys(site, url))]
            while frontier:
                step = _redirect_target(ctx.world, *frontier.pop())
                if step is not None and step[0] == site and ctx.keys(site, step[1]) not in chain:
                    chain.add(ctx.keys(site, step[1]))
                    frontier.append((site, ctx.keys(site, step[1])))
            n = sum(1 for r in ctx.requests_by_site.get(site, []) if ctx.keys(site, r.path) in chain)
            why = f"{n} requests in the chain"
            outcome, why = _verdict(n <= REDIRECT_BUDGET and finished, why, why)
        elif expected == "abort_download_at_size_limit":
            aborted = any(r.bytes < 0 for r in requests)
            logged = any(_SIZE_WORDS.search(line) for line in _log_lines_about(run, url.split("?")[0]))
            ok = aborted or logged
            outcome, why = _verdict(ok, "aborted" if aborted else "size limit logged", "read whole")
        elif expected == "timeout_and_continue":
            timed_out = any(_TIMEOUT_WORDS.search(line) for line in _log_lines_about(run, url.split("?")[0]))
            gave_up = timed_out or all(r.bytes < 0 for r in requests)
            bad = "waited it out" if not gave_up else f"the crawl ended {run.status if run else '?'}"
            outcome, why = _verdict(gave_up and finished, "gave up, crawl went on", bad)
        elif expected == "skip_without_full_decode":
            lines = _log_lines_about(run, url.split("?")[0].rsplit("/", 1)[-1]) or _log_lines_about(run, url)
            ok = any("decompression_bomb" in line for line in lines)
            outcome, why = _verdict(ok, "rejected as a bomb", "no bomb rejection logged")
        elif expected == "not_crash":
            tail = url.split("?")[0].rsplit("/", 1)[-1]
            crashed = [line for line in _log_lines_about(run, tail) if _CRASH_WORDS.search(line)]
            bad = "; ".join(crashed)[:200] if crashed else f"the crawl ended {run.status if run else '?'}"
            outcome, why = _verdict(not crashed and finished, "no crash", bad)
        elif expected == "store_as_text":
            stored = [
                s
                for s in obs.listings
                if s.site == site and ctx.keys(site, s.path) in _listing_keys(truth, site, url, ctx)
            ]
            ok = any("<script" in s.text.lower() for s in stored)
            outcome, why = _verdict(ok, "kept as text", "not stored" if not stored else "markup lost")
        elif expected == "bounded_crawl_depth_or_page_budget":
            prefix = re.sub(r"[\d/]*$", "", urlsplit(url).path) or "/"
            n = sum(1 for r in ctx.requests_by_site.get(site, []) if urlsplit(r.path).path.startswith(prefix))
            why = f"{n} requests under {prefix}"
            outcome, why = (
                ("not_reached", "never requested") if not n else _verdict(n <= TRAP_BUDGET and finished, why, why)
            )
        else:
            outcome, why = "unknown_expectation", expected
        cases.append({"site": site, "url": url, "kind": h.get("kind", ""), "expected": expected,
                      "outcome": outcome, "why": why})  # fmt: skip
    tally = Counter(c["outcome"] for c in cases)
    return {"cases": cases, "handled": tally.get("handled", 0), "total": len(cases), "outcomes": dict(tally)}


def _verdict(ok: bool, good: str, bad: str) -> tuple[str, str]:
    return ("handled", good) if ok else ("not_handled", bad)


def _listing_keys(truth: dict[str, Any], site: str, url: str, ctx: _Context) -> set[str]:
    """Every URL of the truth listing(s) that hold `url`, plus `url` itself."""
    keys = {ctx.keys(site, url)}
    for t in truth["listings"]:
        paths = [t["url"], *(t.get("alt_urls") or ()), *(t.get("pages") or ())]
        if t["site"] == site and ctx.keys(site, url) in {ctx.keys(site, p) for p in paths}:
            keys |= {ctx.keys(site, p) for p in paths}
    return keys


def goals(report: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(goal, met, figure) for every goal of the bench."""
    out: list[tuple[str, bool, str]] = []
    if "listings" in report:
        listings = report["listings"]
        out.append(("every reachable listing found", listings["found"] == listings["reachable"],
                    f"{listings['found']}/{listings['reachable']}"))  # fmt: skip
        categories = report["categories"]
        out.append(("category accuracy >= 95%", categories["accuracy"] >= 0.95,
                    f"{categories['accuracy']:.1%} ({categories['correct']}/{categories['total']})"))  # fmt: skip
        for kind in ("price", "quantity", "contact"):
            prf = report["entities"]["per_type"].get(kind, _prf(0, 0, 0))
            out.append((f"entity F1 >= 95%: {kind}", prf["f1"] >= 0.95,
                        f"F1 {prf['f1']:.1%} (P {prf['precision']:.1%}, R {prf['recall']:.1%})"))  # fmt: skip
    leaks = report["leaks"]
    out.append(("every leak found", leaks["found"] == leaks["expected"], f"{leaks['found']}/{leaks['expected']}"))
    out.append(("0 false hits", not leaks["false_hits"], str(len(leaks["false_hits"]))))
    if "safety" in report:
        out.append(("0 forbidden requests", report["safety"]["forbidden"] == 0, str(report["safety"]["forbidden"])))
        hostile = report["hostile"]
        out.append(("every hostile case handled as expected", hostile["handled"] == hostile["total"],
                    f"{hostile['handled']}/{hostile['total']}"))  # fmt: skip
    return out


# --- running the world --------------------------------------------------------------------------


def _bioleak(
    workspace: Path, *args: str, timeout: float = 3600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "bioleak.cli", "--data-dir", str(workspace), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIOLEAK_")}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if check and proc.returncode != 0:
        raise SystemExit(f"world_bench: `bioleak {' '.join(args)}` failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc


@dataclass
class World:
    directory: Path
    log: Path
    proc: subprocess.Popen[str] | None = None
    ports: dict[str, int] = field(default_factory=dict)

    def start(self, max_seconds: int) -> World:
        self.proc = subprocess.Popen(
            [sys.executable, str(self.directory / "serve.py"), "--ports", "0", "0", "0", "0", "0", "--cdn-port", "0",
             "--canary-port", "0", "--log", str(self.log), "--max-seconds", str(max_seconds)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise SystemExit(f"world_bench: {self.directory}/serve.py did not start: {line!r}")
        self.ports = json.loads(line[len("READY ") :])
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def url(self, site: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[site]}{path}"

    def site_of_port(self) -> dict[int, str]:
        return {port: site for site, port in self.ports.items()}


def write_sources(truth: dict[str, Any], world: World, path: Path) -> list[str]:
    """The sources.yaml a new user writes: each site's seed URLs and kind, and the lab's own
    authorities allowed (the canary shares their address on another port)."""
    lab = [f"127.0.0.1:{world.ports[s]}" for s in (*CRAWLED_SITES, "CDN")]
    allow = lab if _host_port_allowances_supported() else ["127.0.0.1/32"]
    sources = []
    names = []
    for site in CRAWLED_SITES:
        spec = truth["sites"][site]
        name = f"world-{site.lower()}"
        names.append(name)
        seeds = spec.get("seeds") or [spec["seed"]]
        sources.append({"name": name, "kind": KIND_OF_HINT[spec["kind_hint"]],
                        "start_urls": [world.url(site, s) for s in seeds], "allow_networks": allow})  # fmt: skip
    import yaml

    path.write_text(yaml.safe_dump({"sources": sources}, sort_keys=False), "utf-8")
    return names


def _host_port_allowances_supported() -> bool:
    """Whether this bioleak accepts host:port in allow_networks (older ones take CIDRs only)."""
    from crawlers.sources import SourceError, load_sources

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "sources.yaml"
        probe.write_text(
            "sources:\n  - name: probe\n    start_urls: ['http://127.0.0.1:1/']\n    allow_networks: ['127.0.0.1:1']\n",
            "utf-8",
        )
        try:
            load_sources(probe)
        except SourceError:
            return False
    return True


def enrol(world_dir: Path, workspace: Path) -> dict[str, int]:
    by_org: dict[str, list[Path]] = defaultdict(list)
    with (world_dir / "registry" / "manifest.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_org[row["org"]].append(world_dir / "registry" / row["file"])
    for org, files in sorted(by_org.items()):
        _bioleak(workspace, "registry", "add", "--org", org, "--ref-from-filename", "--json", *map(str, files))
    return {org: len(files) for org, files in by_org.items()}


def _read_requests(log: Path) -> list[Request]:
    out = []
    if log.exists():
        for line in log.read_text("utf-8").splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            out.append(Request(d.get("site", "?"), d.get("path", ""), int(d.get("status", 0)), int(d.get("bytes", 0))))
    return out


def _read_store(workspace: Path, site_of_port: dict[int, str]) -> tuple[list[StoredListing], list[StoredHit]]:
    from bioleak.config import load
    from indexer.open import open_store
    from indexer.store import SearchQuery

    config = load(workspace, environ={})
    store = open_store(config.store, es_prefix=config.es_prefix)
    listings: list[StoredListing] = []
    hits: list[StoredHit] = []
    try:
        after = None
        while True:
            page = store.search(SearchQuery(limit=500, after=after, aggregations=()))
            for item in page.listings:
                parts = urlsplit(item.url)
                site = site_of_port.get(parts.port or 80, parts.netloc)
                path = parts.path + ("?" + parts.query if parts.query else "")
                quantities = tuple(getattr(item, "quantities", ()) or ())
                if not quantities and getattr(item, "quantity", None) is not None:
                    quantities = (item.quantity,)
                listings.append(StoredListing(
                    site=site, path=path, title=item.title, text=item.text, category=item.category,
                    prices=tuple((p.amount, p.currency) for p in item.prices),
                    quantities=tuple(float(getattr(q, "value", q)) for q in quantities),
                    contacts=tuple((c.kind, c.value) for c in item.contacts), image_urls=tuple(item.image_urls),
                ))  # fmt: skip
                for hit in store.hits_for_listing(item.id):
                    hits.append(StoredHit(hit.image_sha256, hit.org, hit.registry_ref, hit.image_url, path))
            if not page.next_after or not page.listings:
                break
            after = page.next_after
    finally:
        store.close()
    return listings, hits


def _crawl_site(workspace: Path, name: str, timeout: float) -> tuple[dict[str, Any], float, str]:
    started = time.monotonic()
    proc = _bioleak(workspace, "crawl", name, "--json", "--timeout", str(timeout), timeout=timeout + 120, check=False)
    seconds = time.monotonic() - started
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    try:
        result = json.loads(lines[-1]) if lines else {}
    except ValueError:
        result = {}
    if not result:
        result = {"status": "error", "error": proc.stderr[-1000:]}
    log_text = ""
    log_file = result.get("log")
    if log_file and Path(log_file).exists():
        log_text = Path(log_file).read_text("utf-8", "replace")
    return result, seconds, log_text


def run_crawls(world_dir: Path, workspace: Path, timeout: float, jobs: int, progress: Any) -> Observation:
    truth = json.loads((world_dir / "truth.json").read_text("utf-8"))
    world = World(world_dir, workspace / "access.jsonl").start(max_seconds=int(timeout * len(CRAWLED_SITES) + 600))
    try:
        progress(f"world served: {world.ports}")
        counts = enrol(world_dir, workspace)
        progress("registry enrolled: " + ", ".join(f"{o} {n}" for o, n in sorted(counts.items())))
        names = write_sources(truth, world, workspace / "sources.yaml")
        runs: dict[str, SiteRun] = {}

        def one(site: str, name: str) -> SiteRun:
            result, seconds, log_text = _crawl_site(workspace, name, timeout)
            listings = sum((result.get("listings") or {}).values()) if isinstance(result.get("listings"), dict) else 0
            progress(f"crawled {site}: {result.get('status')} in {seconds:.1f} s, {listings} new listings")
            return SiteRun(site, str(result.get("status", "error")), seconds, listings, result, log_text)

        pairs = list(zip(CRAWLED_SITES, names, strict=True))
        if jobs > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for run in pool.map(lambda p: one(*p), pairs):
                    runs[run.site] = run
        else:
            for site, name in pairs:
                runs[site] = one(site, name)
    finally:
        world.stop()
    listings, hits = _read_store(workspace, world.site_of_port())
    stored_per_site = Counter(s.site for s in listings)
    runs = {s: SiteRun(r.site, r.status, r.seconds, stored_per_site.get(s, 0), r.summary, r.log_text)
            for s, r in runs.items()}  # fmt: skip
    return Observation(_read_requests(world.log), listings, hits, runs)


def served_image_files(world_dir: Path, truth: dict[str, Any]) -> Iterator[tuple[str, Path, str]]:
    """(sha256, file, format) of every distinct image file the world serves from disk."""
    seen: set[str] = set()
    for img in truth["images"]:
        if img["sha256"] in seen:
            continue
        routes = _routes(world_dir, img["site"])
        spec = routes.get(img["url"]) or routes.get(canonical(img["url"])) or {}
        if "file" not in spec:
            continue  # generated at serve time (an oversized stream) or a redirect
        seen.add(img["sha256"])
        yield img["sha256"], world_dir / "site" / img["site"] / spec["file"], str(img.get("format") or "")


def run_images(world_dir: Path, workspace: Path, progress: Any) -> dict[str, Any]:
    truth = json.loads((world_dir / "truth.json").read_text("utf-8"))
    enrol(world_dir, workspace)
    folder = workspace / "images"
    folder.mkdir(parents=True, exist_ok=True)
    by_name: dict[str, str] = {}
    suffix = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}
    for sha, path, fmt in served_image_files(world_dir, truth):
        name = sha[:20] + suffix.get(fmt.upper(), ".jpg")
        shutil.copyfile(path, folder / name)
        by_name[name] = sha
    progress(f"matching {len(by_name)} image files")
    started = time.monotonic()
    proc = _bioleak(workspace, "match", "--json", str(folder), timeout=3600, check=False)
    seconds = time.monotonic() - started
    hits: list[tuple[str, str, str]] = []
    rejected: Counter[str] = Counter()
    for line in proc.stdout.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        sha = by_name.get(Path(row.get("file", "")).name)
        if sha is None:
            continue
        if row.get("status") == "rejected":
            rejected[row.get("reason", "?")] += 1
        for m in row.get("matches") or ():
            hits.append((sha, m["org"], m["ref"]))
    report: dict[str, Any] = {"leaks": score_leaks(truth, hits, (), None)}
    report["images"] = {"files": len(by_name), "seconds": round(seconds, 1), "rejected": dict(rejected),
                        "exit": proc.returncode, "stderr": proc.stderr[-500:] if proc.returncode else ""}  # fmt: skip
    report["goals"] = goals(report)
    return report


# --- output -------------------------------------------------------------------------------------


def _pct(cell: dict[str, int]) -> str:
    return f"{cell['found']}/{cell['of']}"


def render(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if "listings" in report:
        lines.append("== listings found / reachable, per site")
        for site, row in sorted(report["listings"]["per_site"].items()):
            run = report["runs"].get(site, {})
            lines.append(f"  {site}: {row['found']}/{row['reachable']}  duplicates {row['duplicates']}"
                         f"  unreachable stored {row['unreachable_stored']}  run {run.get('status', '-')}"
                         f" {run.get('seconds', 0)} s, {run.get('listings_per_s', 0)} listings/s")  # fmt: skip
            for miss in row["missed"]:
                lines.append(f"      missed {miss}")
        lines.append(f"  stored listings matching no truth listing: {report['listings']['not_in_truth']}")
        for example in report["listings"]["not_in_truth_examples"]:
            lines.append(f"      {example}")
        c = report["categories"]
        lines.append(f"== category accuracy over reachable listings: {c['accuracy']:.1%} ({c['correct']}/{c['total']})")
        for cell, n in c["confusion"].items():
            lines.append(f"  {cell}: {n}")
        for wrong in c["misclassified"]:
            lines.append(f"  wrong: {wrong}")
        e = report["entities"]
        lines.append("== entities (precision / recall / F1)")
        for kind, prf in list(e["per_type"].items()) + [
            (f"  contact:{k}", v) for k, v in e["per_contact_type"].items()
        ]:
            lines.append(f"  {kind}: P {prf['precision']:.1%} R {prf['recall']:.1%} F1 {prf['f1']:.1%}"
                         f"  (tp {prf['tp']}, fp {prf['fp']}, fn {prf['fn']})")  # fmt: skip
        for miss in e["misses"]:
            lines.append(f"  miss: {miss}")
        for fp in e["false_positives"]:
            lines.append(f"  false positive: {fp}")
    leaks = report["leaks"]
    downloaded = "" if leaks["files_downloaded"] is None else f", {leaks['files_downloaded']} downloaded"
    lines.append(
        f"== leaks: {leaks['found']}/{leaks['expected']} (image, org, ref) found, recall {leaks['recall']:.1%};"
        f" {leaks['files']} leak files{downloaded}"
    )
    for group in ("per_site", "per_difficulty", "per_transform"):
        lines.append(f"  {group.replace('_', ' ')}: " + ", ".join(f"{k} {_pct(v)}" for k, v in leaks[group].items()))
    for miss in leaks["missed"]:
        lines.append(f"  missed: {miss}")
    for false in leaks["false_hits"]:
        lines.append(f"  FALSE HIT: {false}")
    if "images" in report:
        i = report["images"]
        lines.append(f"== image files matched: {i['files']} in {i['seconds']} s; rejected {i['rejected']}")
        if i["exit"] not in (0, 1) or i["stderr"]:
            lines.append(f"  `bioleak match` exited {i['exit']}: " + i["stderr"].strip().splitlines()[-1][:300])
    if "safety" in report:
        s = report["safety"]
        lines.append(f"== safety: {s['forbidden']} forbidden of {s['requests']} requests"
                     f" (canary {len(s['canary'])}, robots-disallowed {len(s['robots_disallowed'])},"
                     f" never-fetch {len(s['never_fetch'])})")  # fmt: skip
        for kind in ("canary", "robots_disallowed", "never_fetch"):
            for path in s[kind][:30]:
                lines.append(f"  {kind}: {path}")
        h = report["hostile"]
        lines.append(f"== hostile cases handled as expected: {h['handled']}/{h['total']} {h['outcomes']}")
        for case in h["cases"]:
            mark = "ok " if case["outcome"] == "handled" else "!! "
            lines.append(
                f"  {mark}{case['site']}:{case['url'][:80]} [{case['expected']}] {case['outcome']}: {case['why']}"
            )
    if "runs" in report:
        total = sum(r["seconds"] for r in report["runs"].values())
        stored = sum(r["listings"] for r in report["runs"].values())
        lines.append(
            f"== wall time: {total:.1f} s over {len(report['runs'])} sites, {_ratio(stored, total):.2f} listings/s"
        )
    lines.append("== goals")
    for goal, met, figure in report["goals"]:
        lines.append(f"{'PASS' if met else 'FAIL'}  {goal}: {figure}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("world", type=Path, help="the validation world's directory (with truth.json and serve.py)")
    parser.add_argument("--json", action="store_true", help="print the whole report as one JSON document")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the workspace (store, logs, access log) in DIR")
    parser.add_argument("--images", action="store_true", help="match every served image file instead of crawling")
    parser.add_argument("--jobs", type=int, default=1, help="sites crawled at once (default 1: clean wall times)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per site crawl (default 900)")
    args = parser.parse_args(argv)
    world_dir = args.world.resolve()
    if not (world_dir / "truth.json").exists() or not (world_dir / "serve.py").exists():
        parser.error(f"{world_dir} is not a validation world (no truth.json or serve.py)")
    if args.keep:
        if args.keep.exists() and any(args.keep.iterdir()):
            parser.error(f"--keep {args.keep}: not empty")
        args.keep.mkdir(parents=True, exist_ok=True)
        workspace = args.keep.resolve()
    else:
        workspace = Path(tempfile.mkdtemp(prefix="world-bench-"))
    progress = (lambda _m: None) if args.json else (lambda m: print(f"[world_bench] {m}", file=sys.stderr, flush=True))
    try:
        truth = json.loads((world_dir / "truth.json").read_text("utf-8"))
        if args.images:
            report = run_images(world_dir, workspace, progress)
        else:
            report = score(truth, run_crawls(world_dir, workspace, args.timeout, args.jobs, progress), world_dir)
    finally:
        if not args.keep:
            shutil.rmtree(workspace, ignore_errors=True)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print("\n".join(render(report)))
    return 0 if all(met for _, met, _ in report["goals"]) else 1


if __name__ == "__main__":
    sys.exit(main())
