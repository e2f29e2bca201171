"""The decision-rule family on the bundled policy networks (integration: real ONNX Runtime).

Each examples/policy_* network was behaviour-cloned from a known rule (its spec's `reference`).
The search must recover that rule: every boundary within 1% of the input range of the known one,
fidelity of at least 99.9% against the network on 10^5 fresh points that the search never saw
(measured by verifier.rules, not by the search), decision-region pictures whose grids are the
network's and the rule's own answers. Each search runs once per module.
"""

from __future__ import annotations

import base64
import functools
import io
import json
from pathlib import Path

import numpy as np
import pytest

import oracle
from synth import rules
from synth.options import SearchOptions
from synth.outcome import StopReason
from verifier import rules as verify_rules
from verifier.boundaries import displacements

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ("policy_pole", "policy_congestion", "policy_oblique")


@functools.lru_cache(maxsize=None)
def found(name: str):
    spec = oracle.load_spec(EXAMPLES / name / "spec.json")
    net = oracle.load(spec)
    phases = []
    result = rules.run(spec, net, options=SearchOptions(min_agreement=0.999, timeout=120),
                       progress=lambda p: phases.append(p))
    return spec, net, result, phases


@pytest.mark.parametrize("name", NAMES)
def test_the_known_rule_is_recovered(name):
    spec, _, result, phases = found(name)
    assert result.accepted and result.stop_reason is StopReason.SOLVED
    assert result.program.type == spec.output.type
    reference = verify_rules.as_rule(spec.reference, spec)
    moved = displacements(verify_rules.as_rule(result.program, spec), reference, spec)
    assert moved and all(m["found"] is not None for m in moved), moved
    assert max(m["percent_of_range"] for m in moved) <= 1.0, moved
    assert {p.phase for p in phases} >= {"sample", "grow", "round", "measure"}
    assert verify_rules.as_rule(phases[-1].best, spec) == verify_rules.as_rule(result.program, spec)


@pytest.mark.parametrize("name", NAMES)
def test_fidelity_on_fresh_points(name):
    spec, _, result, _ = found(name)
    check = verify_rules.check(result.program, oracle.load(spec), spec, min_agreement=0.999, seed=99)
    assert check.fidelity.total == 100_000
    assert check.fidelity.agreement >= 0.999
    assert check.holds
    regions = check.fidelity.errors["regions"]
    assert regions["disagreements"] == check.fidelity.total - check.fidelity.agree
    assert sum(b["disagreements"] for b in regions["by_boundary"]) + regions["away_from_boundaries"] \
        == regions["disagreements"]


@pytest.mark.parametrize("name", NAMES)
def test_pareto_front_and_figures(name):
    spec, _, result, _ = found(name)
    assert json.loads(json.dumps(result.figures)) == result.figures       # JSON-able, as reported
    assert json.loads(json.dumps(result.extra))["rule_tree"] == result.extra["rule_tree"]
    sizes = [p.size for p in result.pareto]
    agreements = [p.agreement for p in result.pareto]
    assert sizes == sorted(sizes) and agreements == sorted(agreements)
    assert result.pareto[-1].agreement >= result.agreement
    assert any(p.program.show() == result.program.show() for p in result.pareto)
    assert result.figures["leaves"] >= 2 and result.queries > 0
    assert result.figures["oblique_splits"] == (0 if name == "policy_congestion" else 1)


def test_region_pictures_are_the_network_and_the_rule():
    spec, net, result, _ = found("policy_congestion")
    slices = result.extra["decision_regions"]["slices"]
    assert slices
    for s in slices:
        n = len(s["network"])
        xa = np.linspace(s["x"]["lo"], s["x"]["hi"], n)
        xb = np.linspace(s["y"]["lo"], s["y"]["hi"], n)
        ga, gb = np.meshgrid(xa, xb)
        columns = {k: np.full(ga.size, v) for k, v in s["fixed"].items()}
        columns[s["x"]["name"]], columns[s["y"]["name"]] = ga.ravel(), gb.ravel()
        columns = {k: columns[k] for k in spec.input_names}
        fresh = oracle.load(spec)                        # no cache shared with the search
        assert np.array_equal(np.array(s["network"]).ravel(), fresh.query(columns))
        assert np.array_equal(np.array(s["rule"]).ravel(), result.program.evaluate(columns).values)
    from matplotlib.image import imread

    image = imread(io.BytesIO(base64.b64decode(result.extra["regions_png"])), format="png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 300


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration
