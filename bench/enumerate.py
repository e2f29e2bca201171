"""Enumeration throughput on one core, in-process: candidates tried and distinct rows per second;
then seconds to solution on each example network. Not a test.

Fixed workload: the int DSL without `ite` over x, y sampled in [0, 255] (256 points), literals
{0, 1, 2, 3, 4, 8, 16, 255}, sizes 2..MAX for a target no program reaches. Levels of 2^20
candidates or more run through compiled kernels; the figures include loading them (or, the first
time on a machine, compiling them), and the last lines say which happened.

    .venv/bin/python bench/enumerate.py [--max-size 6] [--no-examples]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from dsl.ast import Var, const
from dsl.language import get_dsl
from dsl.types import BOOL, INT
from synth.int_engine.engine import Enumerator, InProcess, productions_of
from synth.int_engine.memory import tune_allocator


def workload(points: int = 256, seed: int = 0) -> Enumerator:
    rng = np.random.default_rng(seed)
    env = {"x": rng.integers(0, 256, points), "y": rng.integers(0, 256, points)}
    dsl = get_dsl("int")
    unreachable = rng.integers(1 << 40, 1 << 41, points)
    return Enumerator(dsl=dsl, dsl_key="int", env=env,
                      leaves={INT: [Var("x"), Var("y")] + [const(c) for c in
                                                           (0, 1, 2, 3, 4, 8, 16, 255)]},
                      productions=productions_of(dsl, [INT, BOOL], exclude=["ite"]),
                      target=unreachable, target_type=INT, need=points,
                      max_size_by_type={BOOL: 3})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-size", type=int, default=6)
    parser.add_argument("--no-examples", action="store_true")
    args = parser.parse_args()
    tune_allocator()
    print("command:", " ".join([os.path.relpath(sys.executable), *sys.argv]))
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    enum, executor = workload(), InProcess()
    tried = distinct = 0
    start = time.perf_counter()
    for size in range(2, args.max_size + 1):
        t0 = time.perf_counter()
        out = enum.grow(size, executor, check=lambda c: None)
        dt = time.perf_counter() - t0
        tried, distinct = tried + out.candidates, distinct + out.distinct
        print(f"size {size}: {out.candidates:>12,} tried {out.distinct:>10,} distinct "
              f"{dt:8.2f} s  {out.candidates / max(dt, 1e-9):>12,.0f} tried/s")
    total = time.perf_counter() - start
    print(f"total: {tried:,} tried, {distinct:,} distinct in {total:.2f} s = "
          f"{tried / total:,.0f} tried/s, {distinct / total:,.0f} distinct/s (one core)")
    from synth.int_engine.kernels import counts

    loaded, compiled = counts()
    print(f"kernels (levels of {enum.kernel_min_level:,}+ candidates: sizes "
          f"{enum.compiled_levels}): {loaded} loaded from the disk cache, {compiled} compiled "
          f"in this run")
    if not args.no_examples:
        examples()
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


def examples() -> None:
    """Seconds to solution per example network: search only, one worker, in-process."""
    from pathlib import Path

    from netsynth.api import synthesize
    from synth.options import SearchOptions

    root = Path(__file__).resolve().parents[1] / "examples"
    for spec in sorted(root.glob("*/spec.json")):
        agreement = 0.95 if spec.parent.name == "noisy_add" else 1.0
        t0 = time.perf_counter()
        report = synthesize(spec, options=SearchOptions(workers=1, min_agreement=agreement),
                            verify=False)
        total = time.perf_counter() - t0
        s = report.search
        print(f"{spec.parent.name:12} {report.status.value:8} {report.text!s:24} search "
              f"{s.seconds:6.2f} s ({s.candidates:>9,} tried), with loading and the "
              f"final fidelity check {total:6.2f} s")


if __name__ == "__main__":
    main()
