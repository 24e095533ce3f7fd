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

    @property
    def uses_elasticsearch(self) -> bool:
        return self.store.startswith(("http://", "https://"))


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
            wanted = bool if key == "attach_thumbnails" else str
            if not isinstance(value, wanted):
                raise ConfigError(f"{toml_path}: {key} must be a {'true/false' if wanted is bool else 'string'}")
        paths = {"registry", "sources", "outbox", "crawl_state"}
        overrides: dict[str, Any] = {k: (base / v if k in paths else v) for k, v in data.items()}
        config = replace(config, **overrides)
    from_env: dict[str, Any] = {field: env[var] for field, var in ENV.items() if env.get(var)}
    if "sources" in from_env:
        from_env["sources"] = Path(from_env["sources"]).expanduser().resolve()
    config = replace(config, **from_env)
    return config
