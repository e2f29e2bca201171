"""Oracle query throughput: 10^6 random inputs through the mod_add_113 network, cache off.

Run from the repository root: `python bench/oracle_query.py [--points N] [--batch-size B] [--threads T]`.
Prints the command line, the time and the points per second (best of `--repeat` runs, after one
warm-up query). Not a test: it asserts nothing beyond the answers being right.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import oracle  # noqa: E402


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10**6)
    parser.add_argument("--batch-size", type=int, default=65536)
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    o = oracle.load(ROOT / "examples" / "mod_add_113" / "spec.json", cache=False,
                    batch_size=args.batch_size, threads=args.threads)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 113, args.points), rng.integers(0, 113, args.points)
    o.query({"x": x[:1000], "y": y[:1000]})  # warm-up
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        got = o.query({"x": x, "y": y})
        best = min(best, time.perf_counter() - start)
    assert (got == (x + y) % 113).all()
    print("command: python " + shlex.join(["bench/oracle_query.py", *argv]))
    print(f"backend: {o.backend}, batch size {args.batch_size}, {o.parameter_count} parameters")
    print(f"{args.points} points in {best:.3f} s (best of {args.repeat}): {args.points / best:,.0f} points/second")


if __name__ == "__main__":
    main(sys.argv[1:])
