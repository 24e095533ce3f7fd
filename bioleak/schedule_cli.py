"""`bioleak schedule` (the foreground daemon) and `bioleak runs` (what it and `bioleak crawl` did)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from bioleak.config import Config
from bioleak.output import CliError, as_dict, emit_json, safe_text
from bioleak.runs import RunHistory


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # APScheduler narrates every job start and end; bioleak's own lines say what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _send_reload(config: Config) -> int:
    pid_path = config.data_dir / "scheduler.pid"
    try:
        pid = int(pid_path.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        raise CliError(f"no scheduler is running on {config.data_dir} (start one with `bioleak schedule`)") from None
    print(f"asked the scheduler (pid {pid}) to reload {config.sources}; its log says what changed")
    return 0


def cmd_schedule(args: argparse.Namespace, config: Config) -> int:
    from bioleak.scheduler import Scheduler, SchedulerError

    if args.reload:
        return _send_reload(config)
    _configure_logging()
    scheduler = Scheduler(config)
    wake = threading.Event()
    requests: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        requests.append("reload" if signum == signal.SIGHUP else "stop")
        wake.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        scheduler.start()
    except SchedulerError as exc:
        raise CliError(str(exc)) from exc
    log = logging.getLogger("bioleak.scheduler")
    for job_id, when in sorted(scheduler.next_runs().items()):
        log.info("%s: next run %s", job_id, f"{when:%Y-%m-%d %H:%M:%S %Z}" if when else "paused")
    log.info("scheduler running (pid %d); SIGHUP or `bioleak schedule --reload` re-reads %s; Ctrl-C or SIGTERM"
             " stops", os.getpid(), config.sources)  # fmt: skip
    try:
        while True:
            wake.wait()
            wake.clear()
            while requests:
                if requests.pop(0) == "stop":
                    log.info("stopping: no new runs; running crawls get %g s to finish", config.shutdown_timeout)
                    return 0
                scheduler.reload()
    finally:
        scheduler.stop()


def _next_runs(config: Config) -> dict[str, str]:
    """Next run times from the scheduler's job store, read without starting a scheduler."""
    path = config.data_dir / "scheduler.sqlite3"
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT id, next_run_time FROM apscheduler_jobs").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        db.close()
    return {
        job_id.removeprefix("crawl:"): datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds")
        for job_id, when in rows
        if job_id.startswith("crawl:") and when is not None
    }


def _duration(started: str, finished: str) -> str:
    if not finished:
        return "-"
    seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


def cmd_runs(args: argparse.Namespace, config: Config) -> int:
    path = config.data_dir / "runs.sqlite3"
    if not path.exists():
        if args.json:
            return 0
        print("no runs yet: `bioleak crawl SOURCE` runs one now, `bioleak schedule` runs them on schedule")
        return 0
    history = RunHistory(path)
    try:
        runs = history.runs(args.source, limit=args.last)
    finally:
        history.close()
    upcoming = _next_runs(config)
    if args.json:
        for run in runs:
            emit_json(as_dict(run))
        return 0
    if not runs:
        print(f"no runs of {args.source}" if args.source else "no runs yet")
    else:
        print(f"{'run':>5} {'source':<18} {'trigger':<8} {'started (UTC)':<19} {'took':>5} {'status':<11}"
              f" {'pages':>6} {'listings':>8} {'hits':>5} {'errors':>6}  detail")  # fmt: skip
    for r in runs:
        flag = "" if r.status in ("ok", "running") else "  <--"
        print(
            f"{r.id:>5} {safe_text(r.source, 18):<18} {r.trigger:<8} {r.started[:19].replace('T', ' '):<19}"
            f" {_duration(r.started, r.finished):>5} {r.status:<11} {r.pages:>6} {r.listings:>8} {r.hits:>5}"
            f" {r.errors:>6}  {safe_text(r.detail, 60)}{flag}"
        )
    for source, when in sorted(upcoming.items()):
        if not args.source or source == args.source:
            print(f"next scheduled run of {source}: {when}")
    return 0


def register(sub: Any, add: Any, json_flag: Any) -> None:
    p = add(sub, "schedule", cmd_schedule,
            "Run in the foreground: crawl every source with a `schedule:` in sources.yaml on time (one crawl"
            " per source at a time; runs missed while stopped start once if less than misfire_grace seconds"
            " late), dispatch alerts every alert_interval seconds, and notice registry changes. Jobs and their"
            " next run times persist in DATA_DIR/scheduler.sqlite3. SIGHUP or --reload re-reads sources.yaml;"
            " SIGTERM or Ctrl-C lets running crawls finish for shutdown_timeout seconds, then stops them."
            " After failure_alert_after failed runs in a row the operator_email gets one notice, and one"
            " more when the source recovers.",
            "bioleak schedule    # then, after editing sources.yaml: bioleak schedule --reload")  # fmt: skip
    p.add_argument("--reload", action="store_true", help="tell the running scheduler to re-read sources.yaml")
    p = add(sub, "runs", cmd_runs,
            "Crawl run history, newest first: scheduled and manual runs with status (ok, failed, timeout,"
            " terminated, skipped, missed, interrupted), pages, listings, hits and errors, then the next"
            " scheduled run of each source.",
            "bioleak runs --source demo-market --last 5 --json")  # fmt: skip
    p.add_argument("--source", help="only this source")
    p.add_argument("--last", type=int, default=20, help="how many runs (default 20)")
    json_flag(p)
