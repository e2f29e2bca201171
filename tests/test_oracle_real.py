"""The real-valued spec path: real inputs and a real output through spec, sampling and the oracle.

The network is one hand-set linear layer and every value is a sum of powers of two, so the
expected outputs are worked out exactly here. The int search has no family for reals yet, so
`Problem.from_spec` (and through it `netsynth.extract`) refuses such a spec.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dsl.errors import EncodingError, SpecError
from dsl.types import INT, REAL
from oracle import sampling
from oracle.domains import RealBox
from oracle.encoding import decode, encode
from oracle.spec import load_spec

REAL_SPEC = {
    "inputs": [{"name": "x", "type": "real", "range": [-2, 2], "encoding": "raw", "offset": 1, "scale": 2},
               {"name": "y", "type": "real", "range": [0.5, 4.0]}],
    "output": {"type": "real", "decoding": "raw", "offset": 3, "scale": 0.5},
}


def test_real_spec_fields_and_round_trip() -> None:
    spec = load_spec(REAL_SPEC)
    x, y = spec.inputs
    assert (x.type, x.lo, x.hi, x.encoding, dict(x.params)) == (REAL, -2.0, 2.0, "raw", {"offset": 1, "scale": 2})
    assert isinstance(x.lo, float) and (y.lo, y.hi) == (0.5, 4.0)
    assert (spec.output.type, spec.output.lo, spec.output.hi) == (REAL, None, None)
    assert dict(spec.output.params) == {"offset": 3, "scale": 0.5}
    assert spec.variables() == {"x": REAL, "y": REAL}
    assert spec.domain_size() == math.inf and isinstance(spec.domain(), RealBox)
    raw = spec.to_dict()
    assert raw["inputs"][0]["type"] == "real" and "range" not in raw["output"]
    assert load_spec(raw) == spec and load_spec(json.dumps(raw)) == spec
    ranged = load_spec({**REAL_SPEC, "output": {"type": "real", "range": [-1, 1.5]}})
    assert (ranged.output.lo, ranged.output.hi, ranged.output.decoding) == (-1.0, 1.5, "raw")
    assert load_spec(ranged.to_dict()) == ranged


REAL_BAD = [
    ({"name": "x", "type": "real"}, "inputs[0].range: missing required field for a real"),
    ({"name": "x", "type": "real", "range": [1, 0]},
     "inputs[0].range: expected [lo, hi] of finite numbers with lo <= hi, got [1, 0]"),
    ({"name": "x", "type": "real", "range": [0, float("inf")]},
     "inputs[0].range: expected [lo, hi] of finite numbers with lo <= hi, got [0, inf]"),
    ({"name": "x", "type": "real", "range": [float("nan"), 1]},
     "inputs[0].range: expected [lo, hi] of finite numbers with lo <= hi, got [nan, 1]"),
    ({"name": "x", "type": "real", "range": [0, 1e13]},
     "inputs[0].range: expected bounds at most 1e+12 in magnitude for a real, got [0, 10000000000000.0]"),
    ({"name": "x", "type": "real", "range": [0, 1], "encoding": "one_hot"},
     "inputs[0].encoding: expected one of ['raw'] for type real, got 'one_hot'"),
]


@pytest.mark.parametrize("inp, message", REAL_BAD, ids=[m[:45] for _, m in REAL_BAD])
def test_bad_real_inputs(inp: dict, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec({"inputs": [inp], "output": {"type": "real"}})
    assert str(info.value) == message


def test_real_inputs_are_not_mixed_with_ints() -> None:
    with pytest.raises(SpecError, match=r"^inputs\[1\].type: real inputs cannot be mixed with int or bool "
                                        r"ones yet \(inputs\[0\] is real\), got 'int'$"):
        load_spec({"inputs": [REAL_SPEC["inputs"][0], {"name": "n", "range": [0, 3]}], "output": {"type": "real"}})


def test_real_sampling() -> None:
    spec = load_spec(REAL_SPEC)
    assert sampling.domain(spec) is None
    got = sampling.sample(spec, 64, seed=0)
    assert list(got) == ["x", "y"] and all(c.dtype == np.float64 and len(c) == 64 for c in got.values())
    assert ((got["x"] >= -2) & (got["x"] <= 2)).all() and ((got["y"] >= 0.5) & (got["y"] <= 4)).all()
    assert sampling.can_encode_beyond(spec)[0] is True
    far = sampling.beyond_range(spec, 100, seed=0)
    outside = (np.abs(far["x"]) > 2) | (far["y"] < 0.5) | (far["y"] > 4)
    assert outside.all()


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20),
       offset=st.sampled_from([0, 1, -2.5, 1e5]), scale=st.sampled_from([1, 0.5, 3, -2, 1e-3, 1e4]))
def test_real_raw_round_trip(values: list[float], offset: float, scale: float) -> None:
    spec = load_spec({"inputs": [{"name": "v", "type": "real", "range": [-1e6, 1e6], "offset": offset, "scale": scale}],
                      "output": {"type": "real", "offset": offset, "scale": scale}})
    v = np.array(values)
    cols = encode(spec.inputs[0], v)
    assert cols.shape == (len(v), 1) and cols.dtype == np.float32
    back = decode(spec.output, cols)
    # one float32 rounding of (v - offset) / scale, undone exactly up to float64 rounding
    assert (np.abs(back - v) <= np.abs(v - offset) * 2.0**-23 + 1e-9).all()


torch = pytest.importorskip("torch")


def network():
    # column x' = (x - 1) / 2, column y' = y; out = 4 x' - y' + 0.5; value = out * 0.5 + 3
    # so value = (2x - 2 - y + 0.5) / 2 + 3 = x - y / 2 + 2.25
    layer = torch.nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[4.0, -1.0]]))
        layer.bias.fill_(0.5)
    return layer


def test_real_oracle_query_by_hand() -> None:
    import oracle

    o = oracle.load(load_spec(REAL_SPEC), network())
    x = np.array([0.5, 1.25, -2.0, 2.0])
    y = np.array([1.0, 4.0, 0.5, 2.5])
    got = o.query({"x": x, "y": y})
    assert got.dtype == np.float64
    assert got.tolist() == [0.5 - 0.5 + 2.25, 1.25 - 2.0 + 2.25, -2.0 - 0.25 + 2.25, 2.0 - 1.25 + 2.25]
    assert (o.calls, o.points) == (1, 4)
    assert o.query(np.stack([x, y], axis=1)).tolist() == got.tolist()  # an (n, D) batch, cached
    assert o.query([np.array([1, 3]), np.array([2, 4])]).tolist() == [2.25, 3.25]  # ints are reals (x = 3 is past the range: raw expresses it)
    assert (o.calls, o.points) == (2, 6)
    with pytest.raises(EncodingError, match="x: a real must be finite, got nan"):
        o.query({"x": np.array([np.nan]), "y": np.array([1.0])})
    with pytest.raises(SpecError, match="column 'y' must be a 1-D real"):
        o.query({"x": np.array([1.0]), "y": np.array(["a"])})


def test_int_oracle_takes_an_n_by_d_batch() -> None:
    import oracle

    spec = load_spec({"inputs": [{"name": "a", "range": [0, 3]}, {"name": "b", "range": [-2, 2]}],
                      "output": {"range": [-10, 10], "decoding": "round"}})
    layer = torch.nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[2.0, -1.0]]))
        layer.bias.fill_(0.0)
    o = oracle.load(spec, layer)
    batch = np.array([[0, -2], [3, 2], [1, 0]])
    assert o.query(batch).tolist() == [2, 4, 2] == o.query({"a": batch[:, 0], "b": batch[:, 1]}).tolist()
    with pytest.raises(SpecError, match=r"expected an \(n, 2\) batch of int or bool for \['a', 'b'\], got shape \(1, 3\)"):
        o.query(np.zeros((1, 3), np.int64))
    with pytest.raises(SpecError, match="expected an .n, 2. batch of int or bool"):
        o.query(np.zeros((1, 2)))


def test_the_int_search_refuses_real_specs_naming_the_type() -> None:
    from synth.problem import Problem

    with pytest.raises(SpecError, match=r"^output.type: no search family handles real outputs yet .*got 'real'$"):
        Problem.from_spec(load_spec(REAL_SPEC), None)
    int_out = load_spec({"inputs": REAL_SPEC["inputs"], "output": {"range": [0, 3], "decoding": "round"}})
    with pytest.raises(SpecError, match=r"^inputs\[0\].type: no search family handles real inputs yet"):
        Problem.from_spec(int_out, None)
    assert Problem.from_spec(load_spec({"inputs": [{"name": "a", "range": [0, 3]}],
                                        "output": {"range": [0, 3]}}), None,
                             discover=False).target_type == INT


def test_the_family_follows_the_types_unless_the_spec_names_it() -> None:
    real_in = REAL_SPEC["inputs"]
    assert load_spec(REAL_SPEC).family == "real"
    assert load_spec({"inputs": real_in, "output": {"type": "bool"}}).family == "rule"
    assert load_spec({"inputs": [{"name": "a", "range": [0, 3]}],
                      "output": {"range": [0, 3]}}).family == "function"
    named = load_spec({**REAL_SPEC, "family": "real"})
    assert named.family == "real" and load_spec(named.to_dict()) == named
    with pytest.raises(SpecError, match=r"^family: expected one of function, real, rule, "
                                        r"stateful, automaton, got 'physics'$"):
        load_spec({**REAL_SPEC, "family": "physics"})



def test_a_real_output_may_state_its_tolerance_and_bad_ones_are_named() -> None:
    from oracle.metric import Tolerance, metric_for

    spec = load_spec({**REAL_SPEC, "output": {"type": "real", "tolerance": {"rel": 0.01}}})
    assert metric_for(spec) == Tolerance(abs_tol=1e-6, rel_tol=0.01)
    assert load_spec(spec.to_dict()) == spec
    assert metric_for(load_spec(REAL_SPEC)) == Tolerance()
    agree = metric_for(spec).agree(np.array([1.009, 1.02]), np.array([1.0, 1.0]))
    assert agree.tolist() == [True, False]
    for bad, message in (({"rel": -1}, r"output.tolerance.rel: expected a finite number >= 0, got -1"),
                         ({"rel": float("nan")}, r"output.tolerance.rel: .* got nan"),
                         ({"x": 1}, r"output.tolerance: expected an object with 'abs' and/or 'rel'"),
                         (0.1, r"output.tolerance: expected an object")):
        with pytest.raises(SpecError, match=message):
            load_spec({**REAL_SPEC, "output": {"type": "real", "tolerance": bad}})
    with pytest.raises(SpecError, match=r"inputs\[0\].range: expected \[lo, hi\] with lo < hi for a real input"):
        load_spec({**REAL_SPEC, "inputs": [{**REAL_SPEC["inputs"][0], "range": [1, 1]}]})
