"""Speed report of the verifier: an example network against a program, per query.

    .venv/bin/python bench/verify_speed.py [EXAMPLE] [--program TEXT] [--repeats N]

EXAMPLE is a folder of examples/ (default mod_add_113); the program defaults to the spec's
reference. Prints the network's raw forward (ONNX Runtime, pre-encoded batch of the whole domain or
a 65,536-point sample), the program vectorized with numpy and the exported Python function in a
loop, in microseconds per query, with the speedups; then the sizes. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import oracle  # noqa: E402
from dsl import get_dsl  # noqa: E402
from oracle.encoding import encode_columns  # noqa: E402
from verifier import speed  # noqa: E402


def single_row_us(net, spec, *, calls: int = 2000, repeats: int = 5) -> float:
    """The network's latency for one query at a time (one pre-encoded row per call)."""
    row = encode_columns(spec, [np.array([i.lo]) for i in spec.inputs]).astype(np.float32)
    return speed.time_per_point(lambda: [net.run_raw(row) for _ in range(calls)], calls,
                                repeats=repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("example", nargs="?", default="mod_add_113")
    parser.add_argument("--program", default=None, help="program text (default: the reference)")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    spec = oracle.load_spec(ROOT / "examples" / args.example / "spec.json")
    net = oracle.load(spec)
    text = args.program or spec.reference
    program = get_dsl(spec.dsl).parse(text, spec.variables())
    s = speed.measure(program, net, repeats=args.repeats)
    z = speed.sizes(program, net)
    print(f"example {args.example}: program {text!r}, {s.points} points per batch, "
          f"best of {args.repeats}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, onnxruntime back-end '{net.backend}'")
    print(f"network (ONNX Runtime, batched)   {s.network_us_per_query:10.4f} us/query")
    print(f"program (numpy, vectorized)       {s.program_us_per_query:10.4f} us/query"
          f"   speedup {s.speedup:8.1f}x")
    print(f"program (Python, one call/query)  {s.python_us_per_query:10.4f} us/query"
          f"   speedup {s.python_speedup:8.1f}x")
    one = single_row_us(net, spec)
    print(f"network, one row per call         {one:10.4f} us/query"
          f"   vs Python per call {one / s.python_us_per_query:8.1f}x")
    print(f"size: program {z.program_nodes} nodes, {z.program_chars} characters of Python; "
          f"network {z.network_parameters} parameters, {z.network_bytes} bytes")


if __name__ == "__main__":
    main()
