"""The rule family on networks that are random known rules (Hypothesis; a trusted torch module as
the network, opened by oracle.load like any model).

Each drawn rule has 2 or 3 real inputs with ranges of different scales, up to three splits (one
of them possibly oblique, over two inputs with short coefficients) and three actions; every leaf
covers at least 4% of the box (a thinner one may rightly be left out at 99.9%). No shrinking:
each example is a whole search. The search must reproduce it: agreement of at least 99.9% with
the known rule on 20,000 fresh points, and every boundary of the known rule found within 1% of
the input range (verifier.boundaries).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import oracle
from synth import rules
from synth.options import SearchOptions
from synth.rules.program import to_expression
from synth.rules.tree import Branch, Leaf, Split, evaluate, leaves, simplify
from verifier.boundaries import displacements
from verifier.rules import as_rule

torch = pytest.importorskip("torch")


class RuleNet(torch.nn.Module):
    """Logits 10 * one_hot(rule(x)) for a known rule tree (evaluated with torch ops)."""

    def __init__(self, tree, classes: int) -> None:
        super().__init__()
        self.tree, self.classes = tree, classes

    def forward(self, x):
        value = self._value(self.tree, x)
        return 10.0 * torch.nn.functional.one_hot(value, self.classes).float()

    def _value(self, tree, x):
        if isinstance(tree, Leaf):
            return torch.full((x.shape[0],), tree.value, dtype=torch.long)
        lhs = sum(c * x[:, k].double() for k, c in tree.split.terms)
        return torch.where(lhs > tree.split.threshold, self._value(tree.then, x),
                           self._value(tree.other, x))


@st.composite
def problems(draw):
    d = draw(st.integers(2, 3))
    lo = np.array([draw(st.sampled_from([-5.0, 0.0, 1.0])) for _ in range(d)])
    span = np.array([draw(st.sampled_from([1.0, 10.0, 100.0])) for _ in range(d)])

    def split():
        if draw(st.booleans()):           # oblique over two inputs
            a, b = sorted(draw(st.lists(st.integers(0, d - 1), min_size=2, max_size=2, unique=True)))
            cb = draw(st.sampled_from([1.0, 2.0, 0.5, -1.0])) * span[a] / span[b]
            terms = ((a, 1.0), (b, float(np.round(cb, 3))))
        else:
            terms = ((draw(st.integers(0, d - 1)), 1.0),)
        q = draw(st.sampled_from([0.3, 0.4, 0.5, 0.6, 0.7]))
        low = sum(min(c * lo[k], c * (lo[k] + span[k])) for k, c in terms)
        high = sum(max(c * lo[k], c * (lo[k] + span[k])) for k, c in terms)
        return Split(terms, float(np.round(low + q * (high - low), 3)))

    leaf = st.integers(0, 2).map(Leaf)
    inner = st.builds(lambda l1, l2: Branch(split(), l1, l2), leaf, leaf)
    tree = draw(st.one_of(inner, st.builds(lambda a, b: Branch(split(), a, b), inner, leaf),
                          st.builds(lambda a, b: Branch(split(), a, b), leaf, inner)))
    return lo, span, simplify(tree)


def _numbered(tree, ids):
    """The tree with each leaf replaced by its own number (which leaf a point falls in)."""
    if isinstance(tree, Leaf):
        return Leaf(next(ids))
    return Branch(tree.split, _numbered(tree.then, ids), _numbered(tree.other, ids))


@settings(max_examples=3, deadline=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problems())
def test_random_known_rules_are_recovered(problem):
    lo, span, tree = problem
    assume(isinstance(tree, Branch))
    rng = np.random.default_rng(0)
    fresh = lo + rng.random((20_000, len(lo))) * span
    truth = evaluate(tree, fresh)
    leaf_of = evaluate(_numbered(tree, iter(range(99))), fresh)
    assume(len(np.unique(truth)) >= 2 and np.bincount(leaf_of).min() >= 0.04 * len(fresh))
    spec = oracle.load_spec({
        "name": "random_rule", "dsl": "real", "family": "rule",
        "inputs": [{"name": f"x{k}", "type": "real", "range": [lo[k], lo[k] + span[k]]}
                   for k in range(len(lo))],
        "output": {"type": "int", "range": [0, 2], "decoding": "argmax"}})
    net = oracle.load(spec, RuleNet(tree, 3))
    result = rules.run(spec, net, options=SearchOptions(min_agreement=0.999, timeout=60))
    assert result.program is not None
    got = result.program.evaluate({f"x{k}": fresh[:, k] for k in range(len(lo))}).values
    assert np.mean(got == truth) >= 0.999
    known = as_rule(to_expression(tree, spec), spec)
    for m in displacements(as_rule(result.program, spec), known, spec):
        assert m["found"] is not None and m["percent_of_range"] <= 1.0, (m, result.program.show())
    assert leaves(tree) >= result.figures["leaves"] - 1, result.program.show()


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration
