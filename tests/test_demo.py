"""`bioleak demo` end to end, checked against the demo's own truth (not against its summary)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bioleak.demo import market
from bioleak.demo.run import DemoError, DemoSummary, run_demo


def expected_refs() -> dict[str, list[str]]:
    refs: dict[str, set[str]] = {org: set() for org in market.ORGS}
    for matches in market.expected_matches().values():
        for org, ref in matches:
            refs[org].add(ref)
    return {org: sorted(r) for org, r in refs.items()}


def assert_matches_truth(summary: DemoSummary) -> None:
    assert summary.crawl_failures == []
    assert summary.listings == market.expected_categories()
    assert summary.listings == {"benign": 4, "face_data_sale": 4, "over_face_tool": 2, "tutorial": 2}
    assert summary.matches == expected_refs()
    assert all(summary.matches.values()), "both demo organisations must have matches"
    assert summary.alerts_received == {"acme-bank": 1, "pixelpay": 1}
    assert summary.alerts_sent == {"acme-bank": 1, "pixelpay": 1}
    assert len(summary.eml_files) == 2
    # the hostile bits of the demo were skipped and counted, not crashed on
    assert summary.image_skips == {"not_an_image": 1, "refused": 1}
    assert summary.refused_requests == 1
    assert summary.truth_errors == [] and summary.ok


def test_demo_end_to_end_on_the_embedded_store(tmp_path: Path) -> None:
    summary = run_demo(str(tmp_path / "ws"), progress=lambda _m: None)
    assert_matches_truth(summary)
    assert (tmp_path / "ws" / "bioleak.sqlite3").exists()
    # privacy: the workspace keeps no scraped image files
    assert not [p for p in (tmp_path / "ws").rglob("*") if p.suffix in (".jpg", ".jpeg") and "originals" not in p.parts]


def test_demo_end_to_end_on_elasticsearch(tmp_path: Path, es_url: str) -> None:
    summary = run_demo(str(tmp_path / "ws"), store_url=es_url, es_prefix="bioleak-demo-test", progress=lambda _m: None)
    assert_matches_truth(summary)


def test_demo_refuses_to_wipe_a_directory_it_did_not_create(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("do not delete")
    with pytest.raises(DemoError, match="not a demo workspace"):
        run_demo(str(tmp_path), progress=lambda _m: None)
    assert (tmp_path / "precious.txt").exists()


def test_demo_can_run_twice_in_the_same_workspace(tmp_path: Path) -> None:
    run_demo(str(tmp_path / "ws"), progress=lambda _m: None)
    again = run_demo(str(tmp_path / "ws"), progress=lambda _m: None)
    assert again.ok, (again.truth_errors, again.crawl_failures)
