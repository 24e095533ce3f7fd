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


class CrawlProgress:
    """A crawl's counts as they change: one line rewritten on a terminal, a plain line at most
    every `every` seconds otherwise, and a finished line at the end (on interrupt too)."""

    def __init__(self, *, stream: TextIO | None = None, enabled: bool = True, every: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = self.stream.isatty()
        self.every = every
        self.started = time.monotonic()
        self._last_line = 0.0
        self._shown = False
        self.counts: dict[str, int] = {}

    def _line(self) -> str:
        c = self.counts
        elapsed = time.monotonic() - self.started
        return (f"{elapsed:5.0f}s  pages {c.get('pages', 0)}  listings {c.get('listings', 0)}"
                f"  images {c.get('images', 0)}  hits {c.get('hits', 0)}  failed {c.get('failed', 0)}")  # fmt: skip

    def update(self, counts: dict[str, int]) -> None:
        self.counts = counts
        if not self.enabled:
            return
        now = time.monotonic()
        if self.live:
            self.stream.write("\r" + self._line())
            self._shown = True
        elif now - self._last_line >= self.every:
            self.stream.write(self._line() + "\n")
            self._last_line = now
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self._shown and self.live:
            self.stream.write("\r" + self._line() + "\n")
            self.stream.flush()
