"""Units in the spec and the real family's dimensional analysis (Buckingham pi).

Unit level: the exact basis of a few laws, the reduced task's queries (all inside the training box,
and equal to the law divided by prod x^p), Hypothesis over random unit assignments and monomial
laws, bad units refused with the field named. End to end: the trained
I.13.12 network (bench/feynman/models, through ONNX Runtime) is recovered with units, and not
without them within the time the search with units took; the pendulum's law from an exact
function with no group.
"""

from __future__ import annotations

import copy
import json
import time
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.errors import SpecError
from oracle.spec import load_spec
from oracle.units import BASE_UNITS, exponents
from synth.real.task import Task
from synth.real.units import analyse, reduced

ROOT = Path(__file__).resolve().parents[1]

KG = {"kg": 1}
SPEED = {"m": 1, "s": -1}
LENGTH = {"m": 1}
TIME = {"s": 1}


def dims(*units: dict) -> list[tuple[F, ...]]:
    return [exponents(u) for u in units]


def matrix(units: list[tuple[F, ...]]) -> sympy.Matrix:
    return sympy.Matrix([[sympy.Rational(v.numerator, v.denominator) for v in u] for u in units]).T


def test_relativistic_mass_basis_is_v_over_c() -> None:
    a = analyse(("m_0", "v", "c"), dims(KG, SPEED, SPEED), exponents(KG))
    assert a.p == (1, 0, 0)                 # y / m_0 is dimensionless
    assert a.groups == ((0, 1, -1),)        # v / c, not c^2 / v^2
    assert a.dependent == (1,)


def test_lorentz_x_has_two_groups_each_with_its_own_variable() -> None:
    names = ("x", "u", "c", "t")
    a = analyse(names, dims(LENGTH, SPEED, SPEED, TIME), exponents(LENGTH))
    assert a.p == (1, 0, 0, 0)
    assert a.m == 2
    assert {g for g in a.groups} == {(1, 0, -1, -1), (0, 1, -1, 0)}   # x / (c t), u / c
    for j, (g, d) in enumerate(zip(a.groups, a.dependent)):
        assert g[d] != 0 and all(other[d] == 0 for k, other in enumerate(a.groups) if k != j)


def test_pendulum_has_no_group_and_half_exponents() -> None:
    a = analyse(("L", "g"), dims(LENGTH, {"m": 1, "s": -2}), exponents(TIME))
    assert a.m == 0 and a.p == (F(1, 2), F(-1, 2))


def test_inconsistent_units_give_no_analysis() -> None:
    assert analyse(("m_0", "v"), dims(KG, SPEED), exponents({"A": 1})) is None


class Boxed:
    """An exact function that fails the test on any point outside its box."""

    def __init__(self, f, ranges) -> None:
        self.f, self.lo, self.hi = f, np.array([r[0] for r in ranges]), np.array([r[1] for r in ranges])
        self.points = 0

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, np.float64)
        assert np.all((X >= self.lo) & (X <= self.hi)), X[~np.all((X >= self.lo) & (X <= self.hi), axis=1)][:3]
        self.points += len(X)
        return self.f(*X.T)


def lorentz_task():
    names, ranges = ("x", "u", "c", "t"), ((5.0, 10.0), (1.0, 2.0), (3.0, 20.0), (1.0, 2.0))
    box = Boxed(lambda x, u, c, t: (x - u * t) / np.sqrt(1 - u ** 2 / c ** 2), ranges)
    a = analyse(names, dims(LENGTH, SPEED, SPEED, TIME), exponents(LENGTH))
    return box, a, reduced(Task(names, ranges, box), a, seed=3)


def test_reduced_task_queries_stay_in_the_box_and_give_the_law_over_its_groups() -> None:
    box, a, task = lorentz_task()
    assert task.names == ("pi0", "pi1")
    P, values = task.sample(300, np.random.default_rng(0))
    assert box.points > 0
    # the groups by name: which column is u / c and which x / (c t)
    col = {g: j for j, g in enumerate(a.groups)}
    beta, xi = P[:, col[(0, 1, -1, 0)]], P[:, col[(1, 0, -1, -1)]]
    truth = (1 - beta / xi) / np.sqrt(1 - beta ** 2)       # y / x = (1 - u t / x) / sqrt(1 - u^2/c^2)
    np.testing.assert_allclose(values, truth, rtol=1e-9)


def test_the_search_on_the_reduced_task_queries_only_inside_the_box() -> None:
    from synth.real.solve import Solver

    box, a, task = lorentz_task()
    solver = Solver(noise=3e-4, scale=1.0, deadline=time.monotonic() + 8, seed=0)
    solver.solve(task)      # probes, merges and fixings all query through the reduced task
    assert box.points > 1000


class Exact:
    """An analytic oracle for `synth.real.run`."""

    def __init__(self, f) -> None:
        self.f, self.points = f, 0

    def query(self, X):
        X = np.asarray(X, np.float64)
        self.points += len(X)
        return self.f(*X.T)


def test_pendulum_law_from_units_alone() -> None:
    import synth.real as family
    from synth.options import SearchOptions

    spec = load_spec({"name": "pendulum", "family": "real", "dsl": "real",
                      "inputs": [{"name": "L", "type": "real", "range": [0.5, 2.0], "units": LENGTH},
                                 {"name": "g", "type": "real", "range": [5.0, 15.0],
                                  "units": {"m": 1, "s": -2}}],
                      "output": {"type": "real", "units": TIME}})
    result = family.run(spec, Exact(lambda L, g: 2 * np.pi * np.sqrt(L / g)),
                        options=SearchOptions(timeout=30))
    assert any("dimensional analysis" in n for n in result.notes)
    L, g = sympy.symbols("L g", positive=True)
    got = result.program.to_sympy().xreplace({s: {"L": L, "g": g}[s.name] for s in result.program.to_sympy().free_symbols})
    assert sympy.simplify(got - 2 * sympy.pi * sympy.sqrt(L / g)) == 0


#: I.13.12, U = G m1 m2 (1/r2 - 1/r1): its units and the trained network's folder.
I_13_12 = ROOT / "bench" / "feynman" / "models" / "I_13_12"
I_13_12_UNITS = {"m1": KG, "m2": KG, "r1": LENGTH, "r2": LENGTH, "G": {"m": 3, "kg": -1, "s": -2}}
JOULE = {"kg": 1, "m": 2, "s": -2}


def i_13_12_spec(units: bool):
    raw = json.loads((I_13_12 / "spec.json").read_text())
    if units:
        for item in raw["inputs"]:
            item["units"] = I_13_12_UNITS[item["name"]]
        raw["output"]["units"] = JOULE
    return load_spec(raw, base_dir=I_13_12)


def recovered(program) -> bool:
    symbols = {n: sympy.Symbol(n, positive=True) for n in I_13_12_UNITS}
    got = program.to_sympy()
    got = got.xreplace({s: symbols[s.name] for s in got.free_symbols})
    m1, m2, r1, r2, G = (symbols[n] for n in ("m1", "m2", "r1", "r2", "G"))
    return sympy.simplify(got - G * m1 * m2 * (1 / r2 - 1 / r1)) == 0


@pytest.mark.integration
def test_trained_network_recovered_through_dimensional_analysis() -> None:
    """The units' search finds the law from the trained network, and says it reduced the problem
    to dimensionless groups (how much faster than the plain search is measured in docs/units.md,
    not asserted here)."""
    import oracle
    import synth.real as family
    from synth.options import SearchOptions

    spec = i_13_12_spec(units=True)
    with_units = family.run(spec, oracle.load(spec), options=SearchOptions(timeout=60))
    assert with_units.program is not None and recovered(with_units.program), with_units.program.show()
    assert any(n.startswith("dimensional analysis: y / (") for n in with_units.notes), with_units.notes
    plain = i_13_12_spec(units=False)
    without = family.run(plain, oracle.load(plain), options=SearchOptions(timeout=60))
    assert not any("dimensional analysis" in n for n in without.notes)


BASE = {"name": "s", "family": "real", "dsl": "real",
        "inputs": [{"name": "a", "type": "real", "range": [1, 2]}, {"name": "b", "type": "real", "range": [1, 2]},
                   {"name": "c", "type": "real", "range": [1, 2]}],
        "output": {"type": "real"}}


@pytest.mark.parametrize("where, units, message", [
    ("inputs.2", {"kg": "x"}, "inputs[2].units.kg: expected a finite number, got 'x'"),
    ("inputs.0", {"g": 1}, "inputs[0].units: unknown key 'g'"),
    ("inputs.1", {"m": float("inf")}, "inputs[1].units.m: expected a finite number, got inf"),
    ("inputs.1", {"m": True}, "inputs[1].units.m: expected a finite number, got True"),
    ("inputs.1", {"m": 0.123}, "inputs[1].units.m: expected an integer or a simple fraction"),
    ("inputs.0", [1, 0, 0], "inputs[0].units: expected an object of SI exponents"),
    ("output", {"s": "2"}, "output.units.s: expected a finite number, got '2'"),
])
def test_bad_units_are_refused_naming_the_field(where, units, message) -> None:
    raw = copy.deepcopy(BASE)
    part, _, k = where.partition(".")
    (raw[part][int(k)] if k else raw[part])["units"] = units
    with pytest.raises(SpecError) as e:
        load_spec(raw)
    assert message in str(e.value)


def test_units_on_an_int_port_are_refused() -> None:
    with pytest.raises(SpecError, match=r"inputs\[0\].units: units are for a real input, got units on type 'int'"):
        load_spec({"inputs": [{"name": "n", "type": "int", "range": [0, 3], "units": {"m": 1}}],
                   "output": {"type": "int", "range": [0, 3]}})


def test_units_round_trip_and_are_optional() -> None:
    raw = copy.deepcopy(BASE)
    raw["inputs"][0]["units"] = {"m": 1, "s": -0.5, "kg": 0}
    raw["output"]["units"] = {}
    spec = load_spec(raw)
    assert dict(spec.inputs[0].units) == {"m": 1, "s": -0.5}      # zero exponents dropped
    assert spec.inputs[1].units is None and dict(spec.output.units) == {}
    assert load_spec(spec.to_dict()) == spec
    assert dict(load_spec(spec.to_dict()).inputs[0].units) == {"m": 1, "s": -0.5}


EXPONENT = st.integers(-3, 3)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5).flatmap(lambda k: st.tuples(
    st.lists(st.lists(EXPONENT, min_size=4, max_size=4), min_size=k, max_size=k),
    st.lists(st.integers(-2, 2), min_size=k, max_size=k))))
def test_groups_and_scaled_output_are_dimensionless(case) -> None:
    units, law = case           # input i's exponents over m, kg, s, A; the law y = prod x_i^law_i
    d = [tuple(F(v) for v in u) + (F(0),) * (len(BASE_UNITS) - 4) for u in units]
    out = tuple(sum((F(l) * u[b] for l, u in zip(law, d)), F(0)) for b in range(len(BASE_UNITS)))
    names = tuple(f"x{i}" for i in range(len(units)))
    a = analyse(names, d, out)
    assert a is not None                                  # a monomial law is always consistent
    D = matrix(d)
    assert D * sympy.Matrix([sympy.Rational(v.numerator, v.denominator) for v in a.p]) == \
        sympy.Matrix([sympy.Rational(v.numerator, v.denominator) for v in out])
    assert a.m == len(units) - D.rank()
    for g, dep in zip(a.groups, a.dependent):
        assert all(v.denominator == 1 for v in g) and g[dep] != 0
        assert D * sympy.Matrix([int(v) for v in g]) == sympy.zeros(len(BASE_UNITS), 1)
        assert all(other[dep] == 0 for other in a.groups if other is not g)
    if a.m:
        assert sympy.Matrix([[int(v) for v in g] for g in a.groups]).rank() == a.m


def test_group_names_do_not_clash_with_inputs() -> None:
    names, ranges = ("pi0", "v", "c"), ((1.0, 5.0), (1.0, 2.0), (3.0, 10.0))
    a = analyse(names, dims(KG, SPEED, SPEED), exponents(KG))
    task = reduced(Task(names, ranges, lambda X: X[:, 0] / np.sqrt(1 - (X[:, 1] / X[:, 2]) ** 2)), a)
    assert task.names == ("_pi0",)
    P, values = task.sample(50, np.random.default_rng(1))
    np.testing.assert_allclose(values, 1 / np.sqrt(1 - P[:, 0] ** 2), rtol=1e-9)
