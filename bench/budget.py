"""How well a time budget holds, loading and verification included (issue 21, item 4).

Runs `netsynth.extract` on examples/noisy_add (no program is right everywhere, so the search runs
until its budget) with several `timeout`s and prints the wall time of the whole call against the
budget, and the search's own share.

    .venv/bin/python bench/budget.py [--timeouts 8 20 40]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import netsynth  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeouts", type=float, nargs="+", default=[8.0, 20.0, 40.0])
    args = parser.parse_args()
    example = ROOT / "examples" / "noisy_add"
    print(f"{'budget':>7} {'wall':>7} {'search':>7} {'over':>6}  stop")
    for budget in args.timeouts:
        began = time.perf_counter()
        report = netsynth.extract(example / "model.onnx", example / "spec.json", timeout=budget,
                                  max_size=30)
        wall = time.perf_counter() - began
        print(f"{budget:7.1f} {wall:7.2f} {report.search.seconds:7.2f} {wall - budget:+6.2f}  "
              f"{report.stop_reason.value}")


if __name__ == "__main__":
    main()
