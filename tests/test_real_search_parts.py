"""Parts of the real search on analytic functions with network-sized noise (1e-3 relative): the
two-variable basis fit (sums and ratios of small formulas), the enumerator on three variables,
and a product split whose function is zero at the middle of its box.

Each recovered formula is compared with the law by sympy (the difference simplifies to 0), an
independent judge of the search's answer.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import sympy

from dsl.language import get_dsl
from synth.real import basis, fit, leaf, probes
from synth.real.solve import Solver
from synth.real.task import Task

REAL = get_dsl("real")


def same_law(node, law: str, names) -> bool:
    from dsl.formats import to_sympy

    symbols = {n: sympy.Symbol(n, positive=True) for n in names}
    got = to_sympy(node, dsl=REAL)
    got = got.xreplace({s: symbols[s.name] for s in got.free_symbols})
    want = sympy.sympify(law, locals=symbols)
    difference = sympy.nsimplify(got - want, rational=True)
    return sympy.simplify(difference) == 0 or sympy.simplify(sympy.expand_trig(difference)) == 0


def noisy_sample(f, ranges, n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(lo, hi, n) for lo, hi in ranges])
    y = f(*X.T)
    return X, y * (1 + 1e-3 * rng.standard_normal(n))


@pytest.mark.parametrize("law, names, ranges, f", [
    ("(1 - alpha**2) / (1 + alpha*cos(u))", ("alpha", "u"), [(2, 4), (-1, 1)],
     lambda a, u: (1 - a ** 2) / (1 + a * np.cos(u))),
    ("(1 - cos(n*theta)) / (1 - cos(theta))", ("n", "theta"), [(1, 4), (1, 5)],
     lambda n, t: (1 - np.cos(n * t)) / (1 - np.cos(t))),
    ("cos(u) * (1 + alpha*cos(u))", ("u", "alpha"), [(1, 5), (1, 3)],
     lambda u, a: np.cos(u) + a * np.cos(u) ** 2),
])
def test_basis_fits_sums_and_ratios_of_small_formulas(law, names, ranges, f) -> None:
    X, y = noisy_sample(f, ranges)
    tol = 0.005
    found = [c for c in basis.fits(X, y, names, tol=tol, deadline=time.monotonic() + 120)
             if c.error <= tol]
    assert found, law
    best = min(found, key=lambda c: fit.description_length(c.node))
    assert same_law(best.node, law, names), (REAL.show(best.node), law)


def test_enumerator_reaches_products_of_functions_on_three_variables() -> None:
    X, y = noisy_sample(lambda u, v, w: u * np.sin(v) / w, [(0.5, 2)] * 3)
    found = leaf.skeletons(X, y, ("u", "v", "w"), tol=0.005, deadline=time.monotonic() + 60)
    good = [c for c in found if c.error <= 0.005]
    assert good and any(same_law(c.node, "u*sin(v)/w", ("u", "v", "w")) for c in good), \
        [(REAL.show(c.node), c.error) for c in found[:3]]


def test_a_product_that_is_zero_at_the_middle_of_its_box_is_split() -> None:
    """kappa * (T2 - T1) * A / d is 0 wherever T1 = T2, the middle of the box included: the
    sides of the product must be solved where f is not small."""
    names = ("kappa", "T1", "T2", "A", "d")
    ranges = tuple((1.0, 5.0) for _ in names)
    rng = np.random.default_rng(1)

    def query(X):
        y = X[:, 0] * (X[:, 2] - X[:, 1]) * X[:, 3] / X[:, 4]
        return y + 1e-3 * 7.5 * rng.standard_normal(len(y))

    task = Task(names, ranges, query)
    Xc, yc = task.sample(2000, np.random.default_rng(2))
    solver = Solver(noise=probes.calibrate(Xc, yc), scale=fit.spread(yc),
                    deadline=time.monotonic() + 120)
    node = solver.solve(task)
    assert node is not None
    node, _ = fit.snap(node, Xc, yc, names, tol=solver.tol)
    from synth.real.simplify import resnap_factor, simplify

    node = simplify(resnap_factor(simplify(node, Xc[:200], names), Xc, yc, names, tol=solver.tol),
                    Xc[:200], names)
    assert same_law(node, "kappa*(T2 - T1)*A/d", names), REAL.show(node)


def test_a_homogeneous_function_is_split_by_its_power() -> None:
    """A Gaussian's density in (theta, sigma) has no symmetry, no separable split and no
    transform of y that splits it: it is sigma^-1 times a function of theta / sigma."""
    names = ("theta", "sigma")
    rng = np.random.default_rng(4)

    def query(X):
        y = np.exp(-(X[:, 0] / X[:, 1]) ** 2 / 2) / (np.sqrt(2 * np.pi) * X[:, 1])
        return y * (1 + 1e-3 * rng.standard_normal(len(y)))

    task = Task(names, ((1.0, 3.0), (1.0, 3.0)), query)
    Xc, yc = task.sample(2000, np.random.default_rng(2))
    solver = Solver(noise=probes.calibrate(Xc, yc), scale=fit.spread(yc), deadline=time.monotonic() + 120)
    node = solver.solve(task)
    assert node is not None and any(f.kind == "homogeneous" for f in solver.findings), solver.findings
    node, _ = fit.snap(node, Xc, yc, names, tol=solver.tol)
    assert same_law(node, "exp(-(theta/sigma)**2/2)/(sqrt(2*pi)*sigma)", names), REAL.show(node)
