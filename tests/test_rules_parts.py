"""The decision-rule family's parts, without a network: trees, printing, rounding, cuts, bisection.

Fast tier. The bisection is run against a known rule as the "network" (a plain function of the
points), so the boundary it must find is known exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.errors import DSLError
from oracle.spec import load_spec
from synth.rules import locate, shorten
from synth.rules.program import to_expression
from synth.rules.tree import Branch, Leaf, Split, evaluate, from_dict, show, to_dict
from verifier.boundaries import displacements
from verifier.rules import as_rule

SPEC = load_spec({
    "name": "three", "dsl": "real", "family": "rule",
    "inputs": [{"name": "a", "type": "real", "range": [-1, 1]},
               {"name": "b", "type": "real", "range": [0, 10]},
               {"name": "c", "type": "real", "range": [0, 0.1]}],
    "output": {"type": "int", "range": [0, 3]}})
BOOL_SPEC = load_spec({**SPEC.to_dict(), "output": {"type": "bool"}})
LO = np.array([-1, 0, 0.0])
HI = np.array([1, 10, 0.1])

coefficient = st.sampled_from([1.0, -1.0, 0.5, 2.0, -0.25, 0.1, 3.0])


@st.composite
def splits(draw):
    dims = draw(st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True).map(sorted))
    terms = tuple((k, draw(coefficient)) for k in dims)
    return Split(terms, draw(st.floats(-5, 5, allow_nan=False).map(lambda v: round(v, 3))))


def trees(leaf_values):
    leaf = st.sampled_from(leaf_values).map(Leaf)
    return st.recursive(leaf, lambda sub: st.builds(Branch, splits(), sub, sub), max_leaves=6)


def points(n, seed=0):
    rng = np.random.default_rng(seed)
    return LO + rng.random((n, 3)) * (HI - LO)


@settings(max_examples=60, deadline=None)
@given(trees([0, 1, 2, 3]))
def test_the_dsl_program_agrees_with_the_tree_numpy_python_and_text(tree):
    x = points(300)
    want = evaluate(tree, x)
    program = to_expression(tree, SPEC)
    columns = {n: x[:, k] for k, n in enumerate(SPEC.input_names)}
    assert program.type == SPEC.output.type
    assert np.array_equal(program.evaluate(columns).values, want)
    namespace = {"np": np}
    exec(program.to_python(), namespace)
    got = [int(namespace["f"](*row)) for row in x[:50]]
    assert got == want[:50].tolist()
    reparsed = as_rule(program.show(), SPEC)        # the text reads back as the same rule
    assert reparsed == program.node
    assert show(tree, SPEC.input_names).replace("(", "").replace(")", "") \
        == program.show().replace("(", "").replace(")", "")


@settings(max_examples=60, deadline=None)
@given(trees([0, 1]))
def test_bool_rules_print_as_comparisons_and_agree(tree):
    x = points(200, seed=1)
    program = to_expression(tree, BOOL_SPEC)
    columns = {n: x[:, k] for k, n in enumerate(BOOL_SPEC.input_names)}
    assert np.array_equal(program.evaluate(columns).values.astype(int), evaluate(tree, x))
    assert as_rule(program.show(), BOOL_SPEC).type == BOOL_SPEC.output.type


@settings(max_examples=60, deadline=None)
@given(trees([0, 1, 2, 3]))
def test_to_dict_round_trip(tree):
    assert from_dict(to_dict(tree), 3) == tree


@pytest.mark.parametrize("data, field", [
    ({"terms": [[5, 1.0]], "threshold": 0, "then": {"leaf": 0}, "else": {"leaf": 1}}, "rule.terms"),
    ({"terms": [[0, 1.0]], "threshold": "x", "then": {"leaf": 0}, "else": {"leaf": 1}}, "rule.threshold"),
    ({"terms": [[0, 1.0]], "threshold": 0, "then": {"leaf": 0.5}, "else": {"leaf": 1}}, "rule.then.leaf"),
    ({"terms": [[0, 1.0]], "threshold": 0, "then": {"leaf": 0}}, "rule.else"),
])
def test_bad_rule_dicts_name_the_field(data, field):
    with pytest.raises(DSLError, match=field.replace(".", r"\.")):
        from_dict(data, 3)


def test_best_cut_matches_brute_force():
    rng = np.random.default_rng(3)
    v = rng.random(200)
    y = (v > 0.37).astype(int)
    y[rng.random(200) < 0.05] ^= 1
    score, t = locate.best_cut(v, y, 2)
    best = min(
        (locate.entropy(np.bincount(y[v > c], minlength=2)[None])[0] * (v > c).sum()
         + locate.entropy(np.bincount(y[v <= c], minlength=2)[None])[0] * (v <= c).sum()) / 200
        for c in v[:-1])
    assert score == pytest.approx(best)
    assert abs(t - 0.37) < 0.05


@pytest.mark.parametrize("w, t", [((1.0,), 0.4321), ((0.6, 0.8), 0.7)])
def test_bisection_finds_a_known_boundary(w, t):
    dims = (0,) if len(w) == 1 else (0, 1)
    truth = locate.USplit(dims, w, t)
    rng = np.random.default_rng(0)
    u = rng.random((2000, 3))
    labels = truth.side(u).astype(np.int64)
    rough = locate.USplit(dims, tuple(np.array(w) + (0.03 if len(w) > 1 else 0)), t + 0.02)
    rough = locate.USplit(dims, tuple(np.array(rough.w) / np.linalg.norm(rough.w)), rough.t)
    found, asked, spread = locate.refine(rough, u, labels, lambda p: truth.side(p).astype(np.int64), rng)
    assert asked > 0 and spread < 1e-6
    assert np.allclose(found.w, w, atol=1e-5)
    assert found.t == pytest.approx(t, abs=1e-5)


def test_bisection_tells_a_network_plane_from_a_staircase():
    """Two boundaries (a wedge): an axis-aligned proposal across both is not a plane of the
    network (infinite spread), an oblique one near either is found exactly."""
    first, second = locate.USplit((0, 1), (0.6, 0.8), 0.7), locate.USplit((0, 1), (0.8, -0.6), -0.3)
    rng = np.random.default_rng(1)
    u = rng.random((3000, 2))

    def wedge(p):
        return (first.side(p) & second.side(p)).astype(np.int64)

    labels = wedge(u)
    _, _, spread = locate.refine(locate.USplit((0,), (1.0,), 0.6), u, labels, wedge, rng)
    assert spread == np.inf
    found, _, spread = locate.refine(locate.USplit((0, 1), (0.62, 0.78), 0.69), u, labels, wedge, rng)
    assert spread < 1e-6
    assert np.allclose(found.w, first.w, atol=1e-5) and found.t == pytest.approx(first.t, abs=1e-5)


def test_rounding_takes_the_shortest_decimals_that_keep_agreement():
    x = points(20_000, seed=4)
    truth = Branch(Split(((2, 1.0),), 0.02), Leaf(0), Leaf(1))
    labels = evaluate(truth, x)
    near = Branch(Split(((2, 1.0),), 0.0200013), Leaf(0), Leaf(1))
    rounded = shorten.round_rule(near, x, labels, floor=shorten.agreement(near, x, labels), names="abc")
    assert rounded.split.threshold == 0.02
    oblique = Branch(Split(((0, -0.5000004), (1, -0.0999998)), -0.300001), Leaf(3), Leaf(2))
    labels = evaluate(Branch(Split(((0, -0.5), (1, -0.1)), -0.3), Leaf(3), Leaf(2)), x)
    rounded = shorten.orient(shorten.round_rule(oblique, x, labels, floor=1.0, names="abc"))
    # a + 0.2 b > 0.6 and 5 a + b > 3 have as many digits: the first input gets coefficient 1
    assert rounded == Branch(Split(((0, 1.0), (1, 0.2)), 0.6), Leaf(2), Leaf(3))


def test_pruning_sequence_ends_in_a_leaf_and_loses_least_first():
    x = points(5000, seed=5)
    inner = Branch(Split(((1, 1.0),), 5.0), Leaf(1), Leaf(2))
    tree = Branch(Split(((2, 1.0),), 0.05), Leaf(0), inner)
    labels = evaluate(Branch(Split(((2, 1.0),), 0.05), Leaf(0), Leaf(1)), x)
    sequence = shorten.prune(tree, x, labels)
    assert sequence[0] == tree
    assert isinstance(sequence[-1], Leaf)
    assert sequence[1] == Branch(Split(((2, 1.0),), 0.05), Leaf(0), Leaf(1))


def test_displacement_of_rescaled_and_shifted_boundaries():
    ref = as_rule("1 if a + 0.1 * b > 0 else 0", SPEC)
    same = as_rule("1 if 10 * a + b > 0 else 0", SPEC)
    assert displacements(same, ref, SPEC)[0]["percent_of_range"] == pytest.approx(0, abs=1e-12)
    shifted = as_rule("1 if a + 0.1 * b > 0.02 else 0", SPEC)     # a weighs most: 0.02 of its 2
    assert displacements(shifted, ref, SPEC)[0]["percent_of_range"] == pytest.approx(1.0)
    other = as_rule("1 if c > 0.05 else 0", SPEC)
    assert displacements(other, ref, SPEC)[0]["found"] is None
