"""verifier.rules and the rule family's errors, on the pole-balancing network (real ONNX Runtime,
real Z3 over the reals).

Truths: a rule equal to the known one up to scaling is EQUIVALENT; a rule with a moved threshold
gets a COUNTEREXAMPLE that numpy confirms inside the training box, and its disagreements with the
network lie in a band about as thick as the move; bad specs, programs and cancels are refused or
reported with the field and value named.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import oracle
from dsl.errors import DSLError, SpecError
from synth import rules
from synth.options import SearchOptions
from synth.outcome import StopReason
from verifier import rules as verify_rules
from verifier.equivalence import Verdict

POLE = Path(__file__).resolve().parents[1] / "examples" / "policy_pole" / "spec.json"


@pytest.fixture(scope="module")
def pole():
    spec = oracle.load_spec(POLE)
    return spec, oracle.load(spec)


def test_a_rescaled_rule_is_proved_equal(pole):
    spec, net = pole
    check = verify_rules.check("1 if 10 * theta + theta_dot > 0 else 0", net, spec, sample_size=20_000)
    assert check.equivalence.verdict is Verdict.EQUIVALENT
    assert check.generalisation.holds and check.generalisation.checked > 0
    assert check.fidelity.agreement >= 0.999


def test_a_moved_threshold_gets_a_confirmed_counterexample_and_a_band(pole):
    spec, net = pole
    rule = "1 if theta + 0.1 * theta_dot > 0.01 else 0"     # 0.01 of the lhs: ~1% of theta_dot's range /10
    check = verify_rules.check(rule, net, spec, sample_size=50_000, min_agreement=0.999)
    eq = check.equivalence
    assert eq.verdict is Verdict.COUNTEREXAMPLE
    point = dict(eq.counterexample.inputs)
    for inp in spec.inputs:
        assert inp.lo <= point[inp.name] <= inp.hi
    lhs = point["theta"] + 0.1 * point["theta_dot"]
    assert 0 < lhs <= 0.01                                   # exactly the band between the two rules
    assert (eq.counterexample.program, eq.counterexample.reference) == (0, 1)
    regions = check.fidelity.errors["regions"]
    assert regions["disagreements"] > 0 and not check.holds
    band = regions["by_boundary"][0]
    # the move is 0.01 along theta_dot * 0.1, i.e. 0.1 in theta_dot (range 6) or 0.01 in theta
    # (range 0.42): in unit coordinates the planes are 0.01 / |(0.42, 0.6)| ~ 1.4% apart
    assert 1.0 < band["band_percent_of_range"] < 1.6
    assert all("-> 0" in leaf["leaf"] for leaf in regions["by_leaf"])


def test_beyond_the_range_network_and_rule_are_compared(pole):
    spec, net = pole
    check = verify_rules.check(spec.reference, net, spec, sample_size=10_000)
    follows = check.follows
    assert follows.points > 0 and 0 <= follows.agreement <= 1
    for inputs, network, program in follows.departures:
        point = {k: np.array([v]) for k, v in inputs}
        assert any(not i.lo <= point[i.name][0] <= i.hi for i in spec.inputs)
        assert net.query(point)[0] == network != program


def test_bad_programs_name_the_problem(pole):
    spec, net = pole
    with pytest.raises(DSLError, match="program: has type bool"):
        verify_rules.check("theta > 0", net, spec)
    with pytest.raises(DSLError):
        verify_rules.check("1 if speed > 0 else 0", net, spec)


def test_bad_specs_are_refused_with_the_field(pole):
    spec, net = pole
    ints = oracle.load_spec({"inputs": [{"name": "x", "type": "int", "range": [0, 3]}],
                             "output": {"type": "int", "range": [0, 1]}, "family": "rule"})
    with pytest.raises(SpecError, match=r"inputs\[0\]\.type: .*'int'"):
        rules.run(ints, net, options=SearchOptions())
    real_out = oracle.load_spec({**spec.to_dict(), "output": {"type": "real"}})
    with pytest.raises(SpecError, match=r"output\.type: .*'real'"):
        rules.run(real_out, net, options=SearchOptions())
    many = oracle.load_spec({**spec.to_dict(), "output": {"type": "int", "range": [0, 99]}})
    with pytest.raises(SpecError, match=r"output\.range: .*\[0, 99\]"):
        rules.run(many, net, options=SearchOptions())


def test_cancel_and_time_limit_stop_the_search(pole):
    spec, net = pole
    cancel = threading.Event()
    cancel.set()
    result = rules.run(spec, net, options=SearchOptions(), cancel=cancel)
    assert result.stop_reason is StopReason.CANCELLED and result.program is None
    seen = []

    def stop_after_sampling(progress):
        seen.append(progress.phase)
        if progress.phase == "grow":
            cancel.set()

    cancel.clear()
    result = rules.run(spec, net, options=SearchOptions(min_agreement=0.999), cancel=cancel,
                       progress=stop_after_sampling)
    assert result.stop_reason is StopReason.CANCELLED
    assert result.program is not None                 # the tree grown before the cancel is kept
    assert "round" not in seen


def test_region_slices_of_any_program(pole):
    from dsl.program import Expression
    from synth.rules import pictures

    spec, net = pole
    program = Expression.parse("1 if theta + 0.12 * theta_dot > 0 else 0", spec.variables(), dsl="real")
    out = pictures.regions(program, net, spec, resolution=40)
    (s,) = out["decision_regions"]["slices"]
    assert (s["x"]["name"], s["y"]["name"]) == ("theta", "theta_dot")
    assert s["fixed"] == {"x": 0.0, "x_dot": 0.0}
    theta, theta_dot = np.meshgrid(np.linspace(-0.21, 0.21, 40), np.linspace(-3, 3, 40))
    assert np.array_equal(np.array(s["rule"]), (theta + 0.12 * theta_dot > 0).astype(int))
    assert np.array_equal(np.array(s["network"]), (theta + 0.1 * theta_dot > 0).astype(int)) or \
        np.mean(np.array(s["network"]) != (theta + 0.1 * theta_dot > 0)) < 0.01
    assert s["disagreement"] == pytest.approx(np.mean(np.array(s["network"]) != np.array(s["rule"])))
    assert out["regions_png"]


def test_a_time_limit_ends_the_search_with_its_reason(pole):
    spec, net = pole
    result = rules.run(spec, net, options=SearchOptions(timeout=0.01, min_agreement=0.999))
    assert result.stop_reason is StopReason.TIME
    assert result.program is None and not result.accepted


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration
