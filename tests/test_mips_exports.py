"""Every MIPS task the benchmark counts as solved has a program that runs as exported Python.

The rows are bench/mips/results-network*.json (what docs/stateful.md's table is printed from;
later result files win, as `run.py --table` reads them). For each solved row, the program's text is
read back (`Stateful.parse`), exported as plain Python (`to_python`: a loop, no import) and as
numpy (`to_numpy`), each executed in a fresh namespace as a user pasting it would, and both are
compared with the task's definition (bench/mips/tasks.py, numpy, independent of the DSL) on every
sequence of up to 6 steps where there are at most 4,096 of them, and on random sequences of twice
the training length. Fast tier: no network is opened.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from bench_kit import BENCH, bench_module
from dsl.stateful import Stateful
from dsl.types import INT

tasks = bench_module("mips", "tasks")
RESULTS = BENCH / "mips"


def solved_rows() -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for path in [RESULTS / "results-network.json", *sorted(RESULTS.glob("results-network-*.json"))]:
        if path.exists():
            rows.update(json.loads(path.read_text()))
    return {name: r for name, r in rows.items() if r.get("solved_in_time")}


SOLVED = solved_rows()


def sequences(task, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches (n, T, D): every short sequence while there are at most 4,096, then random ones."""
    letters = np.array(list(itertools.product(range(task.lo, task.hi + 1), repeat=task.dim)))
    out = []
    for t in range(1, 7):
        if len(letters) ** t > 4096:
            break
        out.append(letters[np.array(list(itertools.product(range(len(letters)), repeat=t)))])
    out.append(task.sample(300, 2 * task.seq_len, rng))
    return out


def test_the_results_hold_solved_rows() -> None:
    assert len(SOLVED) >= 40, sorted(SOLVED)


@pytest.mark.parametrize("name", sorted(SOLVED))
def test_a_solved_programs_exports_equal_the_definition(name: str) -> None:
    task = tasks.BY_NAME[name]
    names = ["x"] if task.dim == 1 else ["a", "b"]
    program = Stateful.parse(SOLVED[name]["program"], {n: INT for n in names})
    plain: dict = {}
    exec(compile(program.to_python("f"), f"{name}.py", "exec"), plain)       # standalone: no import
    vectorised: dict = {}
    exec(compile(program.to_numpy("g"), f"{name}_numpy.py", "exec"), vectorised)
    for x in sequences(task, np.random.default_rng(7)):
        want = task.truth(x)
        assert np.array_equal(vectorised["g"](x if task.dim > 1 else x[..., 0]), want), name
        for i in range(0, len(x), max(1, len(x) // 200)):       # the loop on up to ~200 of them
            steps = [int(s[0]) if task.dim == 1 else tuple(int(v) for v in s) for s in x[i]]
            assert plain["f"](steps) == want[i].tolist(), (name, steps)
