"""A run is `ok` only when it did its job; Ctrl-C and SIGTERM stop `bioleak crawl` with nothing
left running; a host:port allowance admits that port alone; progress is reported as it happens."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bioleak.config import Config, defaults
from bioleak.crawl import crawl
from bioleak.demo.images import portrait, to_bytes
from bioleak.demo.server import FixtureSite, Page
from bioleak.runner import run_source
from bioleak.runs import RunHistory
from crawlers.sources import Selectors, Source, dump_sources

ROOT = Path(__file__).resolve().parent.parent
PHOTO = Page(to_bytes(portrait(21), "JPEG"), "image/jpeg")


def workspace(tmp_path: Path, *sources: Source, **overrides: object) -> Config:
    config = dataclasses.replace(defaults(tmp_path), **overrides)  # type: ignore[arg-type]
    tmp_path.mkdir(parents=True, exist_ok=True)
    config.sources.write_text(dump_sources(list(sources)), "utf-8")
    return config


def local(name: str, url: str, **fields: object) -> Source:
    return Source(name, (url,), allow_networks=("127.0.0.1/32",), delay=0, **fields)  # type: ignore[arg-type]


def shop() -> dict[str, Page]:
    return {
        "/": Page(b"<html><body><a href='/item/1'>Verified selfie pack one</a></body></html>"),
        "/item/1": Page(b"<html><body><h1>Selfie pack</h1><p>500 photos</p><img src='/p.jpg'></body></html>"),
        "/p.jpg": PHOTO,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_start_url_fails(tmp_path: Path) -> None:
    config = workspace(tmp_path, local("dead", f"http://127.0.0.1:{free_port()}/"))
    result = crawl(config, "dead", timeout=120, settings={"RETRY_TIMES": 0})
    assert result.status == "failed" and result.reason.startswith("start URL unreachable (connection_refused")


def test_a_start_url_answering_404_fails(tmp_path: Path) -> None:
    with FixtureSite({}) as site:
        config = workspace(tmp_path, local("gone", site.url + "/forum"))
        result = crawl(config, "gone", timeout=120)
    assert result.status == "failed" and "http_404" in result.reason


def test_a_selector_that_matches_nothing_degrades_the_run(tmp_path: Path) -> None:
    with FixtureSite(shop()) as site:
        source = local("moved", site.url + "/", selectors=Selectors(listing_links="a.product-link::attr(href)"))
        result = crawl(workspace(tmp_path, source), "moved", timeout=120)
    assert (result.status, result.reason) == ("degraded", "selector matched nothing: listing_links")


def test_a_source_without_listings_is_degraded(tmp_path: Path) -> None:
    with FixtureSite({"/": Page(b"<html><body><p>Under maintenance</p></body></html>")}) as site:
        result = crawl(workspace(tmp_path, local("empty", site.url + "/")), "empty", timeout=120)
    assert (result.status, result.reason) == ("degraded", "no listings found")


def test_degraded_runs_count_towards_the_operator_alert(tmp_path: Path) -> None:
    with FixtureSite({"/": Page(b"<html><body>nothing</body></html>")}) as site:
        config = workspace(tmp_path, local("empty", site.url + "/"), failure_alert_after=2,
                           operator_email="ops@bioleak.example")  # fmt: skip
        outcomes = [run_source(config, "empty") for _ in range(2)]
    assert [o.run.status for o in outcomes] == ["degraded", "degraded"]
    assert outcomes[0].run.detail == "no listings found"
    notices = list(config.outbox.glob("*.eml"))
    assert len(notices) == 1 and "empty" in notices[0].read_text("utf-8")


def test_a_healthy_run_is_ok_and_reports_progress(tmp_path: Path) -> None:
    seen: list[dict[str, int]] = []
    with FixtureSite(shop()) as site:
        result = crawl(workspace(tmp_path, local("fine", site.url + "/")), "fine", timeout=120, progress=seen.append)
    assert result.ok, result
    assert seen and seen[-1]["pages"] == 2 and seen[-1]["listings"] == 1 and seen[-1]["images"] == 1
    assert not list(tmp_path.rglob("*.progress.json"))  # the live file is gone with the crawl


def test_a_host_port_allowance_refuses_another_port_on_the_same_address(tmp_path: Path) -> None:
    with FixtureSite({}) as other, FixtureSite({}) as site:
        other.pages.update(shop())
        site.pages.update({
            "/": Page(f"<html><body><a href='/item/1'>Verified selfie pack one</a>"
                      f"<a href='{other.url}/item/1'>Elsewhere: selfie pack two</a></body></html>".encode()),
            "/item/1": Page(f"<html><body><h1>Pack</h1><p>photos</p><img src='/p.jpg'><img src='{other.url}/p.jpg'>"
                            "</body></html>".encode()),
            "/p.jpg": PHOTO,
        })  # fmt: skip
        own = site.url.removeprefix("http://")
        source = Source("one-port", (site.url + "/",), allow_networks=(own,), delay=0)
        result = crawl(workspace(tmp_path, source), "one-port", timeout=120)
        assert other.access_log == []
    assert result.ok, result
    assert result.stats["bioleak/refused/private_address"] >= 1  # the image on the other port
    assert result.stats["bioleak/images/hashed"] == 1


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_stopping_bioleak_crawl_stops_its_crawl_and_records_it(tmp_path: Path, how: signal.Signals) -> None:
    pages = shop() | {"/item/1": Page(b"", hang=True)}  # the crawl is stuck until it is stopped
    with FixtureSite(pages) as site:
        config = workspace(tmp_path, local("stuck", site.url + "/"))
        cli = subprocess.Popen(
            [sys.executable, "-m", "bioleak.cli", "--data-dir", str(tmp_path), "crawl", "stuck"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        try:
            wait_until("the crawl to reach the stuck page", lambda: "/item/1" in site.access_log)
            assert processes_mentioning(f"BIOLEAK_SOURCES={config.sources}")  # the crawl is running
            second = run_source(config, "stuck")  # no second crawl of the source beside it
            assert second.result is None and second.run.status == "skipped"
            os.kill(cli.pid, how)  # what Ctrl-C (or a service manager) sends the command
            assert cli.wait(timeout=60) == 130
        finally:
            if cli.poll() is None:
                cli.kill()
    wait_until("nothing left of the crawl", lambda: not processes_mentioning(str(tmp_path)), timeout=10)
    history = RunHistory(config.data_dir / "runs.sqlite3")
    try:
        runs = history.runs("stuck")
    finally:
        history.close()
    assert [r.status for r in runs] == ["skipped", "terminated"]
    assert "stopped before it finished" in runs[1].detail
