"""Progress on stderr for long work: a live line on a terminal, occasional lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.live = self.stream.isatty()
        self.done = 0
        self.started = time.monotonic()
        self._every = max(1, total // 10)  # ten lines when not on a terminal

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.enabled and (self.live or self.done % self._every == 0 or self.done == self.total):
            self._write()

    def _write(self) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate else 0.0
        line = f"{self.label} {self.done}/{self.total} ({100 * self.done // self.total}%) {rate:.0f}/s eta {eta:.0f}s"
        if self.live:
            self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
