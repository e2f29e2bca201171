"""Trust without a reference (issue 21, item 3): the program found is always compared with the
network beyond the training range where the encodings can express such inputs, and what was not
checked is said. Truths: the network queried directly on the same points, numpy's max."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import oracle
from oracle import sampling
from verifier import check

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_network_is_compared_with_the_program_beyond_its_range_without_a_reference() -> None:
    from dataclasses import replace

    spec = replace(oracle.load_spec(EXAMPLES / "max_raw" / "spec.json"), reference=None)
    net = oracle.load(spec)
    result = check("max(x, y)", net, hypothesis_examples=50)
    assert result.generalisation is None and result.network_beyond.agreement is None
    follows = result.follows
    cols = sampling.beyond_range(net.spec, 4096, seed=0)
    truth = np.maximum(cols["x"], cols["y"])
    network = net.query(cols)
    assert follows.points == len(network)
    assert follows.agreement == pytest.approx(float(np.mean(network == truth)))
    assert 0 < follows.agreement < 1                      # it learned max only inside its range
    for inputs, got, program in follows.departures:
        point = dict(inputs)
        assert program == max(point["x"], point["y"]) != got
        assert got == int(net.query({"x": np.array([point["x"]]), "y": np.array([point["y"]])})[0])
    d = json.loads(json.dumps(result.to_dict()))["generalisation"]
    assert d["network_follows_program_beyond_range"] == follows.agreement
    assert len(d["network_departs_from_program_at"]) == min(5, round((1 - follows.agreement) * follows.points))


def test_what_cannot_be_checked_is_said() -> None:
    net = oracle.load(EXAMPLES / "abs_diff" / "spec.json")
    result = check("abs(x - y)", net, hypothesis_examples=50)
    assert result.follows.agreement is None
    assert "one_hot has a column only for each value in [0, 31]" in result.follows.note
