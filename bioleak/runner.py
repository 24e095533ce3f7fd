"""One crawl of one source, recorded: the single code path of `bioleak crawl` and the scheduler.

Takes the source's lock (a second crawl of the same source is skipped and recorded), runs the
`scrapy crawl` subprocess with its own log file, writes the outcome to the run history, and
tells the operator once when a source starts failing repeatedly and once when it recovers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alerts.dispatcher import Outbox
from alerts.operator import SourceNotice, render_notice
from bioleak.config import Config
from bioleak.crawl import CrawlResult, crawl
from bioleak.dispatch import smtp_send
from bioleak.runs import FAILURES, Health, Run, RunHistory, SourceBusy, now_iso, source_lock

log = logging.getLogger("bioleak.runs")
LOGS_KEPT = 20  # per source: older run logs are deleted


@dataclass(frozen=True)
class Outcome:
    run: Run
    result: CrawlResult | None  # None when the run was skipped


def _log_path(config: Config, source: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return config.data_dir / "runs" / source / f"{stamp}.log"


def _prune_logs(directory: Path) -> None:
    logs = sorted(directory.glob("*.log"))
    for old in logs[:-LOGS_KEPT]:
        old.unlink(missing_ok=True)
        old.with_suffix(".stats.json").unlink(missing_ok=True)


def _detail(result: CrawlResult) -> str:
    if result.reason:
        return result.reason
    summary = result.summary()
    return f"finish reason: {summary['finish_reason']}"


def run_source(
    config: Config,
    source: str,
    *,
    trigger: str = "manual",
    timeout: float | None = None,
    cancel: threading.Event | None = None,
    settings: dict[str, str | int | float] | None = None,
    progress: Callable[[dict[str, int]], None] | None = None,
) -> Outcome:
    history = RunHistory(config.data_dir / "runs.sqlite3")
    try:
        try:
            with source_lock(config.data_dir, source) as lock:
                for run_id in history.interrupted(source):
                    log.warning("run %d of %s was left running by a process that died: marked interrupted", run_id,
                                source)  # fmt: skip
                log_file = _log_path(config, source)
                run_id = history.start(source, trigger, str(log_file))
                log.info("crawl %s started (run %d, %s); log %s", source, run_id, trigger, log_file)
                result = crawl(
                    config, source, timeout=timeout or config.crawl_timeout, settings=settings, log_file=log_file,
                    cancel=cancel, progress=progress, lock=lock,
                )  # fmt: skip
                summary = result.summary() if result.stats else None
                history.finish(
                    run_id, result.status, returncode=result.returncode,
                    pages=summary["pages"] if summary else 0,
                    listings=sum(summary["listings"].values()) if summary else 0,
                    hits=summary["hits"] if summary else 0,
                    errors=int(result.stats.get("log_count/ERROR", 0)),
                    detail=_detail(result),
                )  # fmt: skip
                _prune_logs(log_file.parent)
        except SourceBusy as exc:
            run_id = history.note(source, trigger, "skipped", str(exc))
            log.warning("crawl %s skipped: %s", source, exc)
            run = history.get(run_id)
            assert run is not None
            return Outcome(run, None)
        run = history.get(run_id)
        assert run is not None
        log.log(
            {"ok": logging.INFO, "terminated": logging.WARNING, "degraded": logging.WARNING}.get(
                run.status, logging.ERROR
            ),
            "crawl %s %s (run %d): %d pages, %d new/changed listings, %d hits, %d errors; %s",
            source, run.status, run.id, run.pages, run.listings, run.hits, run.errors, run.detail,
        )  # fmt: skip
        _track_health(config, history, run)
        return Outcome(run, result)
    finally:
        history.close()


def _track_health(config: Config, history: RunHistory, run: Run) -> None:
    """After `failure_alert_after` failures in a row, one notice to the operator; after the
    first success that follows, one recovery notice. Terminated runs (a shutdown) count as neither."""
    health = history.health(run.source)
    if run.status in FAILURES:
        health = Health(run.source, health.failures + 1, health.alerted)
        if not health.alerted and health.failures >= config.failure_alert_after:
            health = Health(run.source, health.failures, _notify(config, run, "failing", health.failures))
        history.set_health(health)
    elif run.status == "ok":
        if health.alerted:
            # One try: if it cannot be sent, it stays in the outbox and the log.
            _notify(config, run, "recovered", health.failures)
        if health.failures or health.alerted:
            history.set_health(Health(run.source, 0, False))


def _notify(config: Config, run: Run, kind: str, failures: int) -> bool:
    """True once the notice has left (or, without an operator address, has been logged)."""
    if not config.operator_email:
        log.error("source %s: %s after %d failed run(s); set operator_email to be told by email", run.source, kind,
                  failures)  # fmt: skip
        return True
    at = run.finished or now_iso()
    notice = SourceNotice(run.source, run.id, kind, failures, run.status, run.detail, run.log_file, at)
    message = render_notice(notice, to=config.operator_email, sender=config.sender, domain="bioleak.local")
    Outbox(config.outbox).save(message)
    send = smtp_send(config)
    if send is None:
        log.warning("operator notice (%s, %s) saved to %s: no SMTP configured", run.source, kind, config.outbox)
        return True
    try:
        send(message)
    except Exception as exc:  # the next failed run tries again
        log.error("operator notice for %s could not be sent: %s", run.source, exc)
        return False
    log.info("operator notified: %s %s", run.source, kind)
    return True
