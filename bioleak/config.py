"""Configuration: defaults for one machine, overridden by bioleak.toml, then by environment.

Precedence (highest first): environment variables, `--data-dir`, `$BIOLEAK_HOME/bioleak.toml`,
defaults. With nothing configured everything lives under ./bioleak-data (SQLite, outbox).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ENV = {
    "store": "BIOLEAK_ES_URL",  # an Elasticsearch URL selects the Elasticsearch store
    "es_prefix": "BIOLEAK_ES_PREFIX",
    "smtp_url": "BIOLEAK_SMTP_URL",
    "sender": "BIOLEAK_SENDER",
    "sources": "BIOLEAK_SOURCES",
    "operator_email": "BIOLEAK_OPERATOR_EMAIL",
}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    data_dir: Path
    store: str  # SQLite path, or an http(s) Elasticsearch URL
    registry: Path
    sources: Path
    outbox: Path
    crawl_state: Path  # what earlier crawls processed (incremental crawling)
    es_prefix: str = "bioleak"
    smtp_url: str = ""  # empty: messages go to the outbox only
    sender: str = "bioleak@localhost"
    # Attach thumbnails of matched (leaked) images to alerts; off: only the facts leave bioleak.
    attach_thumbnails: bool = False
    # The scheduler (bioleak schedule) and every crawl run through it or `bioleak crawl`:
    operator_email: str = ""  # told once when a source keeps failing, once when it recovers
    failure_alert_after: int = 3  # consecutive failed runs of a source before the operator is told
    crawl_timeout: float = 3600.0  # wall-clock seconds before a crawl is stopped
    alert_interval: float = 60.0  # seconds between alert dispatcher passes
    misfire_grace: int = 600  # seconds late a missed scheduled run may still start (once)
    shutdown_timeout: float = 60.0  # seconds running crawls get to finish on SIGTERM before being stopped
    # Scheduled crawls of a source at most this often (seconds): a schedule more frequent is refused.
    min_schedule_interval: float = 300.0
    # A crawl is `degraded` when more than this share of the pages it asked for failed.
    page_failure_share: float = 0.25

    @property
    def uses_elasticsearch(self) -> bool:
        return self.store.startswith(("http://", "https://"))


_KINDS: dict[type, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "true or false"),
    int: ((int,), "a whole number"),
    float: ((int, float), "a number"),
}


def _check_type(path: Path, key: str, value: Any) -> None:
    default = getattr(defaults(Path()), key)
    accepted, words = _KINDS.get(type(default), ((str,), "a string"))
    if (isinstance(value, bool) and bool not in accepted) or not isinstance(value, accepted):
        raise ConfigError(f"{path}: {key} must be {words}, got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
        raise ConfigError(f"{path}: {key} must be more than 0, got {value!r}")


def defaults(data_dir: Path) -> Config:
    return Config(
        data_dir=data_dir,
        store=str(data_dir / "bioleak.sqlite3"),
        registry=data_dir / "registry.sqlite3",
        sources=data_dir / "sources.yaml",
        outbox=data_dir / "outbox",
        crawl_state=data_dir / "crawl-state.sqlite3",
    )


def load(data_dir: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if environ is None else environ)
    base = Path(data_dir or env.get("BIOLEAK_HOME") or "bioleak-data").expanduser().resolve()
    config = defaults(base)
    toml_path = base / "bioleak.toml"
    if toml_path.exists():
        try:
            data = tomllib.loads(toml_path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_path}: {exc}") from exc
        known = set(Config.__dataclass_fields__) - {"data_dir"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{toml_path}: unknown key(s): {', '.join(sorted(unknown))}")
        for key, value in data.items():
            _check_type(toml_path, key, value)
        paths = {"registry", "sources", "outbox", "crawl_state"}
        overrides: dict[str, Any] = {k: (base / v if k in paths else v) for k, v in data.items()}
        config = replace(config, **overrides)
    from_env: dict[str, Any] = {field: env[var] for field, var in ENV.items() if env.get(var)}
    if "sources" in from_env:
        from_env["sources"] = Path(from_env["sources"]).expanduser().resolve()
    config = replace(config, **from_env)
    return config
