"""verifier.check against the example networks in ONNX Runtime (integration tier).

Truths are computed independently: the network is queried on a grid built here with itertools (a
separate, uncached oracle) and compared with the reference written as a plain Python lambda.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name: str):
    """(spec, oracle) of examples/<name>, or skip while it has not been built yet."""
    spec_path = EXAMPLES / name / "spec.json"
    if not (spec_path.is_file() and (EXAMPLES / name / "model.onnx").is_file()):
        pytest.skip(f"examples/{name}/{{spec.json,model.onnx}} not built yet (make examples)")
    import oracle

    spec = oracle.load_spec(spec_path)
    return spec, oracle.load(spec)


def grid_outputs(spec):
    """Every point of the domain (built here) and the network's answer there, uncached."""
    import oracle

    points = list(itertools.product(*(range(i.lo, i.hi + 1) for i in spec.inputs)))
    columns = {n: np.array([pt[k] for pt in points], np.int64)
               for k, n in enumerate(spec.input_names)}
    fresh = oracle.load(spec, cache=False)
    return points, fresh.query(columns).tolist()


def test_noisy_add_disagreement_list_is_exact():
    from verifier import check

    spec, net = example("noisy_add")
    result = check("(x + y) % 16", net, max_disagreements=10_000, hypothesis_examples=50)
    points, outputs = grid_outputs(spec)
    expected = {(pt, out, (pt[0] + pt[1]) % 16) for pt, out in zip(points, outputs)
                if out != (pt[0] + pt[1]) % 16}
    assert expected, "noisy_add is meant to be imperfect"
    d = result.to_dict()["fidelity"]
    got = {((e["inputs"]["x"], e["inputs"]["y"]), e["network"], e["program"])
           for e in d["disagreements"]}
    assert got == expected
    assert len(d["disagreements"]) == len(expected)
    assert d["exhaustive"] is True and d["total"] == 256 and d["agree"] == 256 - len(expected)
    assert result.to_dict()["reference"] == "equivalent"
    assert result.holds is False  # min_agreement 1.0 is not met
    assert check("(x + y) % 16", net, min_agreement=d["agreement"],
                 hypothesis_examples=10).holds is True


def test_mod_add_113_full_report():
    from verifier import check

    spec, net = example("mod_add_113")
    result = check("x + y - 113 if x + y >= 113 else x + y", net, hypothesis_examples=200)
    d = json.loads(json.dumps(result.to_dict()))
    points, outputs = grid_outputs(spec)
    agree = sum(out == (x + y - 113 if x + y >= 113 else x + y)
                for (x, y), out in zip(points, outputs))
    assert d["fidelity"]["agree"] == agree and d["fidelity"]["total"] == 113 * 113
    assert d["reference"] == "equivalent" and d["reference_reason"] is None
    gen = d["generalisation"]
    assert gen["holds"] is False  # the conditional subtraction is not % 113 beyond [0, 112]
    x, y = gen["counterexample"]["inputs"]["x"], gen["counterexample"]["inputs"]["y"]
    assert (x + y - 113 if x + y >= 113 else x + y) != (x + y) % 113
    assert gen["network_agreement_beyond_range"] is None
    assert "one_hot" in gen["network_beyond_range_note"]
    speed = d["speed"]
    assert all(v > 0 for v in speed.values())
    assert speed["speedup"] == pytest.approx(speed["network_us_per_query"]
                                             / speed["program_us_per_query"])
    assert d["size"]["network_parameters"] == net.parameter_count > 0
    assert d["size"]["network_bytes"] == (EXAMPLES / "mod_add_113" / "model.onnx").stat().st_size


def test_a_wrong_program_gets_a_rechecked_counterexample():
    from verifier import check

    spec, net = example("mod_add_113")
    d = check("x + y", net, hypothesis_examples=20).to_dict()
    assert d["reference"] == "counterexample" and d["holds"] is False
    cex = d["counterexample"]
    x, y = cex["inputs"]["x"], cex["inputs"]["y"]
    assert 0 <= x <= 112 and 0 <= y <= 112
    assert (cex["program"], cex["reference"]) == (x + y, (x + y) % 113)
    assert x + y >= 113


def test_raw_encoded_network_is_compared_with_the_reference_beyond_its_range():
    from verifier import check

    spec, net = example("max_raw")
    d = check("max(x, y)", net, hypothesis_examples=50).to_dict()
    beyond = d["generalisation"]["network_agreement_beyond_range"]
    assert isinstance(beyond, float) and 0.0 <= beyond <= 1.0
    assert d["generalisation"]["network_beyond_range_note"] is None
    assert d["generalisation"]["holds"] is True


def test_bits_network_that_fills_its_width_cannot_be_asked_beyond_it():
    from verifier import check

    spec, net = example("bitwise_8")
    d = check("(x ^ y) & 240", net, hypothesis_examples=20).to_dict()
    assert d["fidelity"]["total"] == 65536
    assert d["generalisation"]["network_agreement_beyond_range"] is None
    assert "bits" in d["generalisation"]["network_beyond_range_note"]
