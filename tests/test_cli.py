"""The `bioleak` command line, as a user runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from bioleak.cli import build_parser, main
from bioleak.demo.images import portrait, to_bytes
from bioleak.demo.run import run_demo
from bioleak.output import safe_text

COMMANDS = [
    [], ["demo"], ["search"], ["show"], ["triage"], ["crawl"], ["hash"], ["match"], ["registry"], ["registry", "add"],
    ["registry", "import"], ["registry", "export"], ["registry", "list"], ["registry", "remove"], ["registry", "stats"],
    ["org"], ["org", "add"], ["org", "list"], ["org", "show"], ["org", "remove"], ["alerts"], ["alerts", "run"], ["alerts", "preview"], ["alerts", "status"],
    ["sources"], ["sources", "list"], ["sources", "check"], ["schedule"], ["runs"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) or "bioleak" for c in COMMANDS])
def test_every_help_explains_with_an_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: bioleak" in out
    if command not in (["registry"], ["org"], ["alerts"], ["sources"]):
        assert "example" in out.lower()


def test_every_command_is_covered_by_the_help_test() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {c[0] for c in COMMANDS if c} == set(sub.choices)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "demo"
    assert run_demo(str(path), progress=lambda _m: None).ok
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_search_table_and_json(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--data-dir", str(workspace), "search", "人脸", "--matched")
    assert code == 0 and out.startswith("2 listing(s)") and "acme-bank" in out
    code, out, _ = run(capsys, "--data-dir", str(workspace), "search", "--category", "face_data_sale", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 4 and all(r["category"] == "face_data_sale" for r in rows)
    assert sum(len(r["hits"]) for r in rows) == 7
    code, out, _ = run(capsys, "--data-dir", str(workspace), "search", "--org", "pixelpay", "--json")
    assert {h["org"] for r in map(json.loads, out.splitlines()) for h in r["hits"]} >= {"pixelpay"}


def test_show_by_prefix(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--data-dir", str(workspace), "search", "selfie", "packs", "--json")
    [row] = [json.loads(line) for line in out.splitlines()]
    listing_id = row["id"]
    code, out, _ = run(capsys, "--data-dir", str(workspace), "show", listing_id[:12])
    assert code == 0 and listing_id in out
    assert re.search(r"HIT [0-9a-f]{12} pixelpay/pix-c99 ", out) and re.search(
        r"HIT [0-9a-f]{12} acme-bank/acme-0004", out
    )
    assert "thumbnail kept" in out  # the demo's crawl kept one of each matched image
    assert "evidence: " in out and re.search(r"weighed most: .+ \+\d\.\d\d", out)  # what the model read
    saved = workspace.parent / "evidence"
    code, out, _ = run(capsys, "--data-dir", str(workspace), "show", listing_id[:12], "--json",
                       "--save-thumbnails", str(saved))  # fmt: skip
    shown = json.loads(out)
    files = {h["thumbnail_file"] for h in shown["hits"]}
    assert code == 0 and files and None not in files
    assert shown["explain"] and all(isinstance(e["weight"], float) for e in shown["explain"])
    assert all(Image.open(f).format == "JPEG" for f in files)
    code, _, err = run(capsys, "--data-dir", str(workspace), "show", "ffffffffffff")
    assert code == 2 and "no listing" in err
    code, _, err = run(capsys, "--data-dir", str(workspace), "show", "")
    assert code == 2 and "ambiguous" in err


def test_search_for_listings_to_review(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--data-dir", str(workspace), "search", "--needs-review", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and all(r["needs_review"] for r in rows)
    code, out, _ = run(capsys, "--data-dir", str(workspace), "search", "--limit", "100", "--json")
    everything = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == sum(r["needs_review"] for r in everything)


def test_search_filters_aggregations_and_cursor(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(workspace)]
    code, out, _ = run(capsys, *data, "search", "--limit", "3", "--agg", "site", "--agg", "org")
    assert code == 0 and "by site: " in out and "by org: acme-bank " in out
    cursor = re.search(r"next page: --after (\S+)", out)
    assert cursor is not None
    first = [line.split()[0] for line in out.splitlines()[1:4]]
    code, out, _ = run(capsys, *data, "search", "--limit", "3", "--after", cursor.group(1), "--json")
    second = [json.loads(line)["id"][:12] for line in out.splitlines()]
    assert code == 0 and len(second) == 3 and not set(first) & set(second)
    code, out, _ = run(
        capsys, *data, "search", "category:face_data_sale OR category:tutorial", "--json", "--agg", "day"
    )
    *rows, summary = [json.loads(line) for line in out.splitlines()]
    assert {r["category"] for r in rows} <= {"face_data_sale", "tutorial"} and summary["total"] == len(rows)
    assert summary["aggregations"]["day"] and summary["aggregations"]["category"]
    code, _, err = run(capsys, *data, "search", "category:selling")
    assert code == 2 and "category:selling is not one of" in err
    code, _, err = run(capsys, *data, "search", "--since", "yesterday")
    assert code == 2 and "not an ISO 8601" in err
    code, _, err = run(capsys, *data, "search", "--after", "not-a-cursor")
    assert code == 2 and "not a cursor from a previous page" in err


def test_triage_by_hit_prefix_is_kept_and_shown(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(workspace)]
    _, out, _ = run(capsys, *data, "search", "--org", "pixelpay", "--json")
    hit = next(h for row in map(json.loads, out.splitlines()) for h in row["hits"] if h["org"] == "pixelpay")
    code, out, _ = run(capsys, *data, "triage", hit["id"][:12], "--status", "false_positive", "--note", "stock photo",
                       "--who", "ana")  # fmt: skip
    assert code == 0 and f"{hit['id'][:12]} pixelpay/" in out and "new -> false_positive" in out
    code, out, _ = run(capsys, *data, "search", "--triage", "false_positive", "--json")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [hit["listing_id"]]
    code, out, _ = run(capsys, *data, "show", hit["listing_id"][:12])
    assert "[false_positive, alert" in out and "false_positive by ana: stock photo" in out
    code, _, err = run(capsys, *data, "triage", "ffffffffffff", "--status", "confirmed")
    assert code == 2 and "no hit or listing" in err
    run(capsys, *data, "triage", hit["id"], "--status", "confirmed", "--note", "second look")  # back for other tests


def test_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--data-dir", str(tmp_path / "nothing"), "search", "x")
    assert code == 2 and "no store" in err
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "crawl", "nope")
    assert code == 2 and "no such sources file" in err
    code, _, err = run(
        capsys, "--data-dir", str(tmp_path), "registry", "add", "--org", "acme", str(tmp_path / "missing")
    )
    assert code == 2 and "no such file" in err
    (tmp_path / "x.png").write_bytes(to_bytes(portrait(1), "PNG"))
    code, _, err = run(
        capsys, "--data-dir", str(tmp_path), "registry", "add", "--org", "bad org", str(tmp_path / "x.png")
    )
    assert code == 2 and "invalid organisation name 'bad org'" in err
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "org", "add", "bad name", "--email", "a@b.example")
    assert code == 2 and "invalid organisation" in err
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "schedule", "--reload")
    assert code == 2 and "no scheduler is running" in err
    (tmp_path / "scheduler.pid").write_text("not a pid\n")  # left by a crash, or garbage
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "schedule", "--reload")
    assert code == 2 and "no scheduler is running" in err
    code, out, _ = run(capsys, "--data-dir", str(tmp_path), "runs")
    assert code == 0 and "no runs yet" in out
    (tmp_path / "bioleak.toml").write_text("crawl_timeout = -5\n")
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "runs")
    assert code == 2 and "crawl_timeout must be more than 0" in err
    (tmp_path / "bioleak.toml").write_text('colour = "red"\n')
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "org", "list")
    assert code == 2 and "unknown key" in err and "colour" in err
    (tmp_path / "bioleak.toml").write_text('attach_thumbnails = "yes"\n')
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "org", "list")
    assert code == 2 and "attach_thumbnails must be true or false" in err


def test_org_and_alerts_without_smtp_go_to_the_outbox(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--data-dir", str(workspace), "org", "list", "--json")
    assert code == 0 and [json.loads(line)["name"] for line in out.splitlines()] == ["acme-bank", "pixelpay"]
    code, out, _ = run(capsys, "--data-dir", str(workspace), "alerts", "run", "--once")
    assert code == 0 and out.strip() == "nothing pending"  # the demo already alerted everything


def test_terminal_output_strips_control_characters() -> None:
    assert safe_text("evil\x1b]0;pwned\x07title\u202e") == "evil ]0;pwned title "
    assert safe_text("x" * 10, 5) == "xxxx…"


SOURCES_YAML = """\
sources:
  - name: forum
    start_urls: ["http://127.0.0.1:9/forum.php"]
    allow_networks: ["127.0.0.1/32"]
    robots: ignore
  - name: chan
    kind: telegram
    start_urls: ["https://t.me/s/leakchan"]
    schedule: every 6h
"""


def test_sources_list_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sources.yaml").write_text(SOURCES_YAML)
    code, out, _ = run(capsys, "--data-dir", str(tmp_path), "sources", "list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(r["name"], r["kind"]) for r in rows] == [("forum", "listing"), ("chan", "telegram")]
    assert rows[1]["schedule"] == "every 6h"
    code, out, _ = run(capsys, "--data-dir", str(tmp_path), "sources", "check")
    assert code == 0 and "2 source(s), valid" in out
    assert "robots.txt is ignored" in out and "non-public networks: 127.0.0.1/32" in out
    code, out, _ = run(capsys, "--data-dir", str(tmp_path), "sources", "check", "--resolve", "--json")
    report = json.loads(out)
    assert report["ok"] and not any("refused" in w for w in report["sources"][0]["warnings"])


def test_sources_check_names_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sources.yaml").write_text(SOURCES_YAML.replace("every 6h", "every blue moon"))
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "sources", "check")
    assert code == 2
    assert f"{tmp_path / 'sources.yaml'}:9: sources[1] (chan).schedule:" in err and "cron" in err


def test_org_add_with_webhook_and_distance_never_prints_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path)]
    code, _, err = run(capsys, *data, "org", "add", "hookbank", "--webhook", "https://h.example/x")
    assert code == 2 and "--secret" in err
    code, _, err = run(capsys, *data, "org", "add", "hookbank")
    assert code == 2 and "--email, --webhook or both" in err
    code, out, _ = run(capsys, *data, "org", "add", "hookbank", "--webhook", "https://h.example/x",
                       "--secret", "top-s3cret", "--max-distance", "5")  # fmt: skip
    assert code == 0 and "webhook https://h.example/x (matches within 5 bits)" in out
    code, out, _ = run(capsys, *data, "org", "list", "--json")
    [row] = [json.loads(line) for line in out.splitlines()]
    assert row["webhook_secret"] == "***" and row["max_distance"] == 5 and "top-s3cret" not in out
    code, out, _ = run(capsys, *data, "org", "show", "hookbank")
    assert code == 0 and "matches: pending 0" in out and "top-s3cret" not in out
    code, out, _ = run(capsys, *data, "org", "remove", "hookbank")
    assert code == 0 and "removed" in out
    code, _, err = run(capsys, *data, "org", "show", "hookbank")
    assert code == 2 and "no organisation" in err


def test_alerts_preview_shows_what_would_be_sent_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from indexer.sqlite_store import SqliteStore
    from pipeline.models import Organisation
    from tests.factories import make_hit, make_listing

    store = SqliteStore(tmp_path / "bioleak.sqlite3")
    listing = make_listing(3, title="<script>alert(1)</script> 人脸 packs")
    store.upsert_org(Organisation("acme-bank", ("soc@acme.example",)))
    store.upsert_listings([listing])
    hit = make_hit(listing, "acme-bank", "acme-3")
    store.upsert_hits([hit])
    store.put_thumbnails({hit.image_sha256: to_bytes(portrait(3).resize((120, 160)), "JPEG")})
    store.close()
    data = ["--data-dir", str(tmp_path)]
    code, out, _ = run(capsys, *data, "alerts", "preview", "acme-bank")
    assert code == 0 and "To: soc@acme.example" in out and "Your ref: acme-3" in out
    assert "Attachments: none" in out and "No leaked image is attached" in out
    code, out, _ = run(capsys, *data, "alerts", "preview", "acme-bank", "--attach-thumbnails")
    assert code == 0 and f"Attachments: evidence-{hit.image_sha256[:16]}.jpg" in out
    code, out, _ = run(capsys, *data, "alerts", "preview", "acme-bank", "--html")
    assert code == 0 and "&lt;script&gt;" in out and "<script>" not in out
    code, _, err = run(capsys, *data, "alerts", "preview", "nobody")
    assert code == 2 and "no organisation" in err
    store = SqliteStore(tmp_path / "bioleak.sqlite3")
    assert [h.alert_state for h in store.hits_for_org("acme-bank")] == ["pending"]  # nothing claimed or sent
    store.close()
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").glob("*.eml"))


def test_alerts_run_keeps_dispatching_until_sigterm(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    from indexer.sqlite_store import SqliteStore
    from pipeline.models import Organisation
    from tests.factories import make_hit, make_listing

    store = SqliteStore(tmp_path / "bioleak.sqlite3")
    store.upsert_org(Organisation("acme-bank", ("soc@acme.example",)))
    first = make_listing(1)
    store.upsert_listings([first])
    store.upsert_hits([make_hit(first, "acme-bank", "acme-1")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "bioleak.cli", "--data-dir", str(tmp_path), "alerts", "run", "--interval", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    try:

        def sent() -> list[str]:
            return [h.alert_state for h in store.hits_for_org("acme-bank")]

        deadline = time.monotonic() + 60
        while sent() != ["sent"]:  # poll: the first pass alerts the first hit
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        later = make_listing(2)  # found by a crawl while the dispatcher runs
        store.upsert_listings([later])
        store.upsert_hits([make_hit(later, "acme-bank", "acme-2")])
        while sent() != ["sent", "sent"]:  # a later pass picks it up without a restart
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        store.close()
    assert proc.returncode == 0, err
    assert out.count("acme-bank: 1 hit(s) alerted") == 2 and "SIGTERM stops" in err
