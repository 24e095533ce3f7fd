"""The real scheduler (APScheduler 3, SQLite job store) running real `scrapy crawl` subprocesses
against fixture sites on 127.0.0.1, on intervals of a second. Every wait is a poll with a timeout."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bioleak.config import Config, defaults
from bioleak.demo.images import portrait, to_bytes
from bioleak.demo.server import FixtureSite, Page
from bioleak.demo.smtp import LoopbackSmtpServer, free_port
from bioleak.runner import run_source
from bioleak.runs import Health, Run, RunHistory
from bioleak.scheduler import Scheduler, SchedulerError, crontab_weekdays, trigger_for
from crawlers.sources import Selectors, Source, dump_sources
from indexer.sqlite_store import SqliteStore
from pipeline.models import Organisation
from pipeline.registry import SqliteRegistry, entry_for_image

SELECTORS = Selectors(listing_links="a.item::attr(href)", title="h1::text", text="div.content ::text",
                      images="img::attr(src)")  # fmt: skip
ROOT = Path(__file__).resolve().parent.parent


def wait_for(what: str, check: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def site_pages(*, hang: bool = False) -> dict[str, Page]:
    return {
        "/": Page(b"<html><body><a class='item' href='/l/1'>1</a></body></html>"),
        # hang: the listing page never finishes (until the site stops), so the crawl keeps running
        "/l/1": Page(
            "<html><body><h1>人脸数据 出售</h1><div class='content'>0.2元/张</div>"
            "<img src='/img/1.jpg'></body></html>".encode(),
            hang=hang,
        ),
        "/img/1.jpg": Page(to_bytes(portrait(42), "JPEG", quality=85), "image/jpeg"),
    }


def source(site: FixtureSite, name: str = "market", schedule: str = "every 1s") -> Source:
    return Source(name, (site.url + "/",), allowed_domains=("127.0.0.1",), allow_networks=("127.0.0.1/32",),
                  selectors=SELECTORS, delay=0, schedule=schedule)  # fmt: skip


def workspace(tmp_path: Path, *sources: Source, **overrides: object) -> Config:
    config = dataclasses.replace(
        defaults(tmp_path), **{"alert_interval": 3600, "min_schedule_interval": 1, **overrides}
    )  # type: ignore[arg-type]
    tmp_path.mkdir(parents=True, exist_ok=True)
    config.sources.write_text(dump_sources(list(sources)), "utf-8")
    registry = SqliteRegistry(config.registry)
    registry.add([entry_for_image("acme-bank", "cust-42", to_bytes(portrait(42), "PNG"))])
    registry.close()
    return config


def runs(config: Config, source: str | None = None) -> list[Run]:
    path = config.data_dir / "runs.sqlite3"
    if not path.exists():
        return []
    history = RunHistory(path)
    try:
        return list(reversed(history.runs(source, limit=1000)))  # oldest first
    finally:
        history.close()


def statuses(config: Config, source: str | None = None) -> list[str]:
    return [r.status for r in runs(config, source)]


@pytest.fixture
def running() -> Iterator[list[Scheduler]]:
    """Schedulers a test starts are stopped even when it fails."""
    started: list[Scheduler] = []
    yield started
    for scheduler in started:
        scheduler.stop(timeout=0)


def start(started: list[Scheduler], config: Config) -> Scheduler:
    scheduler = Scheduler(config)
    scheduler.start()
    started.append(scheduler)
    return scheduler


def test_sources_run_on_schedule_alerts_go_out_and_new_registry_entries_are_used(
    tmp_path: Path, running: list[Scheduler], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bioleak")
    pages = site_pages()
    pages["/l/1"] = Page(pages["/l/1"].body.replace(b"</body>", b"<img src='/img/7.jpg'></body>"))
    pages["/img/7.jpg"] = Page(to_bytes(portrait(7), "JPEG", quality=85), "image/jpeg")
    with FixtureSite(pages) as site, LoopbackSmtpServer() as smtp:
        config = workspace(tmp_path, source(site, schedule="every 2s"), source(site, "by-hand", schedule=""),
                           alert_interval=1, smtp_url=smtp.url)  # fmt: skip
        store = SqliteStore(config.store)
        store.upsert_org(Organisation("acme-bank", ("soc@acme.example",)))
        store.close()
        scheduler = Scheduler(config, registry_check=0.5)
        scheduler.start()
        running.append(scheduler)
        assert set(scheduler.next_runs()) == {"crawl:market", "alerts", "registry"}  # no schedule: no job
        wait_for("two successful runs", lambda: statuses(config, "market").count("ok") >= 2)
        wait_for("the alert for the first hit", lambda: len(smtp.received) == 1)

        registry = SqliteRegistry(config.registry)  # enrolled while the scheduler runs
        registry.add([entry_for_image("acme-bank", "cust-7", to_bytes(portrait(7), "PNG"))])
        registry.close()
        wait_for("a run matching the new entry", lambda: any(r.hits == 2 for r in runs(config, "market")))
        wait_for("the alert for it", lambda: len(smtp.received) == 2)
        scheduler.stop()
        alerts = [r.message.get_body(("plain",)).get_content() for r in smtp.received]  # type: ignore[union-attr]
    done = [r for r in runs(config, "market") if r.status == "ok"]
    assert all(r.trigger == "schedule" and r.pages >= 2 and r.finished >= r.started for r in done)
    assert done[0].listings == 1 and done[0].hits == 1  # the first crawl found and matched the listing
    assert done[1].listings == 0  # the second saw it unchanged
    assert all(Path(r.log_file).exists() for r in done)
    assert len({r.log_file for r in done}) == len(done)  # a log file per run
    assert "cust-42" in alerts[0] and "cust-7" in alerts[1] and "cust-42" not in alerts[1]
    assert "registry changed: 2 entries (was 1)" in caplog.text


def test_a_run_missed_beyond_the_grace_time_is_recorded_and_the_next_one_runs(
    tmp_path: Path, running: list[Scheduler]
) -> None:
    with FixtureSite(site_pages()) as site:
        config = workspace(tmp_path, source(site, schedule="every 3s"), misfire_grace=1)
        first = start(running, config)
        due = first.next_runs()["crawl:market"]
        assert due is not None
        first.stop()  # down while the run falls due ...
        wait_for("the run to be more than the grace time late", lambda: datetime.now(UTC) > due + timedelta(seconds=2))
        start(running, config)  # ... and back after the grace time
        wait_for("the next run", lambda: "ok" in statuses(config))
    history = runs(config)
    assert history[0].status == "missed" and "misfire_grace" in history[0].detail
    assert history[1].status == "ok"


def test_an_overlapping_run_is_skipped_and_recorded(tmp_path: Path, running: list[Scheduler]) -> None:
    site = FixtureSite(site_pages(hang=True)).start()
    try:
        config = workspace(tmp_path, source(site))
        start(running, config)
        wait_for("a crawl stuck on the hanging page", lambda: "/l/1" in site.access_log)
        wait_for("a skipped run", lambda: "skipped" in statuses(config))
        # `bioleak crawl` goes through the same lock: refused while the scheduled crawl runs
        manual = run_source(config, "market")
        assert manual.result is None and manual.run.status == "skipped" and manual.run.trigger == "manual"
        assert statuses(config).count("running") == 1
    finally:
        site.stop()  # the hanging response ends: the stuck crawl finishes
    wait_for("the stuck crawl to finish", lambda: "running" not in statuses(config))
    first = min(runs(config), key=lambda r: r.id)
    # recorded when it ended: its one listing page never arrived, so it did not do its job
    assert (first.status, first.detail, first.trigger) == ("degraded", "no listings found", "schedule")
    skipped = [r for r in runs(config) if r.status == "skipped"]
    assert "still going" in skipped[0].detail or "already running" in skipped[0].detail


def test_a_crashing_crawl_is_recorded_the_next_runs_happen_and_the_operator_is_told_once(
    tmp_path: Path, running: list[Scheduler]
) -> None:
    with FixtureSite(site_pages()) as site, LoopbackSmtpServer() as smtp:
        config = workspace(tmp_path, source(site), operator_email="ops@bioleak.example", smtp_url=smtp.url,
                           failure_alert_after=2)  # fmt: skip
        good_registry = config.registry.read_bytes()
        config.registry.write_bytes(b"this is not a database" * 100)  # every crawl dies loading it
        start(running, config)
        wait_for("four failed runs", lambda: statuses(config).count("failed") >= 4)
        notices = [str(r.message["Subject"]) for r in smtp.received]
        assert notices == ["[bioleak] source market has failed 2 times in a row"]

        config.registry.write_bytes(good_registry)
        wait_for("a successful run", lambda: "ok" in statuses(config))
        wait_for("the recovery notice", lambda: len(smtp.received) == 2)
        received = list(smtp.received)
    failed = next(r for r in runs(config) if r.status == "failed")
    assert failed.returncode != 0 and "exited with" in failed.detail
    assert "not a database" in Path(failed.log_file).read_text()  # the crawl's own log says why
    assert [list(m.rcpt_tos) for m in received] == [["ops@bioleak.example"]] * 2
    assert str(received[1].message["Subject"]) == "[bioleak] source market is crawling again"
    body = received[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "failed 2 times in a row" in body and failed.log_file.rsplit("/", 1)[0] in body


def test_a_restarted_scheduler_keeps_history_next_run_times_and_reloads_sources(
    tmp_path: Path, running: list[Scheduler], capsys: pytest.CaptureFixture[str]
) -> None:
    with FixtureSite(site_pages()) as site:
        hourly, nightly = source(site, "hourly", "every 1h"), source(site, "nightly", "30 2 * * 1-5")
        config = workspace(tmp_path, hourly, nightly)
        first = start(running, config)
        before = first.next_runs()
        assert run_source(config, "hourly").run.status == "ok"  # by hand, recorded like the others
        first.stop()  # seconds after `before`: a job re-created on restart would be due seconds later

        second = start(running, config)
        assert second.next_runs() == before  # not reset by the restart
        assert before["crawl:nightly"] is not None and before["crawl:nightly"].weekday() < 5  # Mon-Fri, cron's 1-5
        assert statuses(config) == ["ok"]

        weekly = source(site, "weekly", "0 3 * * 0")
        config.sources.write_text(dump_sources([dataclasses.replace(hourly, schedule="every 2h"), weekly]), "utf-8")
        report = second.reload()
        assert report is not None
        assert (report.added, report.changed, report.removed) == (["crawl:weekly"], ["crawl:hourly"],
                                                                  ["crawl:nightly"])  # fmt: skip
        config.sources.write_text("sources: [{name: broken", "utf-8")
        assert second.reload() is None  # a broken file keeps the current schedule
        assert set(second.next_runs()) == {"crawl:hourly", "crawl:weekly", "alerts", "registry"}
        with pytest.raises(SchedulerError, match="already runs"):
            Scheduler(config).start()  # one scheduler per workspace
        second.stop()
    assert statuses(config) == ["ok"]  # history survived restart and reload

    from bioleak.cli import main

    assert main(["--data-dir", str(tmp_path), "runs", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["source"], r["trigger"], r["status"]) for r in rows] == [("hourly", "manual", "ok")]
    assert main(["--data-dir", str(tmp_path), "runs"]) == 0
    out = capsys.readouterr().out
    assert "hourly" in out and "next scheduled run of weekly" in out


def test_crontab_weekdays_count_from_sunday() -> None:
    assert crontab_weekdays("1-5") == "mon-fri"
    assert crontab_weekdays("0,6") == "sun,sat"
    assert crontab_weekdays("0-2") == "sun,mon-tue"
    assert crontab_weekdays("7") == "sun"
    trigger = trigger_for(Source("s", ("http://x.example/",), schedule="0 3 * * 0"))
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 23, tzinfo=UTC))  # a Monday
    assert fire == datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # the next Sunday, 03:00


def test_sigterm_stops_the_daemon_and_records_the_stopped_crawl(tmp_path: Path) -> None:
    site = FixtureSite(site_pages(hang=True)).start()
    try:
        config = workspace(tmp_path, source(site))
        (tmp_path / "bioleak.toml").write_text(
            "shutdown_timeout = 1\nalert_interval = 3600\nmin_schedule_interval = 1\n"
        )
        log = tmp_path / "daemon.log"
        with log.open("wb") as out:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "bioleak.cli", "--data-dir", str(tmp_path), "schedule"],
                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
        try:
            wait_for("a crawl stuck on the hanging page", lambda: "running" in statuses(config))
            config.sources.write_text(dump_sources([source(site), source(site, "second", "every 1h")]), "utf-8")
            from bioleak.cli import main

            assert main(["--data-dir", str(tmp_path), "schedule", "--reload"]) == 0
            wait_for("the reload in the log", lambda: "reloaded" in log.read_text())
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=60) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
    finally:
        site.stop()
    text = log.read_text()
    assert "job crawl:second scheduled" in text and "stopping" in text and "scheduler stopped" in text
    first = runs(config)[0]
    assert first.status == "terminated" and "shutting down" in first.detail
    assert "running" not in statuses(config)
    assert not (tmp_path / "scheduler.pid").exists()


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(tmp_path: Path) -> None:
    with FixtureSite(site_pages()) as site:
        config = workspace(tmp_path, source(site))
        history = RunHistory(config.data_dir / "runs.sqlite3")
        history.start("market", "schedule", "")  # its daemon was SIGKILLed mid-crawl
        history.close()
        outcome = run_source(config, "market")
    assert outcome.run.status == "ok"
    first = runs(config)[0]
    assert (first.status, first.detail) == ("interrupted", "the process running it died")
    history = RunHistory(config.data_dir / "runs.sqlite3")
    assert history.health("market").failures == 0  # the success after it ended the streak
    history.close()


def test_an_operator_notice_that_could_not_be_sent_is_tried_again_on_the_next_failure(tmp_path: Path) -> None:
    with FixtureSite(site_pages()) as site:
        down = f"smtp://127.0.0.1:{free_port()}?timeout=5"  # nothing listens there
        config = workspace(tmp_path, source(site), operator_email="ops@bioleak.example", smtp_url=down,
                           failure_alert_after=1)  # fmt: skip
        config.registry.write_bytes(b"not a database" * 100)
        assert run_source(config, "market").run.status == "failed"
        history = RunHistory(config.data_dir / "runs.sqlite3")
        assert history.health("market") == Health("market", 1, False)  # not told yet
        history.close()
        with LoopbackSmtpServer() as smtp:
            up = dataclasses.replace(config, smtp_url=smtp.url)
            assert run_source(up, "market").run.status == "failed"
            assert run_source(up, "market").run.status == "failed"
            subjects = [str(r.message["Subject"]) for r in smtp.received]
    assert subjects == ["[bioleak] source market has failed 2 times in a row"]  # once, when it could
    assert len(list(config.outbox.glob("operator-*.eml"))) == 2  # both attempts are in the outbox
