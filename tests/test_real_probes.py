"""Probes and fitting of the real family on analytic functions (no network: exact values).

Each probe must find the structure planted in a function and report none where there is none;
constant fitting must recover planted constants; snapping must keep a fitted value that is not
simple.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsl.language import get_dsl
from synth.real import fit, leaf, probes
from synth.real.task import Task

D = get_dsl("real")
SIGMA = 1e-9          # exact functions: only rounding


def task(f, k=3, lo=1.0, hi=3.0) -> Task:
    return Task(("x", "y", "z")[:k], ((lo, hi),) * k, lambda X: f(*X.T))


SYMMETRIES = [
    (lambda x, y, z: (x - y) * z, (0, 1), "sub"),
    (lambda x, y, z: np.sin(x / y) + z, (0, 1), "div"),
    (lambda x, y, z: np.exp(-x * y) * z, (0, 1), "mul"),
    (lambda x, y, z: np.sqrt(x + y) / z, (0, 1), "add"),
]


@pytest.mark.parametrize("f, pair, kind", SYMMETRIES)
def test_planted_symmetry_found_and_no_other(f, pair, kind) -> None:
    t = task(f)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        for other in probes.PAIRS:
            found = probes.symmetry(t, i, j, other, noise=SIGMA).present
            assert found == ((i, j) == pair and other == kind), (i, j, other)


@pytest.mark.parametrize("f, group, kind", [
    (lambda x, y, z: np.sin(x) + y ** 2 * z, 0, "add"),
    (lambda x, y, z: x * np.exp(y) * np.cos(z), 0, "mul"),
    (lambda x, y, z: x * np.exp(y) * np.cos(z), 2, "mul"),
])
def test_planted_separability(f, group, kind) -> None:
    t = task(f)
    assert probes.separable(t, [group], kind, noise=SIGMA).present
    other = "mul" if kind == "add" else "add"
    assert not probes.separable(t, [group], other, noise=SIGMA).present


def test_no_structure_where_there_is_none() -> None:
    t = task(lambda x, y, z: np.sin(x * y + z) + x * z ** 2)
    for i in range(3):
        for kind in ("add", "mul"):
            assert not probes.separable(t, [i], kind, noise=SIGMA).present
        for j in range(i + 1, 3):
            for kind in probes.PAIRS:
                assert not probes.symmetry(t, i, j, kind, noise=SIGMA).present


def test_compositionality_from_gradients() -> None:
    t = task(lambda x, y, z: np.sqrt(x ** 2 + y ** 2) * z + z ** 2)       # g(h(x, y), z)
    assert probes.compositional(t, [0, 1], noise=SIGMA).present
    t = task(lambda x, y, z: x * z + y)                                   # no h(x, y)
    assert not probes.compositional(t, [0, 1], noise=SIGMA).present


@pytest.mark.parametrize("f, pair, power", [
    (lambda x, y, z: np.exp(-(x / y) ** 2 / 2) / y * z, (0, 1), -1.0),    # a Gaussian's density
    (lambda x, y, z: np.sqrt(x ** 2 + y ** 2 - x * y * np.cos(z)), (0, 1), 1.0),
    (lambda x, y, z: x ** 2 * np.sin(y / x) * z, (1, 0), 2.0),
])
def test_planted_homogeneity_found_with_its_power(f, pair, power) -> None:
    t = task(f)
    found, p = probes.homogeneous(t, *pair, noise=SIGMA)
    assert found.present and p == power, (found, p)


def test_homogeneity_with_a_variable_of_either_sign() -> None:
    """theta - theta1 takes both signs: the Gaussian is still sigma^-1 times a function of
    u / sigma, and the task over u / sigma (of f * sigma) is that function, exactly."""
    from synth.real.task import merged

    f = lambda X: np.exp(-(X[:, 0] / X[:, 1]) ** 2 / 2) / X[:, 1] * X[:, 2]  # noqa: E731
    t = Task(("u", "sigma", "z"), ((-2.0, 2.0), (1.0, 3.0), (1.0, 3.0)), f)
    found, p = probes.homogeneous(t, 0, 1, noise=SIGMA)
    assert found.present and p == -1.0, (found, p)
    sub = merged(t, 0, 1, "div", "w", power=p)
    assert sub.ranges[0] == (-2.0, 2.0)
    W = np.column_stack([np.linspace(-1.9, 1.9, 21), np.full(21, 2.0)])
    assert np.allclose(sub.query(W), np.exp(-W[:, 0] ** 2 / 2) * 2.0, rtol=1e-12, atol=0)


def test_no_homogeneity_where_there_is_none() -> None:
    for f in (lambda x, y, z: np.sin(x * y + z) + x * z ** 2,            # none at all
              lambda x, y, z: np.sin(x / y) + z):                        # degree 0: a symmetry
        t = task(f)
        for i in range(3):
            for j in range(3):
                if i != j:
                    assert not probes.homogeneous(t, i, j, noise=SIGMA)[0].present, (i, j)


def test_calibration_bounds_the_noise() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, (2000, 2))
    y = X[:, 0] * X[:, 1]
    assert probes.calibrate(X, y) == 3e-4                               # a polynomial: the floor
    noisy = y + 1e-3 * np.std(y) * rng.normal(size=len(y))
    assert 5e-4 < probes.calibrate(X, noisy) <= 2e-3


def test_constant_fitting_recovers_planted_constants() -> None:
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 4, (300, 1))
    y = 2.37 * np.exp(-0.61 * X[:, 0])
    start = D.parse("2 * exp(-1 * t)", {"t": D.operators["add"].arg_types[0]})
    node, err = fit.refine(start, X, y, ["t"])
    a, b = fit.literals(node)
    assert a == pytest.approx(2.37, rel=1e-8) and b == pytest.approx(-0.61, rel=1e-8)
    assert err < 1e-10


def test_snapping() -> None:
    assert any(v == pytest.approx(math.pi / 4) for v, _ in fit.simple_values(0.7853981))
    rng = np.random.default_rng(2)
    X = rng.uniform(1, 2, (200, 1))
    y = X[:, 0] / (4 * math.pi) * (1 + 1e-4 * rng.normal(size=200))
    shape = D.parse("0.0795 * x", {"x": D.operators["add"].arg_types[0]})
    node, _ = fit.refine(shape, X, y, ["x"])
    snapped, _ = fit.snap(node, X, y, ["x"], tol=1e-3)
    assert D.show(snapped) == "1 / pi / 4 * x"
    y2 = 2.37 * X[:, 0]
    kept, _ = fit.snap(D.parse("2.37 * x", {"x": D.operators["add"].arg_types[0]}), X, y2, ["x"], tol=1e-3)
    assert D.show(kept) == "2.37 * x"


@pytest.mark.parametrize("law, expected", [
    (lambda x, y: x * y ** 2 / (4 * math.pi), "x * y ** 2 / (4 * pi)"),
    (lambda x, y: 1.5 * x ** 2 + y, "y + 1.5 * x ** 2"),
])
def test_leaf_solvers_recover_laws(law, expected) -> None:
    import sympy

    rng = np.random.default_rng(3)
    X = rng.uniform(1, 3, (200, 2))
    found = leaf.solve(X, law(*X.T), ["x", "y"], tol=1e-3, deadline=math.inf)
    from dsl.program import Expression
    from dsl.types import REAL

    got = Expression(found[0].node, D, ("x", "y"), (REAL, REAL)).to_sympy()
    want = Expression.parse(expected, {"x": REAL, "y": REAL}, dsl="real").to_sympy()
    assert sympy.simplify(got - want) == 0


def _wiggle(X: np.ndarray) -> np.ndarray:
    """A network-like error: smooth, but different from point to point across the box."""
    return 1e-3 * np.sin(17 * X[:, 0] + 29 * X[:, 1] + 13 * X[:, -1])


@pytest.mark.parametrize("kind, f, part", [
    ("mul", lambda X: X[:, 0] ** 2 * np.cos(X[:, 1]) * X[:, 2], lambda a: a ** 2),
    ("add", lambda X: X[:, 0] ** 2 + np.cos(X[:, 1]) * X[:, 2], lambda a: a ** 2),
])
def test_a_separable_part_averaged_over_the_rest_is_the_part_with_less_error(kind, f, part) -> None:
    """f = g(x) (*|+) h(y, z), with h changing sign (cos over [1, 3]): the averaged task is g up
    to an affine map exactly, and the planted error shrinks."""
    from synth.real.task import Task

    t = Task(("x", "y", "z"), ((1.0, 3.0),) * 3, lambda X: f(X) + _wiggle(X))
    clean = Task(("x", "y", "z"), ((1.0, 3.0),) * 3, f)
    a = np.linspace(1, 3, 200)[:, None]

    def residual(task_) -> float:
        v = task_.query(a)
        A = np.column_stack([part(a[:, 0]), np.ones(len(a))])
        coef, *_ = np.linalg.lstsq(A, v, rcond=None)
        return float(np.sqrt(np.mean((A @ coef - v) ** 2)))
    at = t.middle()
    assert residual(clean.fixing([0], at, average=kind)) < 1e-12          # the part, exactly
    assert residual(t.fixing([0], at, average=kind)) < 0.7 * residual(t.fixing([0], at))


def test_a_merged_pair_is_asked_along_its_level_sets() -> None:
    from synth.real.task import merged

    t = Task(("x", "y"), ((1.0, 3.0), (2.0, 5.0)), lambda X: np.sqrt(1 + (X[:, 0] / X[:, 1]) ** 2))
    m = merged(t, 0, 1, "div", "u")
    u = np.linspace(0.25, 1.4, 50)[:, None]
    assert np.allclose(m.query(u), np.sqrt(1 + u[:, 0] ** 2), rtol=1e-12)


@pytest.mark.parametrize("f", [lambda x: -9 * np.cos(x), lambda x: 2 + 0.5 * np.sin(2 * x),
                               lambda x: 3 * np.exp(-x / 2)])
def test_one_variable_templates_recover_amplitude_frequency_and_phase(f) -> None:
    """a * g(c * x + d) + b with every constant planted: found, snapped, equal on a wider range."""
    X = np.linspace(1, 5, 300)[:, None]
    found = leaf.templates(X, f(X[:, 0]), ["x"], tol=1e-6)
    assert found, "no template fitted"
    wide = np.linspace(-5, 11, 400)
    got = fit.evaluate(found[0].node, wide[:, None], ["x"])
    assert np.allclose(got, f(wide), rtol=1e-9, atol=1e-9), D.show(found[0].node)


def test_a_rational_function_of_one_variable_is_fitted_and_snapped() -> None:
    """1 + u / (1 - u / 3) (Feynman II.11.28 after its symmetry): (1 + 2u/3) / (1 - u/3)."""
    X = np.linspace(0, 1, 300)[:, None]
    y = 1 + X[:, 0] / (1 - X[:, 0] / 3)
    found = leaf.rational(X, y, ["u"], tol=1e-6)
    assert found and found[0].error < 1e-12, [D.show(c.node) for c in found]
    wide = np.linspace(-2, 2.9, 100)[:, None]
    got = fit.evaluate(found[0].node, wide, ["u"])
    assert np.allclose(got, 1 + wide[:, 0] / (1 - wide[:, 0] / 3), rtol=1e-12)
    assert leaf.rational(X, np.sin(5 * X[:, 0]), ["u"], tol=1e-6) == []     # not rational


def test_a_power_with_an_offset_is_fitted() -> None:
    """-pi^2 / d^2 + 7 (a separated part carries the other part's value as an offset)."""
    X = np.linspace(2, 4, 300)[:, None]
    found = leaf.power_law(X, 7 - np.pi ** 2 / X[:, 0] ** 2, ["d"], tol=1e-9)
    assert any(c.how == "power law + constant" and c.error < 1e-12 for c in found), \
        [(D.show(c.node), c.error) for c in found]


def test_a_product_is_recombined_with_its_factors_offsets() -> None:
    """g = 2.5 * (x * cos(y) + 1) and h = 3 * z, solved apart: g * h refitted is z * (x cos y + 1)
    (the factor's + 1 is kept; only the leading constants are refitted)."""
    import time

    from dsl.types import REAL
    from synth.real.solve import Solver

    names = ("x", "y", "z")
    V = {n: REAL for n in names}
    X = np.random.default_rng(0).uniform(1, 3, (300, 3))
    y = X[:, 2] * (X[:, 0] * np.cos(X[:, 1]) + 1)
    s = Solver(noise=3e-4, scale=float(np.std(y)), deadline=time.monotonic() + 30)
    node = s._combine("mul", D.parse("2.5 * (x * cos(y) + 1)", V), D.parse("3 * z", V), X, y, names)
    assert fit.error(node, X, y, names) < 1e-12, D.show(node)
