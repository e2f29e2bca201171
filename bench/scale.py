"""Distributed scaling: candidates/s of one full enumeration level in-process and on Ray with 1
and 2 workers, the ratio 2 workers / 1 worker, and what the driver does per level. Not a test.

    RAY_USAGE_STATS_ENABLED=0 .venv/bin/python bench/scale.py [--repeat N] [--ceiling]

Workload: the operators of tests/test_distributed.py (add, sub, mul, &, ^, <<, no `ite`), leaves
x, y, 1, 2, 3, 4, 8, 16, x and y drawn in [0, 255] at 64 points (`sample()` of the tests), an
unreachable target (every level runs to its end), work items of 2^16 candidates, every level
through the compiled kernels. Levels 3, 5, 7 are grown untimed: they warm the Ray workers up,
kernels included (each process loads them once, about 0.5 s); level 9 (9.1M candidates, 3.15M
new distinct rows, 0.5 GB of narrow rows) is the measurement. Each configuration runs in its own
Python process; the Ray ones start their own `ray.init(address="local", num_cpus=W)` (W = 1 or 2)
and use `RayExecutor(W)` with its defaults. A level that stops early (memory cap, ...) is
reported as invalid, never as a figure.

`--ceiling` also times what no distribution can beat on this machine: one process growing the
level in-process, against two processes started together, each growing it from half of the work
items (by candidates) alone: no Ray, no deduplication across the halves.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

ITEMS = 1 << 16
LITERALS = (1, 2, 3, 4, 8, 16)
WARM, MEASURED = (3, 5, 7), 9


def enumerator(points: int = 64):
    import numpy as np

    from dsl.ast import Var, const
    from dsl.language import get_dsl
    from dsl.types import BOOL, INT
    from synth.int_engine.engine import Enumerator, productions_of
    from test_distributed import OPS, sample

    env = sample(points)
    unreachable = np.random.default_rng(2).integers(1 << 40, 1 << 41, len(env["x"]))
    dsl = get_dsl("int")
    productions = [p for p in productions_of(dsl, [INT, BOOL], exclude=["ite"]) if p.op in OPS]
    return Enumerator(dsl=dsl, dsl_key="int", env=env,
                      leaves={INT: [Var("x"), Var("y"), *(const(c) for c in LITERALS)]},
                      productions=productions, target=unreachable, target_type=INT,
                      need=len(unreachable), max_size_by_type={BOOL: 3}, item_candidates=ITEMS,
                      kernel_min_level=0)


def run_case(workers: int, points: int = 64, measured: int = MEASURED) -> dict:
    """One configuration, in this process: 0 = in-process, W >= 1 = Ray with W CPUs."""
    from synth.int_engine.engine import Enumerator, InProcess
    from synth.int_engine.memory import tune_allocator

    tune_allocator()                               # as synth.search.run does
    if workers:
        from synth.int_engine.distributed import RayExecutor, start_ray

        start_ray(workers)
        executor = RayExecutor(workers)
    else:
        executor = InProcess()
    merge, rows = [0.0], [0]
    original = Enumerator._merge

    def timed_merge(self, size, pending, alive):
        rows[0] += sum(len(s.fps) for shards in pending.values() for s in shards)
        t0 = time.perf_counter()
        try:
            return original(self, size, pending, alive)
        finally:
            merge[0] += time.perf_counter() - t0

    Enumerator._merge = timed_merge
    enum = enumerator(points)
    for size in range(3, measured, 2):
        out = enum.grow(size, executor, check=lambda c: None)
        assert out.stop is None, out.stop
    merge[0], rows[0] = 0.0, 0
    stats0 = dict(getattr(executor, "stats", {}))
    cpu0, t0 = time.process_time(), time.perf_counter()
    out = enum.grow(measured, executor, check=lambda c: None)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    stats = {k: v - stats0.get(k, 0) for k, v in getattr(executor, "stats", {}).items()}
    executor.close()
    return {"seconds": seconds, "candidates": out.candidates, "distinct": out.distinct,
            "stop": None if out.stop is None else out.stop.name, "merge": merge[0], "shard_rows": rows[0],
            "driver_cpu": cpu, "stats": stats}


def run_slices(parts: int, points: int = 64, measured: int = MEASURED) -> list[float]:
    """The ceiling of any distribution on this machine: `parts` processes, started together,
    each grows the level from its own contiguous share of the work items, in-process (no Ray,
    no deduplication across shares, each merging only its own rows). Seconds of each."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(parts), ctx.Queue()
    procs = [ctx.Process(target=_slice, args=(k, parts, points, measured, barrier, results))
             for k in range(parts)]
    for proc in procs:
        proc.start()
    seconds = [results.get(timeout=600) for _ in procs]     # a share that dies fails here
    for proc in procs:
        proc.join()
    return seconds


def _slice(part: int, parts: int, points: int, measured: int, barrier, results) -> None:
    from synth.int_engine.engine import InProcess
    from synth.int_engine.memory import tune_allocator

    class Share(InProcess):
        def map(self, inputs, items):
            total, done, mine = sum(i.candidates for i in items), 0, []
            for item in items:
                if part * total <= done * parts < (part + 1) * total:
                    mine.append(item)
                done += item.candidates
            yield from super().map(inputs, mine)

    tune_allocator()
    enum = enumerator(points)
    for size in range(3, measured, 2):
        enum.grow(size, InProcess(), check=lambda c: None)
    barrier.wait()                          # every share starts its level at once
    t0 = time.perf_counter()
    enum.grow(measured, Share(), check=lambda c: None)
    results.put(time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--points", type=int, default=64,
                        help="sample points (fewer: fewer new rows per candidate, more compute)")
    parser.add_argument("--level", type=int, default=MEASURED, help="the measured (odd) size")
    parser.add_argument("--ceiling", action="store_true",
                        help="also time 1 and 2 processes growing shares of the level alone")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(args.case, args.points, args.level)))
        return
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    print("command:", " ".join([os.path.relpath(sys.executable), *sys.argv]))
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    names = {0: "in-process", 1: "ray, 1 worker", 2: "ray, 2 workers"}
    rates: dict[int, list[float]] = {}
    for rep in range(args.repeat):
        for case, name in names.items():
            done = subprocess.run([sys.executable, __file__, "--case", str(case), "--points",
                                   str(args.points), "--level", str(args.level)], check=True,
                                  capture_output=True, text=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            if r["stop"] is not None:
                print(f"{name:15} INVALID: level {args.level} stopped early ({r['stop']})")
                continue
            rate = r["candidates"] / r["seconds"]
            rates.setdefault(case, []).append(rate)
            extra = "  ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v:,}"
                              for k, v in r["stats"].items())
            print(f"{name:15} level {args.level}: {r['candidates']:,} tried, {r['distinct']:,} new,"
                  f" {r['shard_rows'] - r['distinct']:,} found twice, {r['seconds']:6.2f} s, {rate:>11,.0f} tried/s, merge {r['merge']:.2f} s, "
                  f"driver cpu {r['driver_cpu']:.2f} s  {extra}", flush=True)
    if args.ceiling:
        for rep in range(args.repeat):
            one, two = run_slices(1, args.points, args.level), run_slices(2, args.points, args.level)
            print(f"no Ray, shares grown alone: 1 process {one[0]:.2f} s, 2 processes "
                  f"{max(two):.2f} s (slowest of {two[0]:.2f}, {two[1]:.2f}): "
                  f"{one[0] / max(two):.2f}x", flush=True)
    if rates.get(1) and rates.get(2):
        best = {c: max(v) for c, v in rates.items()}
        print(f"ratio 2 workers / 1 worker (best of {args.repeat}): {best[2] / best[1]:.2f}x")
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
