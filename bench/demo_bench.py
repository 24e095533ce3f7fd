"""How long `bioleak demo` takes, against the floor it cannot go below.

The demo runs two crawls, each a fresh `scrapy crawl` subprocess (DESIGN.md: the reactor cannot
restart). The baseline, measured in the same run, is two bare Scrapy start-ups (`scrapy version`):
everything above it is bioleak's own work. Goal (issue 2): under 60 s on 2 cores.

    python bench/demo_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

from bioleak.demo.run import run_demo

GOAL_SECONDS = 60.0


def scrapy_startup() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "scrapy", "version"], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    baseline = [scrapy_startup() + scrapy_startup() for _ in range(args.runs)]
    demo = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            summary = run_demo(f"{tmp}/ws", progress=lambda _m: None)
            if not summary.ok:
                print("demo failed its truth check:", summary.truth_errors + summary.crawl_failures)
                return 1
            demo.append(summary.seconds)

    base, total = statistics.median(baseline), statistics.median(demo)
    print(f"runs: {args.runs}")
    print(f"baseline  2x scrapy start-up   median {base:6.2f} s  (min {min(baseline):.2f})")
    print(f"bioleak demo end to end        median {total:6.2f} s  (min {min(demo):.2f}, max {max(demo):.2f})")
    print(f"demo over baseline             {total - base:6.2f} s  ({total / base:.1f}x the start-up floor)")
    verdict = "PASS" if max(demo) < GOAL_SECONDS else "FAIL"
    print(f"goal < {GOAL_SECONDS:.0f} s: {verdict} (worst run {max(demo):.2f} s)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
