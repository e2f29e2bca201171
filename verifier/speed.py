"""Speed and size: the network against the program it was turned into.

`time_per_point(fn, points)` runs `fn()` `repeats` times and keeps the best wall time
(`time.perf_counter`) divided by the number of points it handles, in microseconds. `compare_speed`
times three things in the same process on the same inputs: the raw network forward on pre-encoded
float32 rows (the oracle's encoding and decoding and its cache are left out: this is the network's
own cost), the program vectorized with `dsl.evaluate` on numpy columns, and the exported Python
function called in a loop (on the first `python_points` points, since it is slow). Ratios are
network time over program time, so a speedup above 1 means the program is faster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from dsl import DSL, Node, compile_python, evaluate, size, to_python


@dataclass(frozen=True)
class Speed:
    network_us_per_query: float
    program_us_per_query: float
    python_us_per_query: float
    points: int

    @property
    def speedup(self) -> float:
        return self.network_us_per_query / self.program_us_per_query

    @property
    def python_speedup(self) -> float:
        return self.network_us_per_query / self.python_us_per_query

    def to_dict(self) -> dict[str, float]:
        return {"network_us_per_query": self.network_us_per_query,
                "program_us_per_query": self.program_us_per_query,
                "python_us_per_query": self.python_us_per_query,
                "speedup": self.speedup, "python_speedup": self.python_speedup}


@dataclass(frozen=True)
class Size:
    program_nodes: int
    program_chars: int
    network_parameters: int
    network_bytes: int | None

    def to_dict(self) -> dict[str, int | None]:
        return {"program_nodes": self.program_nodes, "program_chars": self.program_chars,
                "network_parameters": self.network_parameters, "network_bytes": self.network_bytes}


def time_per_point(fn: Callable[[], Any], points: int, *, repeats: int = 5) -> float:
    """Best of `repeats` timings of `fn()`, in microseconds per point (never zero)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-9) * 1e6 / points


def compare_speed(program: Node, columns: Mapping[str, np.ndarray], network: Callable[[], Any], *,
                  repeats: int = 5, python_points: int = 20_000, dsl: DSL | None = None) -> Speed:
    """Time `network()` (one forward over all the points of `columns`) against the program.

    `columns` maps every input name, in input order, to a 1-D array; `network` must process
    exactly those points (for instance `lambda: oracle.run_raw(encoded)`).
    """
    names = list(columns)
    n = len(next(iter(columns.values())))
    if n == 0:
        raise ValueError("compare_speed: expected at least one point, got none")
    f = compile_python(program, names, dsl=dsl)
    rows = list(zip(*(columns[k][:python_points].tolist() for k in names)))

    def python_loop() -> None:
        for row in rows:
            f(*row)

    network()  # warm-up: first runs allocate
    return Speed(network_us_per_query=time_per_point(network, n, repeats=repeats),
                 program_us_per_query=time_per_point(lambda: evaluate(program, columns, dsl=dsl),
                                                     n, repeats=repeats),
                 python_us_per_query=time_per_point(python_loop, len(rows), repeats=repeats),
                 points=n)


def measure(program: Node, oracle: Any, *, max_points: int = 65_536, seed: int = 0,
            repeats: int = 5, dsl: DSL | None = None) -> Speed:
    """`compare_speed` on up to `max_points` points of `oracle`'s domain, as encoded rows."""
    from oracle import sampling
    from oracle.encoding import encode_columns

    spec = oracle.spec
    columns = sampling.domain(spec) if spec.domain_size() <= max_points else None
    if columns is None:
        columns = sampling.sample(spec, max_points, seed=seed)
    encoded = np.ascontiguousarray(encode_columns(spec, columns), dtype=np.float32)
    return compare_speed(program, columns, lambda: oracle.run_raw(encoded), repeats=repeats,
                         dsl=dsl)


def sizes(program: Node, oracle: Any, *, dsl: DSL | None = None) -> Size:
    """The program's nodes and exported source length against the network's parameters and bytes."""
    source = to_python(program, list(oracle.spec.input_names), dsl=dsl)
    return Size(size(program), len(source), int(oracle.parameter_count),
                None if oracle.model_bytes is None else int(oracle.model_bytes))
