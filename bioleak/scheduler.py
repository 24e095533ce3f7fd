"""`bioleak schedule`: every source crawled on its own schedule, alerts dispatched, registry watched.

APScheduler 3 keeps the jobs in DATA_DIR/scheduler.sqlite3 (SQLAlchemy job store), so next run
times survive a restart; a run missed while bioleak was down still starts once if it is less than
`misfire_grace` seconds late (coalesced), and is recorded as missed otherwise. Each crawl is a
`scrapy crawl` subprocess (bioleak/runner.py, shared with `bioleak crawl`). Jobs in a persistent
store are saved as references to module functions, which find the running `Scheduler` in
`_ACTIVE`: one scheduler per process.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bioleak.config import Config, ConfigError
from bioleak.dispatch import make_dispatcher
from bioleak.runner import run_source
from bioleak.runs import RunHistory, try_lock
from crawlers.sources import Source, SourceError, load_sources
from indexer.open import open_store
from pipeline.registry import SqliteRegistry

log = logging.getLogger("bioleak.scheduler")
CRAWL_PREFIX = "crawl:"
REGISTRY_CHECK_SECONDS = 60
_ACTIVE: Scheduler | None = None


class SchedulerError(Exception):
    pass


def trigger_for(source: Source) -> BaseTrigger:
    """ "every 6h" -> an interval; anything else is a crontab line, in UTC."""
    every = source.interval_seconds
    jitter = source.jitter or None
    if every is not None:
        return IntervalTrigger(seconds=every, jitter=jitter, timezone="UTC")
    minute, hour, day, month, day_of_week = source.schedule.split()
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=crontab_weekdays(day_of_week),
        jitter=jitter, timezone="UTC",
    )  # fmt: skip


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def crontab_weekdays(field: str) -> str:
    """Crontab's day-of-week numbers (0 or 7 = Sunday) as names: APScheduler 3 counts from Monday,
    so "1-5" would silently mean Tuesday to Saturday."""
    parts = []
    for part in field.split(","):
        base, _, step = part.partition("/")
        low, _, high = base.partition("-")
        if not (low.isdigit() and (not high or high.isdigit())):
            parts.append(part)  # *, names: the same in both
            continue
        first, last = int(low), int(high) if high else None
        if last is not None and first == 0 and not step:  # Sunday-first ranges do not exist in APScheduler
            parts.append("*" if last >= 6 else f"sun,mon-{_WEEKDAYS[last]}" if last else "sun")
            continue
        name = _WEEKDAYS[first] + (f"-{_WEEKDAYS[last]}" if last is not None else "")
        parts.append(name + (f"/{step}" if step else ""))
    return ",".join(parts)


# --- job functions: referenced by name from the persistent job store ---------------------------


def crawl_job(source: str, schedule: str = "", jitter: int = 0) -> None:
    # schedule and jitter are carried only so that a changed sources.yaml is noticed on reload.
    if _ACTIVE is not None:
        _ACTIVE.run_crawl(source)


def alerts_job(every: float = 0) -> None:
    if _ACTIVE is not None:
        _ACTIVE.dispatch_alerts()


def registry_job(every: float = 0) -> None:
    if _ACTIVE is not None:
        _ACTIVE.check_registry()


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


class Scheduler:
    def __init__(
        self,
        config: Config,
        *,
        crawl_settings: dict[str, str | int | float] | None = None,
        registry_check: float = REGISTRY_CHECK_SECONDS,
        workers: int = 8,
    ) -> None:
        self.config = config
        self.crawl_settings = crawl_settings  # extra Scrapy settings for every crawl (tests)
        self.registry_check = registry_check
        self.workers = workers  # crawls (and the alert pass) that may run at once
        self._running: dict[str, threading.Event] = {}  # source -> its cancel event
        self._idle = threading.Condition()
        self._lock_file: IO[str] | None = None
        self._registry_seen: tuple[int, int] | None = None
        self._aps: BackgroundScheduler | None = None

    @property
    def jobs_path(self) -> Path:
        return self.config.data_dir / "scheduler.sqlite3"

    @property
    def pid_path(self) -> Path:
        return self.config.data_dir / "scheduler.pid"

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> SyncReport:
        global _ACTIVE
        self._take_lock()
        if _ACTIVE is not None:
            self._release_lock()
            raise SchedulerError("a scheduler is already running in this process")
        self._aps = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{self.jobs_path}")},
            executors={"default": ThreadPoolExecutor(self.workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self.config.misfire_grace},
            timezone="UTC",
        )
        self._aps.add_listener(self._on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        _ACTIVE = self
        try:
            self._aps.start(paused=True)  # jobs are reconciled with sources.yaml before any runs
            report = self.sync()
        except BaseException:
            self._aps.shutdown(wait=False)
            _ACTIVE = None
            self._release_lock()
            raise
        self._aps.resume()
        return report

    def stop(self, timeout: float | None = None) -> None:
        """Stop scheduling; give running crawls `timeout` seconds (default: shutdown_timeout) to
        finish, then stop them (recorded as terminated); return once all is recorded."""
        global _ACTIVE
        if self._aps is None:
            return
        # No new runs from here on; running jobs go on in their threads, tracked in _running.
        self._aps.shutdown(wait=False)
        self._aps = None
        wait = self.config.shutdown_timeout if timeout is None else timeout
        with self._idle:
            if self._running:
                log.info("waiting up to %g s for running crawls to finish: %s", wait, ", ".join(sorted(self._running)))
            if not self._idle.wait_for(lambda: not self._running, timeout=wait):
                log.warning("stopping crawls still running: %s", ", ".join(sorted(self._running)))
                for cancel in self._running.values():
                    cancel.set()
                # crawl() stops its subprocess within its grace period; the run is recorded before
                # the job leaves _running.
                self._idle.wait_for(lambda: not self._running)
        _ACTIVE = None
        self._release_lock()
        log.info("scheduler stopped")

    def _take_lock(self) -> None:
        handle = try_lock(self.config.data_dir / "scheduler.lock")  # held while running
        if handle is None:
            pid = self.pid_path.read_text().strip() if self.pid_path.exists() else "?"
            raise SchedulerError(f"a scheduler already runs on {self.config.data_dir} (pid {pid})")
        self._lock_file = handle
        self.pid_path.write_text(f"{os.getpid()}\n")

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self.pid_path.unlink(missing_ok=True)
            self._lock_file.close()
            self._lock_file = None

    # --- jobs ------------------------------------------------------------------------------------

    def sync(self) -> SyncReport:
        """Make the jobs match sources.yaml (and the config): new sources added, changed schedules
        replaced, removed sources dropped; unchanged jobs keep their next run time."""
        assert self._aps is not None
        try:
            sources = load_sources(self.config.sources, min_interval=self.config.min_schedule_interval)
        except (SourceError, OSError) as exc:
            raise ConfigError(str(exc)) from exc
        wanted: dict[str, tuple[str, dict[str, Any]]] = {}  # job id -> (function, its arguments)
        for source in sources.values():
            if source.schedule:
                kwargs = {"source": source.name, "schedule": source.schedule, "jitter": source.jitter}
                wanted[CRAWL_PREFIX + source.name] = (f"{__name__}:crawl_job", kwargs)
        wanted["alerts"] = (f"{__name__}:alerts_job", {"every": self.config.alert_interval})
        wanted["registry"] = (f"{__name__}:registry_job", {"every": self.registry_check})
        report = SyncReport()
        existing = {job.id: job for job in self._aps.get_jobs()}
        for job_id in existing.keys() - wanted.keys():
            self._aps.remove_job(job_id)
            report.removed.append(job_id)
        for job_id, (func, kwargs) in wanted.items():
            job = existing.get(job_id)
            if job is not None and job.kwargs == kwargs:
                report.kept.append(job_id)
                continue
            if job_id.startswith(CRAWL_PREFIX):
                trigger: BaseTrigger = trigger_for(sources[str(kwargs["source"])])
            else:
                trigger = IntervalTrigger(seconds=kwargs["every"], timezone="UTC")
            self._aps.add_job(func, trigger, id=job_id, name=job_id, kwargs=kwargs, replace_existing=True)
            (report.changed if job is not None else report.added).append(job_id)
        for job_id in report.added + report.changed + report.removed:
            log.info("job %s %s", job_id, "removed" if job_id in report.removed else "scheduled")
        return report

    def reload(self) -> SyncReport | None:
        """Re-read sources.yaml (SIGHUP, `bioleak schedule --reload`); a broken file keeps the
        current jobs and is logged, never a stopped scheduler."""
        try:
            report = self.sync()
        except ConfigError as exc:
            log.error("reload failed, keeping the current schedule: %s", exc)
            return None
        log.info("reloaded %s: %d added, %d changed, %d removed, %d unchanged", self.config.sources,
                 len(report.added), len(report.changed), len(report.removed), len(report.kept))  # fmt: skip
        return report

    def next_runs(self) -> dict[str, datetime | None]:
        assert self._aps is not None
        return {job.id: job.next_run_time for job in self._aps.get_jobs()}

    def _on_event(self, event: JobExecutionEvent) -> None:
        job_id = event.job_id
        source = job_id[len(CRAWL_PREFIX) :] if job_id.startswith(CRAWL_PREFIX) else ""
        if event.code == EVENT_JOB_ERROR:
            log.error("job %s raised: %r", job_id, event.exception)
        elif source and event.code in (EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED):
            status, why = (
                ("skipped", "the previous run of this source was still going")
                if event.code == EVENT_JOB_MAX_INSTANCES
                else ("missed", f"due at {event.scheduled_run_time:%Y-%m-%d %H:%M:%S} UTC, more than"
                      f" {self.config.misfire_grace} s ago (misfire_grace)")
            )  # fmt: skip
            log.warning("crawl %s %s: %s", source, status, why)
            history = RunHistory(self.config.data_dir / "runs.sqlite3")
            try:
                history.note(source, "schedule", status, why)
            finally:
                history.close()

    # --- what the jobs do --------------------------------------------------------------------------

    def run_crawl(self, source: str) -> None:
        cancel = threading.Event()
        with self._idle:
            self._running[source] = cancel
        try:
            run_source(self.config, source, trigger="schedule", cancel=cancel, settings=self.crawl_settings)
        except Exception:
            log.exception("crawl %s could not be run", source)
        finally:
            with self._idle:
                del self._running[source]
                self._idle.notify_all()

    def dispatch_alerts(self) -> None:
        store = open_store(self.config.store, es_prefix=self.config.es_prefix)
        try:
            report = make_dispatcher(self.config, store).run_once()
        finally:
            store.close()
        for org, n in report.hits.items():
            log.info("alerts: %s told about %d hit(s)", org, n)
        for org, why in report.deferred.items():
            log.warning("alerts: %s deferred: %s", org, why)

    def check_registry(self) -> None:
        """Crawls load the registry when they start, so enrolled hashes are used by the next crawl
        without a restart; this notices changes (and a registry that cannot be read) and says so."""
        if not self.config.registry.exists():
            return
        try:
            registry = SqliteRegistry(self.config.registry)
            try:
                seen = (registry.version(), registry.count())
            finally:
                registry.close()
        except Exception as exc:  # a corrupt registry fails every crawl: say it before they do
            log.error("registry %s cannot be read: %s", self.config.registry, exc)
            return
        if self._registry_seen is not None and seen != self._registry_seen:
            log.info("registry changed: %d entries (was %d); the next crawl of each source matches against it",
                     seen[1], self._registry_seen[1])  # fmt: skip
        self._registry_seen = seen
