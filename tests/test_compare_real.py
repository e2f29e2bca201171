"""`netsynth.compare` on real formulas (issue 20, extended to every kind): the three networks of
examples/real_trio, of different shapes and input scalings, trained on one law, share one formula
and its skeleton, with each network's constants side by side; one of them swapped for the network
of another law gives two groups. The truth is the law each network was trained on
(examples/real_trio/train.py), evaluated here with numpy, never the search's own output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_service_kit import EXAMPLES

pytestmark = pytest.mark.integration

TRIO = [EXAMPLES / "real_trio" / n / "spec.json" for n in ("wide_relu", "deep_tanh", "narrow_silu")]
OTHER = EXAMPLES / "real_trio" / "other_law" / "spec.json"


def decay(a, t):
    return 2.37 * a * np.exp(-0.61 * t)


def other(a, t):
    return a * t / (1 + t)


def box(n: int = 5000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {"a": rng.uniform(1, 3, n), "t": rng.uniform(0, 4, n)}


def close_to(program, law, rel: float = 0.01) -> bool:
    x = box()
    return bool(np.allclose(program.evaluate(x).values, law(x["a"], x["t"]), rtol=rel, atol=1e-3))


@pytest.fixture(scope="module")
def trio():
    import netsynth

    return netsynth.compare(*TRIO, verify=False, timeout=60)


@pytest.fixture(scope="module")
def swapped():
    import netsynth

    return netsynth.compare(TRIO[1], OTHER, verify=False, timeout=60)


def test_the_real_trio_shares_one_formula_the_law(trio) -> None:
    from netsynth.compare_result import Outcome

    assert trio.outcome is Outcome.ONE
    (group,) = trio.groups
    assert sorted(group.members) == ["deep_tanh", "narrow_silu", "wide_relu"]
    assert close_to(group.program, decay)
    for m in trio.members:
        assert m.fidelity.total > 0 and m.fidelity.agreement > 0.5
        assert m.speed is not None and m.size.network_parameters > 0
        assert m.follows is not None and m.follows.points > 0


def test_the_skeleton_and_each_networks_fitted_constants(trio) -> None:
    from netsynth.compare_real import skeleton

    (group,) = trio.groups
    assert "$0" in group.skeleton and "exp" in group.skeleton
    rows = dict(group.constants)
    assert sorted(rows) == ["deep_tanh", "narrow_silu", "wide_relu"]
    shape, x = skeleton(group.program), box()
    for name, row in rows.items():
        assert len(row["network"]) == group.skeleton.count("$")
        assert isinstance(row["formula"], list) and len(row["formula"]) == len(row["network"])
        # The skeleton with the constants fitted to this network is the law, within its error.
        fitted = shape.evaluate(x, row["network"])
        assert np.allclose(fitted, decay(x["a"], x["t"]), rtol=0.005, atol=1e-3), (name, row)
        assert row["error"] < 0.01
    # The networks were fitted apart: their constants are not all the same numbers.
    assert len({tuple(r["network"]) for r in rows.values()}) == 3


def test_one_network_of_another_law_makes_two_groups(swapped) -> None:
    from netsynth.compare_result import Outcome
    from verifier.equivalence import Verdict

    assert swapped.outcome is Outcome.SEVERAL and len(swapped.groups) == 2
    laws = {g.members: g.program for g in swapped.groups}
    assert close_to(laws[("deep_tanh",)], decay)
    if swapped.member("other_law").report.solved:       # the real search found its law
        assert close_to(laws[("other_law",)], other)
    (relation,) = swapped.relations
    assert relation.verdict is Verdict.COUNTEREXAMPLE
    point = dict(relation.equivalence.counterexample.inputs)
    # At the point that keeps the groups apart, the network of the other law is far from the decay
    # law (asked here, through ONNX Runtime), and so is the other group's formula.
    import oracle
    from netsynth.api import load_spec

    net = oracle.load(load_spec(OTHER))
    cols = {k: np.array([v]) for k, v in point.items()}
    assert abs(net.query(cols)[0] - decay(point["a"], point["t"])) > 0.05
    assert abs(laws[("other_law",)].evaluate(cols).values[0] - decay(point["a"], point["t"])) > 0.05
    (pair,) = swapped.pairs
    assert pair.differ > 0.9 * pair.checked             # two laws: different almost everywhere


def test_the_page_and_its_json(trio, swapped) -> None:
    from netsynth.compare_render import html, render

    text = str(trio)
    assert text.startswith("netsynth compare: 3 networks, one formula")
    assert "skeleton" in text and "$0 network" in text and "fit rel. RMS" in text
    for name in ("wide_relu", "deep_tanh", "narrow_silu"):
        assert name in text
    data = json.loads(json.dumps(swapped.to_dict()))
    assert data["family"] == "real" and render(data) == str(swapped)
    page = html(data)
    assert "skeleton" in page and "2 groups" in page
    assert "inside its range" in text and "beyond its range" in text


def test_formulas_of_one_skeleton_group_within_the_networks_error_only() -> None:
    """The relation on its own, on formulas written here: one skeleton with constants a network's
    error apart is one law (a numeric check, said so); constants far apart, or another skeleton,
    are not; a formula proved equal in another form is one group by proof."""
    from dsl.program import Expression
    from netsynth.api import load_spec
    from netsynth.compare_real import prover, skeleton
    from verifier.equivalence import Verdict

    spec = load_spec(TRIO[0])
    f = lambda text: Expression.parse(text, spec.variables(), dsl="real")  # noqa: E731
    prove = prover(spec, {"a": 0.005, "b": 0.005}, ["a", "b"])
    base = f("2.3684 * (a * exp(-0.61 * t))")
    near = prove(0, 1, base, f("2.3702 * (a * exp(-0.6101 * t))"))
    assert near.verdict is Verdict.EQUIVALENT and "not a proof" in near.reason
    far = prove(0, 1, base, f("3.1 * (a * exp(-0.4 * t))"))
    assert far.verdict is Verdict.COUNTEREXAMPLE
    point = dict(far.counterexample.inputs)
    assert abs(2.3684 * point["a"] * np.exp(-0.61 * point["t"])
               - 3.1 * point["a"] * np.exp(-0.4 * point["t"])) > 0.01
    # Written another way by the search, the same shape: one skeleton once sympy has read it.
    other_form = prove(0, 1, base, f("45 / 19 * a / exp(61 / 100 * t)"))
    assert other_form.verdict is Verdict.EQUIVALENT and "one skeleton" in other_form.reason
    another = prove(0, 1, base, f("2.3684 * (a * exp(-0.61 * t)) + 0.0001 * t"))
    assert another.verdict is Verdict.UNKNOWN and "kept apart" in another.reason
    proved = prove(0, 1, base, f("a * exp(-0.61 * t) * 2.3684"))
    assert proved.verdict is Verdict.EQUIVALENT and "not a proof" not in (proved.reason or "")
    shape = skeleton(base)
    assert shape.text == "$0*a*exp($1*t)" and shape.values == (2.3684, -0.61)
    x = box()
    assert np.allclose(shape.evaluate(x, [2.0, -0.5]), 2.0 * x["a"] * np.exp(-0.5 * x["t"]))


TEMPLATES = ["{0} * a * exp({1} * t)", "{0} * a / exp({1} * t)", "a * t / (t + {0}) + {1}",
             "{0} * a ** 2 / ({1} + t)", "{0} / {1} * a * exp({1} * t + {0})",
             "sqrt({0} * a + t) * {1}", "{0} * a * t - {1} * (a + {0})"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_skeleton_with_its_own_constants_is_its_formula(template) -> None:
    """Round trip (Hypothesis): a formula's skeleton, evaluated with the constants read from the
    formula, gives the formula's values; fitted to the formula's own values, its constants give
    them again. Holds for every constant drawn, whatever form sympy gives the formula."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from dsl.program import Expression
    from netsynth.api import load_spec
    from netsynth.compare_real import fit, skeleton

    spec, x = load_spec(TRIO[0]), box(500)
    constant = st.floats(0.1, 3.0).map(lambda v: round(v, 3))

    @settings(max_examples=25, deadline=None, database=None)
    @given(constant, constant)
    def check(c0: float, c1: float) -> None:
        p = Expression.parse(template.format(c0, c1), spec.variables(), dsl="real")
        want = p.evaluate(x).values
        shape = skeleton(p)
        assert np.allclose(shape.evaluate(x, shape.values), want, rtol=1e-9, atol=1e-12)
        fitted, error = fit(shape, x, want)
        assert error < 1e-6
        assert np.allclose(shape.evaluate(x, fitted), want, rtol=1e-5, atol=1e-8)

    check()


def test_a_model_that_does_not_fit_its_spec_is_refused_before_any_search() -> None:
    import netsynth
    from dsl.errors import ModelError

    with pytest.raises(ModelError, match=r"^tomita4: model: does not accept 2 input columns"):
        netsynth.compare(OTHER, models=[OTHER.parent / "model.onnx",
                                        EXAMPLES / "tomita4" / "model.onnx"])
