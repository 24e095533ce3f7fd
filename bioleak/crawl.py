"""Run one source's crawl as a `scrapy crawl` subprocess (Twisted's reactor cannot restart)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bioleak.config import Config
from crawlers.sources import load_sources

# The share of a crawl's pages that may fail before the run is `degraded` (bioleak.toml:
# page_failure_share); a dead or refusing site is `failed` whatever the share.
PAGE_FAILURE_SHARE = 0.25


@dataclass(frozen=True)
class CrawlResult:
    source: str
    returncode: int
    stats: dict[str, Any]
    log_file: Path
    stopped: str = ""  # "timeout" or "terminated" when bioleak stopped the crawl
    failure_share: float = PAGE_FAILURE_SHARE

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def __repr__(self) -> str:
        state = f"{self.status}: {self.reason}" if self.reason else self.status
        return f"CrawlResult({self.source!r}, {state}, exit {self.returncode}, log {self.log_file})"

    @property
    def status(self) -> str:
        """ok | degraded | failed | timeout | terminated"""
        return self.health[0]

    @property
    def reason(self) -> str:
        """Why a run is not ok, in words for `bioleak runs` and the operator ("" when ok)."""
        return self.health[1]

    @property
    def health(self) -> tuple[str, str]:
        """A run is ok only when it did its job: the seed was read, listings were found, every
        selector matched, and few pages failed."""
        s = self.stats
        if self.stopped == "timeout":
            return "timeout", "stopped: wall-clock timeout"
        if self.stopped == "terminated":
            return "terminated", "stopped before it finished (Ctrl-C, SIGTERM or a scheduler shutting down)"
        if self.returncode != 0 or not s:
            return "failed", f"the crawl process exited with {self.returncode} before finishing (see its log)"
        if s.get("finish_reason") not in (None, "finished"):
            return "failed", f"the crawl stopped early: {s.get('finish_reason')}"
        failed_stores = {k.rsplit("/", 1)[-1]: v for k, v in s.items() if k.startswith("bioleak/store_failed/")}
        if failed_stores:
            return "failed", "not stored: " + ", ".join(f"{k} {v}" for k, v in sorted(failed_stores.items()))
        if not s.get("bioleak/seed/ok"):
            if s.get("bioleak/seed/failure"):
                return "failed", f"start URL unreachable ({s['bioleak/seed/failure']})"
            if s.get("robotstxt/forbidden") or s.get("bioleak/refused/private_address"):
                return "failed", "start URL refused (robots.txt or the address policy)"
            return "failed", "no start URL could be read"
        # A selector that matched on no page it was tried on no longer fits the site (a list with
        # one page has nothing for next_page to match, so that one is not asked about).
        tried = {k.rsplit("/", 1)[-1] for k in s if k.startswith("bioleak/selectors/tried/")}
        matched = {k.rsplit("/", 1)[-1] for k in s if k.startswith("bioleak/selectors/matched/")}
        unmatched = sorted(tried - matched - {"next_page"})
        if unmatched:
            return "degraded", "selector matched nothing: " + ", ".join(unmatched)
        seen = int(s.get("bioleak/listings/seen", 0)) + int(s.get("bioleak/listings/unchanged", 0))
        if not seen and not s.get("item_scraped_count") and not s.get("bioleak/listings/unchanged"):
            return "degraded", "no listings found"
        # Broken links (404, 410) are a site's ordinary mess; errors, timeouts and refusals to
        # serve are what a source that stopped working looks like.
        gone = sum(int(s.get(f"bioleak/pages_failed/http_{code}", 0)) for code in (404, 410))
        failed = int(s.get("bioleak/skipped/page_failed", 0)) - gone
        asked = failed + int(s.get("bioleak/pages", 0))
        if asked and failed / asked > self.failure_share:
            return "degraded", f"{failed} of {asked} pages failed"
        return "ok", ""

    def summary(self) -> dict[str, Any]:
        """The numbers an operator reads after a crawl, grouped from Scrapy's flat stats."""
        s = self.stats

        def group(prefix: str) -> dict[str, int]:
            return {
                k[len(prefix) :]: int(v)
                for k, v in sorted(s.items())
                if k.startswith(prefix) and "/" not in k[len(prefix) :]
            }

        skipped = {f"image_{k}": v for k, v in group("bioleak/images/rejected/").items()}
        skipped |= {f"refused_{k}": v for k, v in group("bioleak/refused/").items()}
        skipped |= group("bioleak/skipped/")
        return {
            "status": self.status,
            "reason": self.reason,
            "engines": sorted(group("bioleak/engine/")),
            "pages": int(s.get("bioleak/pages", 0)),
            "pages_failed": group("bioleak/pages_failed/"),
            "listings_seen": int(s.get("bioleak/listings/seen", 0)),
            "listings": {
                k: v for k, v in group("bioleak/listings/").items() if k not in ("unchanged", "seen", "needs_review")
            },
            "needs_review": int(s.get("bioleak/listings/needs_review", 0)),
            "unchanged": int(s.get("bioleak/listings/unchanged", 0)),
            "images": {
                "hashed": int(s.get("bioleak/images/hashed", 0)),
                "known_url": int(s.get("bioleak/images/known_url", 0)),
                "known_content": int(s.get("bioleak/images/known_content", 0)),
            },
            "hits": int(s.get("bioleak/hits", 0)),
            "stored": group("bioleak/stored/"),
            "store_failed": group("bioleak/store_failed/"),
            "skipped": skipped,
            "robots_ignored": bool(s.get("bioleak/robots_ignored")),
            "finish_reason": s.get("finish_reason", ""),
        }


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM lets Scrapy close the spider and write its stats; whatever is left after `grace`
    seconds (the crawl and its hashing workers) is killed."""
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the crawl's own process group: workers too
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def crawl(
    config: Config,
    source: str,
    *,
    timeout: float = 3600,
    log_level: str = "INFO",
    settings: dict[str, str | int | float] | None = None,
    log_file: Path | None = None,
    cancel: threading.Event | None = None,
    grace: float = 10.0,
    progress: Callable[[dict[str, int]], None] | None = None,
    lock: IO[str] | None = None,
) -> CrawlResult:
    """Crawl `source` now, in a `scrapy crawl` subprocess. Past `timeout` seconds, once `cancel`
    is set (a scheduler shutting down, a SIGTERM), or on Ctrl-C, the crawl is stopped: SIGTERM,
    then SIGKILL of its process group (its hashing workers too) after `grace` seconds.
    `settings` are extra Scrapy settings (tests lower limits and timeouts); `progress` is called
    with the crawl's counts as they change; `lock`, the source's lock file, is held by the
    crawl process too, so no second crawl of the source can start beside it."""
    kind = load_sources(config.sources, min_interval=0)[source].kind
    if log_file is None:
        log_file = config.data_dir / "runs" / f"{source}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    stats_file = log_file.with_suffix(".stats.json")
    stats_file.unlink(missing_ok=True)
    progress_file = log_file.with_suffix(".progress.json")
    progress_file.unlink(missing_ok=True)
    overrides = settings or {}
    settings = {
        "BIOLEAK_SOURCES": str(config.sources),
        "BIOLEAK_SOURCE": source,  # the resolver reads the source's networks before the spider exists
        "BIOLEAK_REGISTRY": str(config.registry),
        "BIOLEAK_STATE": str(config.crawl_state),
        "BIOLEAK_STORE": config.store,
        "BIOLEAK_ES_PREFIX": config.es_prefix,
        "BIOLEAK_STATS_FILE": str(stats_file),
        "BIOLEAK_PROGRESS_FILE": str(progress_file) if progress else "",
        "BIOLEAK_PARENT_PID": os.getpid(),
        "LOG_FILE": str(log_file),
        "LOG_LEVEL": log_level,
        **{key: str(value) for key, value in overrides.items()},
    }
    argv = [sys.executable, "-m", "scrapy", "crawl", kind]
    for key, value in settings.items():
        argv += ["-s", f"{key}={value}"]
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawlers.settings"}
    # Its own session: Ctrl-C in the scheduler's terminal is the scheduler's to handle, not the crawl's.
    pass_fds = (lock.fileno(),) if lock is not None else ()
    proc = subprocess.Popen(argv, cwd=config.data_dir, env=env, start_new_session=True, pass_fds=pass_fds)
    deadline = time.monotonic() + timeout
    stopped = ""
    last_progress = 0.0
    try:
        while not stopped:
            try:
                proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.is_set():
                    stopped = "terminated"
                elif time.monotonic() >= deadline:
                    stopped = "timeout"
            if progress is not None:
                last_progress = _report(progress_file, last_progress, progress)
    except KeyboardInterrupt:  # Ctrl-C: the crawl runs in its own session, so it is ours to stop
        stopped = "terminated"
    if stopped:
        _stop(proc, grace)
    if progress is not None:
        _report(progress_file, 0.0, progress)
    progress_file.unlink(missing_ok=True)
    returncode = proc.returncode
    stats = _read_json(stats_file)
    return CrawlResult(source=source, returncode=returncode, stats=stats, log_file=log_file, stopped=stopped,
                       failure_share=config.page_failure_share)  # fmt: skip


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _report(path: Path, last: float, progress: Callable[[dict[str, int]], None]) -> float:
    """Call `progress` with the counts in `path` if it changed since `last` (its mtime)."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return last
    if mtime != last:
        counts = _read_json(path)
        if counts:
            progress({k: int(v) for k, v in counts.items() if isinstance(v, int)})
    return mtime
