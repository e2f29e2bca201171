"""The compositional split (synth/real/compose.py, AI Feynman 2.0): f(x, y, z) = g(h(x, y), z).

On exp(-(x^2 + y^2) / z), which no symmetry of a pair, no separable split and no transform of y
takes apart: the inner function is found from gradient directions alone (checked by sympy: its
gradient is parallel to that of x^2 + y^2), the task over u = h(x, y) answers g(u, z) (checked
against exp(-u / z) written here), and the whole search returns the law (sympy) from an oracle
with 1e-3 relative noise.
"""

from __future__ import annotations

import time

import numpy as np
import sympy

from dsl.formats import to_sympy
from dsl.language import get_dsl
from dsl.types import REAL as REAL_T
from synth.real import compose, fit, probes
from synth.real.solve import Solver
from synth.real.task import Task

REAL = get_dsl("real")
NAMES = ("x", "y", "z")
RANGES = ((1.0, 3.0), (1.0, 3.0), (5.0, 10.0))


def law(X: np.ndarray) -> np.ndarray:
    return np.exp(-(X[:, 0] ** 2 + X[:, 1] ** 2) / X[:, 2])


def noisy(seed: int = 0) -> Task:
    rng = np.random.default_rng(seed)
    return Task(NAMES, RANGES, lambda X: law(X) * (1 + 1e-3 * rng.standard_normal(len(X))))


def test_the_inner_function_is_found_from_gradient_directions() -> None:
    task = noisy()
    X, y = task.sample(2000, np.random.default_rng(2))
    sigma = probes.calibrate(X, y) * fit.spread(y)      # the network's absolute error, as the search has it
    assert probes.compositional(task, [0, 1], noise=sigma).present
    found = compose.inner(task, [0, 1], noise=sigma)
    assert found is not None
    x, y = sympy.symbols("x y", positive=True)
    h = to_sympy(found[0], dsl=REAL)
    h = h.xreplace({s: {"x": x, "y": y}[s.name] for s in h.free_symbols})
    # h's gradient is parallel to that of x^2 + y^2: h is a function of x^2 + y^2
    assert sympy.simplify(sympy.diff(h, x) * y - sympy.diff(h, y) * x) == 0, h


def test_the_composed_task_answers_the_outer_function() -> None:
    task = Task(NAMES, RANGES, law)                 # exact values: the level sets are checked
    inner = REAL.parse("x ** 2 + y ** 2", {"x": REAL_T, "y": REAL_T})
    sub = compose.composed(task, [0, 1], inner, "u")
    assert sub.names == ("u", "z")
    (lo, hi), z_range = sub.ranges
    assert 2.0 <= lo < hi <= 18.0 and z_range == RANGES[2]
    rng = np.random.default_rng(3)
    U = np.column_stack([rng.uniform(lo, hi, 500), rng.uniform(*z_range, 500)])
    got = sub.query(U)
    want = np.exp(-U[:, 0] / U[:, 1])
    assert np.max(np.abs(got - want) / want) < 1e-9


def test_the_search_splits_by_composition_and_finds_the_law() -> None:
    task = noisy(1)
    X, y = task.sample(2000, np.random.default_rng(2))
    solver = Solver(noise=probes.calibrate(X, y), scale=fit.spread(y), deadline=time.monotonic() + 120)
    node = solver.solve(task)
    assert node is not None
    assert any(f.kind == "compositional" for f in solver.findings), solver.findings
    symbols = {n: sympy.Symbol(n, positive=True) for n in NAMES}
    got = to_sympy(node, dsl=REAL)
    got = got.xreplace({s: symbols[s.name] for s in got.free_symbols})
    want = sympy.exp(-(symbols["x"] ** 2 + symbols["y"] ** 2) / symbols["z"])
    assert sympy.simplify(sympy.nsimplify(got, rational=True) - want) == 0, REAL.show(node)
