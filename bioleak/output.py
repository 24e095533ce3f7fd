"""What every command prints: JSON lines for scripts, messages on stderr, user-facing errors."""

from __future__ import annotations

import dataclasses
import json
import sys
import unicodedata
from typing import Any


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def as_dict(obj: Any) -> Any:
    """A record (frozen dataclass) as plain data for emit_json; anything else as it is."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) and not isinstance(obj, type) else obj


def emit_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def safe_text(value: str, limit: int = 0) -> str:
    """Scraped text for a terminal: control characters (escape sequences) removed."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cf") else c for c in value)
    return cleaned[: limit - 1] + "…" if limit and len(cleaned) > limit else cleaned
