"""`netsynth.compare` on decision rules (issue 20, extended to every kind): the policy of
examples/policy_oblique (2 x 64 ReLU on [-1, 1]) and examples/rule_pair/oblique_tanh (2 x 32 tanh
on [0, 1]), both trained on `x + 2 * y - z > 10`, are one group, proved by Z3 over the reals;
with examples/rule_pair/other_rule (`x + y > 8`) in place of one, two groups and the point Z3
found between them. The truth is each rule as it was trained (examples/rule_pair/train.py),
evaluated here with numpy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_service_kit import EXAMPLES

pytestmark = pytest.mark.integration

OBLIQUE = [EXAMPLES / "policy_oblique" / "spec.json",
           EXAMPLES / "rule_pair" / "oblique_tanh" / "spec.json"]
OTHER = EXAMPLES / "rule_pair" / "other_rule" / "spec.json"


def oblique(x, y, z):
    return x + 2 * y - z > 10


def other(x, y, z):
    return x + y > 8


def agreement(program, rule) -> float:
    rng = np.random.default_rng(3)
    cols = {k: rng.uniform(0, 10, 100_000) for k in "xyz"}
    return float(np.mean(program.evaluate(cols).values == rule(cols["x"], cols["y"], cols["z"])))


@pytest.fixture(scope="module")
def results():
    import netsynth

    return (netsynth.compare(*OBLIQUE, verify=False, timeout=60),
            netsynth.compare(OBLIQUE[1], OTHER, verify=False, timeout=60))


def test_two_networks_of_one_rule_share_it(results) -> None:
    from netsynth.compare_result import Outcome

    one, _ = results
    assert one.outcome is Outcome.ONE
    (group,) = one.groups
    assert sorted(group.members) == ["oblique_tanh", "policy_oblique"]
    assert agreement(group.program, oblique) > 0.999
    for m in one.members:
        assert m.fidelity.agreement > 0.999 and m.follows.points > 0
    (pair,) = one.pairs
    assert pair.differ < 0.001 * pair.checked


def test_a_network_of_another_rule_is_a_second_group(results) -> None:
    from netsynth.compare_result import Outcome
    from verifier.equivalence import Verdict

    _, two = results
    assert two.outcome is Outcome.SEVERAL and len(two.groups) == 2
    rules = {g.members: g.program for g in two.groups}
    assert agreement(rules[("oblique_tanh",)], oblique) > 0.999
    assert agreement(rules[("other_rule",)], other) > 0.99
    (relation,) = two.relations
    assert relation.verdict is Verdict.COUNTEREXAMPLE
    p = dict(relation.equivalence.counterexample.inputs)
    cols = {k: np.array([float(v)]) for k, v in p.items()}
    assert rules[("oblique_tanh",)].evaluate(cols).values[0] != \
        rules[("other_rule",)].evaluate(cols).values[0]
    (pair,) = two.pairs
    rng = np.random.default_rng(0)
    x, y, z = (rng.uniform(0, 10, 100_000) for _ in range(3))
    truth = float(np.mean(oblique(x, y, z) != other(x, y, z)))
    assert abs(pair.differ / pair.checked - truth) < 0.02


def test_the_page_and_its_json(results) -> None:
    from netsynth.compare_render import html, render

    for r in results:
        data = json.loads(json.dumps(r.to_dict()))
        assert data["family"] == "rule" and render(data) == str(r)
        assert "policy_oblique" in html(data) or "other_rule" in html(data)
    assert "group 1 / group 2: different" in str(results[1])
