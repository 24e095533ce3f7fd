"""The closing lines every benchmark prints: one PASS/FAIL line per goal, and the exit status."""

from __future__ import annotations


def report(verdicts: list[tuple[str, bool]]) -> int:
    print()
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in verdicts) else 1
