"""``make bench``: run every ``bench/bench_*.py`` in turn and print its numbers.

Benchmarks print numbers; they never assert timings. Each module exposes ``main()``.
"""
from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    only = sys.argv[1:]
    for path in sorted((ROOT / "bench").glob("bench_*.py")):
        if only and path.stem not in only:
            continue
        print(f"\n== {path.stem}", flush=True)
        began = time.perf_counter()
        importlib.import_module(f"bench.{path.stem}").main()
        print(f"   ({time.perf_counter() - began:.1f}s)", flush=True)


if __name__ == "__main__":
    main()
