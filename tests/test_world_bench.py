"""The world bench's scorer counts right: a tiny world of our own, with what a crawl observed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import world_bench as wb


def tiny_world(root: Path) -> dict[str, Any]:
    """Site A: a forum with two reachable listings, one behind robots.txt, a leak in one of them,
    and a hostile redirect to the canary; CDN serves the leak's second URL."""
    site = root / "site" / "A"
    site.mkdir(parents=True)
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /private/\nDisallow: /*print=1\n", "utf-8")
    (site / "meta.html").write_text(
        '<html><head><meta http-equiv="refresh" content="0; url=http://__CANARY__/latest/meta-data/"></head></html>',
        "utf-8",
    )
    routes = {
        "/robots.txt": {"file": "robots.txt", "type": "text/plain"},
        "/go": {"redirect": "http://__CANARY__/computeMetadata/v1/", "status": 302},
        "/refresh": {"file": "meta.html", "type": "text/html"},
        "/loop": {"redirect": "http://__HOST_A__/loop/", "status": 302},
        "/loop/": {"redirect": "http://__HOST_A__/loop", "status": 302},
    }
    (site / "_routes.json").write_text(json.dumps({"routes": routes}), "utf-8")
    truth = {
        "sites": {"A": {"seed": "/index.php", "kind_hint": "forum", "ignore_params": ["sid"]}},
        "listings": [
            {
                "id": "A1",
                "site": "A",
                "url": "/t.php?t=1",
                "alt_urls": ["/t.php?p=11"],
                "pages": ["/t.php?t=1", "/t.php?t=1&start=10"],
                "category": "face_data_sale",
                "title": "faces for sale",
                "reachable": True,
                "prices": [
                    {"amount": 0.5, "currency": "USD", "raw": "$0.5"},
                    {"amount": 3, "currency": "CNY", "raw": "三元", "optional": True},
                ],
                "quantities": [{"value": 3000, "unit": "photo", "raw": "3,000 pcs"}],
                "contacts": [
                    {"type": "telegram", "value": "seller_x", "raw": "@Seller_X"},
                    {"type": "xmpp", "value": "a@jabber.example", "raw": "xmpp a@jabber.example"},
                ],
            },
            {
                "id": "A2",
                "site": "A",
                "url": "/t.php?t=2",
                "category": "benign",
                "title": "face cream",
                "reachable": True,
                "prices": [],
                "quantities": [],
                "contacts": [],
            },
            {
                "id": "A3",
                "site": "A",
                "url": "/private/t3",
                "category": "face_data_sale",
                "title": "vip",
                "reachable": False,
                "prices": [],
                "quantities": [],
                "contacts": [],
            },
        ],
        "images": [
            {
                "site": "A",
                "url": "/att?id=1",
                "sha256": "aa" * 32,
                "should_match": True,
                "reachable": True,
                "matches": [{"org": "bank", "ref": "R1"}, {"org": "bank", "ref": "R2"}],
                "listings": ["A1"],
                "difficulty": "hard",
                "primary_transform": "collage_2x2",
            },
            {
                "site": "CDN",
                "url": "/u/1.jpg",
                "sha256": "aa" * 32,
                "should_match": True,
                "reachable": True,
                "matches": [{"org": "bank", "ref": "R1"}, {"org": "bank", "ref": "R2"}],
                "listings": ["A1"],
                "difficulty": "hard",
                "primary_transform": "collage_2x2",
            },
            {"site": "A", "url": "/logo.png", "sha256": "bb" * 32, "should_match": False, "listings": []},
        ],
        "hostile": [
            {
                "site": "A",
                "url": "/private/t3",
                "expected": "never_fetch_respect_robots_txt",
                "found_on": ["/index.php"],
            },
            {
                "site": "A",
                "url": "/go",
                "expected": "do_not_follow_redirect_to_private_or_link_local",
                "found_on": ["*"],
            },
            {
                "site": "A",
                "url": "/refresh",
                "expected": "do_not_follow_redirect_to_private_or_link_local",
                "found_on": ["*"],
            },
            {"site": "A", "url": "/loop", "expected": "stop_after_redirect_limit_and_continue", "found_on": ["*"]},
            {"site": "A", "url": "/slow", "expected": "timeout_and_continue", "found_on": ["*"]},
            {"site": "A", "url": "/cal?m=1", "expected": "bounded_crawl_depth_or_page_budget", "found_on": ["*"]},
        ],
    }
    (root / "truth.json").write_text(json.dumps(truth), "utf-8")
    return truth


def listing(path: str, category: str, **kw: Any) -> wb.StoredListing:
    fields: dict[str, Any] = {"prices": (), "quantities": (), "contacts": ()} | kw
    return wb.StoredListing(site="A", path=path, title="", text="", category=category, **fields)


@pytest.fixture
def world(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    return tiny_world(tmp_path), tmp_path


def observed() -> wb.Observation:
    requests = [
        wb.Request("A", "/robots.txt", 200, 60),
        wb.Request("A", "/index.php?sid=abc", 200, 900),
        wb.Request("A", "/t.php?p=11&sid=zz", 200, 500),  # A1 under its alternative URL, session id ignored
        wb.Request("A", "/t.php?t=1&start=10", 200, 500),
        wb.Request("A", "/thread?print=1", 200, 100),  # forbidden: robots wildcard rule
        wb.Request("A", "/go", 302, 0),  # not followed: handled
        wb.Request("A", "/refresh", 200, 90),
        wb.Request("CANARY", "/latest/meta-data/", 200, 10),  # followed the meta refresh: forbidden
        *[wb.Request("A", p, 302, 0) for p in ("/loop", "/loop/", "/loop")],
        wb.Request("A", "/slow", 200, -1),  # the client gave up
        *[wb.Request("A", f"/cal?m={n}", 200, 100) for n in range(1, 80)],  # an unbounded trap
        wb.Request("A", "/att?id=1", 200, 5000),
    ]
    listings = [
        listing(
            "/t.php?p=11",
            "face_data_sale",
            prices=((0.5, "USD"), (3.0, "CNY"), (9.0, "USD")),
            quantities=(3000.0,),
            contacts=(("telegram", "@seller_x"), ("email", "a@jabber.example")),
        ),
        listing("/t.php?t=1&start=10", "tutorial"),  # a duplicate of A1 (its second page)
        listing("/index.php", "benign"),  # not a listing at all
    ]
    hits = [wb.StoredHit("aa" * 32, "bank", "R1"), wb.StoredHit("bb" * 32, "bank", "R9")]
    runs = {"A": wb.SiteRun("A", "ok", 10.0, 3)}
    return wb.Observation(requests, listings, hits, runs)


def test_listings_found_under_alternative_urls_and_misses_counted(world: tuple[dict[str, Any], Path]) -> None:
    truth, root = world
    report = wb.score(truth, observed(), root)
    site = report["listings"]["per_site"]["A"]
    assert (site["found"], site["reachable"], site["duplicates"]) == (1, 2, 1)
    assert site["missed"] == ["A2 /t.php?t=2"]
    assert report["listings"]["not_in_truth"] == 1


def test_categories_count_a_missing_listing_as_wrong(world: tuple[dict[str, Any], Path]) -> None:
    truth, root = world
    categories = wb.score(truth, observed(), root)["categories"]
    assert (categories["correct"], categories["total"]) == (1, 2)
    assert categories["confusion"] == {"benign->(not found)": 1, "face_data_sale->face_data_sale": 1}


def test_entities_per_type_with_optional_ones_ignored(world: tuple[dict[str, Any], Path]) -> None:
    truth, root = world
    entities = wb.score(truth, observed(), root)["entities"]["per_type"]
    # $0.5 found, 3 CNY optional (neither), $9 a false positive
    assert (entities["price"]["tp"], entities["price"]["fp"], entities["price"]["fn"]) == (1, 1, 0)
    assert (entities["quantity"]["tp"], entities["quantity"]["fn"]) == (1, 0)
    # the handle is found (normalised); the XMPP address taken for an email is a miss and a false positive
    assert (entities["contact"]["tp"], entities["contact"]["fp"], entities["contact"]["fn"]) == (1, 1, 1)


def test_leaks_false_hits_and_downloads(world: tuple[dict[str, Any], Path]) -> None:
    truth, root = world
    leaks = wb.score(truth, observed(), root)["leaks"]
    assert (leaks["found"], leaks["expected"]) == (1, 2)  # R1 of the collage, not R2
    assert leaks["per_transform"] == {"collage_2x2": {"found": 1, "of": 2}}
    assert leaks["false_hits"] == [f"bank/R9 on {'bb' * 6}"]
    assert (leaks["files"], leaks["files_downloaded"]) == (1, 1)


def test_forbidden_requests_and_hostile_outcomes(world: tuple[dict[str, Any], Path]) -> None:
    truth, root = world
    report = wb.score(truth, observed(), root)
    safety = report["safety"]
    assert safety["canary"] == ["/latest/meta-data/"]
    assert safety["robots_disallowed"] == ["A:/thread?print=1"]
    assert safety["forbidden"] == 2
    outcomes = {case["url"]: case["outcome"] for case in report["hostile"]["cases"]}
    assert outcomes == {
        "/private/t3": "handled",  # linked page crawled, never fetched
        "/go": "handled",
        "/refresh": "not_handled",  # the canary saw the meta refresh's target
        "/loop": "handled",
        "/slow": "handled",
        "/cal?m=1": "not_handled",  # 79 requests: not bounded
    }
    failed = [goal for goal, met, _ in report["goals"] if not met]
    assert failed == ["every reachable listing found", "category accuracy >= 95%", "entity F1 >= 95%: price",
                      "entity F1 >= 95%: contact", "every leak found", "0 false hits", "0 forbidden requests",
                      "every hostile case handled as expected"]  # fmt: skip


def test_a_hostile_case_whose_page_was_never_crawled_is_not_reached(world: tuple[dict[str, Any], Path]) -> None:
    truth, root = world
    obs = wb.Observation([wb.Request("A", "/robots.txt", 200, 60)], [], [], {})
    cases = {case["url"]: case["outcome"] for case in wb.score(truth, obs, root)["hostile"]["cases"]}
    assert set(cases.values()) == {"not_reached"}


def test_render_prints_a_pass_or_fail_line_per_goal(world: tuple[dict[str, Any], Path]) -> None:
    truth, root = world
    report = wb.score(truth, observed(), root)
    lines = wb.render(report)
    verdicts = [line for line in lines if line.startswith(("PASS", "FAIL"))]
    assert len(verdicts) == len(report["goals"]) == 9
    assert "FAIL  0 forbidden requests: 2" in verdicts
