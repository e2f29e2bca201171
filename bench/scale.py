"""Distributed scaling: seconds and candidates/s to a size-9 target, in-process and on Ray with 1
and 2 workers, parallel efficiency, and the driver's per-level merge time. Not a test.

    .venv/bin/python bench/scale.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from synth.distributed import RayExecutor          # noqa: E402
from synth.engine import Enumerator, InProcess     # noqa: E402
from test_distributed import hard_target, enumerator, sample   # noqa: E402

ITEMS = 1 << 14


def timed_search(executor):
    merge = [0.0]
    original = Enumerator._merge

    def timed_merge(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return original(self, *a, **k)
        finally:
            merge[0] += time.perf_counter() - t0

    Enumerator._merge = timed_merge
    try:
        env = sample()
        enum = enumerator(env, hard_target(env), item_candidates=ITEMS)
        tried, start = 0, time.perf_counter()
        for size in range(2, 12):
            out = enum.grow(size, executor, check=lambda c: None)
            tried += out.candidates
            if out.hit is not None:
                break
        return time.perf_counter() - start, tried, merge[0], size
    finally:
        Enumerator._merge = original


def main() -> None:
    print("command:", " ".join([os.path.relpath(sys.executable), *sys.argv]))
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    rows = [("in-process", InProcess())]
    ray1 = RayExecutor(2, task_candidates=ITEMS, in_flight=1)
    ray1.workers = 1
    rows += [("ray, 1 worker", ray1), ("ray, 2 workers", RayExecutor(2, task_candidates=ITEMS))]
    timed_search(rows[1][1])                       # warm the Ray workers up once
    base = None
    for name, executor in rows:
        seconds, tried, merge, levels = timed_search(executor)
        if name == "ray, 1 worker":
            base = seconds
        eff = f"  efficiency {base / seconds / 2:.0%}" if name == "ray, 2 workers" else ""
        print(f"{name:15} {seconds:7.2f} s to size {levels}  {tried / seconds:>12,.0f} tried/s  "
              f"merge {merge * 1000:6.1f} ms total{eff}")
    rows[2][1].close()
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
