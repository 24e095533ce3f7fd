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
from crawlers.sources import load_sources


@dataclass(frozen=True)
class CrawlResult:
    source: str
    returncode: int
    stats: dict[str, Any]
    log_file: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.stats)

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


def crawl(
    config: Config,
    source: str,
    *,
    timeout: float = 600,
    log_level: str = "INFO",
    settings: dict[str, str | int | float] | None = None,
) -> CrawlResult:
    """Crawl `source` now. `settings` are extra Scrapy settings (tests lower limits and timeouts)."""
    kind = load_sources(config.sources)[source].kind
    runs = config.data_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    stats_file = runs / f"{source}.stats.json"
    log_file = runs / f"{source}.log"
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
    try:
        proc = subprocess.run(argv, cwd=config.data_dir, env=env, timeout=timeout, check=False)
        returncode = proc.returncode
    except subprocess.TimeoutExpired:
        returncode = -9
    stats = json.loads(stats_file.read_text("utf-8")) if stats_file.exists() else {}
    return CrawlResult(source=source, returncode=returncode, stats=stats, log_file=log_file)
