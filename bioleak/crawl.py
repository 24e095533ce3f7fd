"""Run one source's crawl as a `scrapy crawl` subprocess (Twisted's reactor cannot restart)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bioleak.config import Config


@dataclass(frozen=True)
class CrawlResult:
    source: str
    returncode: int
    stats: dict[str, Any]
    log_file: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.stats)


def crawl(config: Config, source: str, *, timeout: float = 600, log_level: str = "INFO") -> CrawlResult:
    runs = config.data_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    stats_file = runs / f"{source}.stats.json"
    log_file = runs / f"{source}.log"
    stats_file.unlink(missing_ok=True)
    settings = {
        "BIOLEAK_SOURCES": str(config.sources),
        "BIOLEAK_REGISTRY": str(config.registry),
        "BIOLEAK_STORE": config.store,
        "BIOLEAK_ES_PREFIX": config.es_prefix,
        "BIOLEAK_STATS_FILE": str(stats_file),
        "LOG_FILE": str(log_file),
        "LOG_LEVEL": log_level,
    }
    argv = [sys.executable, "-m", "scrapy", "crawl", "listing", "-a", f"source={source}"]
    for key, value in settings.items():
        argv += ["-s", f"{key}={value}"]
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawlers.settings"}
    try:
        proc = subprocess.run(argv, cwd=config.data_dir, env=env, timeout=timeout, check=False)
        returncode = proc.returncode
    except subprocess.TimeoutExpired:
        returncode = -9
    stats = json.loads(stats_file.read_text("utf-8")) if stats_file.exists() else {}
    return CrawlResult(source=source, returncode=returncode, stats=stats, log_file=log_file)
