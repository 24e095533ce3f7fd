"""Run one source's crawl as a `scrapy crawl` subprocess (Twisted's reactor cannot restart)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bioleak.config import Config
from crawlers.sources import load_sources


@dataclass(frozen=True)
class CrawlResult:
    source: str
    returncode: int
    stats: dict[str, Any]
    log_file: Path
    stopped: str = ""  # "timeout" or "terminated" when bioleak stopped the crawl

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.stats) and not self.stopped

    @property
    def status(self) -> str:
        """ok | failed | timeout | terminated"""
        return self.stopped or ("ok" if self.ok else "failed")

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
            "pages": int(s.get("bioleak/pages", 0)),
            "listings": {k: v for k, v in group("bioleak/listings/").items() if k != "unchanged"},
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
) -> CrawlResult:
    """Crawl `source` now, in a `scrapy crawl` subprocess. Past `timeout` seconds, or once
    `cancel` is set (a scheduler shutting down), the crawl is stopped: SIGTERM, then SIGKILL after
    `grace` seconds. `settings` are extra Scrapy settings (tests lower limits and timeouts)."""
    kind = load_sources(config.sources)[source].kind
    if log_file is None:
        log_file = config.data_dir / "runs" / f"{source}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    stats_file = log_file.with_suffix(".stats.json")
    stats_file.unlink(missing_ok=True)
    overrides = settings or {}
    settings = {
        "BIOLEAK_SOURCES": str(config.sources),
        "BIOLEAK_SOURCE": source,  # the resolver reads the source's networks before the spider exists
        "BIOLEAK_REGISTRY": str(config.registry),
        "BIOLEAK_STATE": str(config.crawl_state),
        "BIOLEAK_STORE": config.store,
        "BIOLEAK_ES_PREFIX": config.es_prefix,
        "BIOLEAK_STATS_FILE": str(stats_file),
        "LOG_FILE": str(log_file),
        "LOG_LEVEL": log_level,
        **{key: str(value) for key, value in overrides.items()},
    }
    argv = [sys.executable, "-m", "scrapy", "crawl", kind]
    for key, value in settings.items():
        argv += ["-s", f"{key}={value}"]
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawlers.settings"}
    # Its own session: Ctrl-C in the scheduler's terminal is the scheduler's to handle, not the crawl's.
    proc = subprocess.Popen(argv, cwd=config.data_dir, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    stopped = ""
    while not stopped:
        try:
            proc.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                stopped = "terminated"
            elif time.monotonic() >= deadline:
                stopped = "timeout"
    if stopped:
        _stop(proc, grace)
    returncode = proc.returncode
    stats = json.loads(stats_file.read_text("utf-8")) if stats_file.exists() else {}
    return CrawlResult(source=source, returncode=returncode, stats=stats, log_file=log_file, stopped=stopped)
