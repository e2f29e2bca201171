"""Issue 15 (items 3-5): what passes spec validation runs, and what cannot run is refused at
submission with a `SpecError` naming the field, the offending value and what was expected.

- absurd widths (a one_hot of 2^40 columns with a model whose input width is not fixed);
- constants beyond int64, ints too long to print, JSON ints too long to parse;
- the widest int range the docs allow, run end to end (sample, query, beyond, a short search);
- input names that Python would read as another name (NFKC), and non-ASCII names;
- non-finite and absurd scales and offsets.
"""

from __future__ import annotations

import pytest

from dsl.errors import EncodingError, SpecError
from oracle import sampling
from oracle.spec import load_spec

L = 2**62 - 1  # the widest bound the docs allow


def refused(spec: dict | str) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    return str(info.value)


def one_input(**inp) -> dict:
    return {"inputs": [{"name": "x", **inp}], "output": {"type": "bool"}}


# ---- item 3: absurd widths ----

def test_one_hot_of_2_to_the_40_is_refused_naming_the_range() -> None:
    assert refused(one_input(range=[0, 2**40 - 1], encoding="one_hot")) == (
        "inputs[0].range: expected at most 2^20 = 1048576 values for one column each, "
        "got [0, 1099511627775] (1099511627776 values)")
    assert refused({"inputs": [{"name": "x", "range": [0, 3]}], "output": {"range": [-2**40, 0]}}) == (
        "output.range: expected at most 2^20 = 1048576 values for one column each, "
        "got [-1099511627776, 0] (1099511627777 values)")


def test_the_whole_network_input_is_capped_too() -> None:
    half = [{"name": n, "range": [0, 2**19 - 1], "encoding": "one_hot"} for n in ("a", "b")]
    load_spec({"inputs": half, "output": {"type": "bool"}})  # 2^20 columns in all: allowed
    message = refused({"inputs": half + [{"name": "c", "range": [0, 1]}], "output": {"type": "bool"}})
    assert message == ("inputs: expected encodings of at most 2^20 = 1048576 columns in all, got 1048577 "
                       "(a: one_hot 524288, b: one_hot 524288, c: raw 1)")


def test_a_model_without_a_fixed_width_meets_the_cap_before_anything_is_allocated() -> None:
    torch = pytest.importorskip("torch")
    import oracle

    class AnyWidth(torch.nn.Module):
        def forward(self, x):
            return x.sum(dim=1, keepdim=True)

    with pytest.raises(SpecError, match=r"^inputs\[0\].range: expected at most 2\^20"):
        oracle.load(one_input(range=[0, 2**40 - 1], encoding="one_hot"), AnyWidth())


def test_wide_rows_go_to_the_network_in_smaller_batches(monkeypatch) -> None:
    """An encoded batch stays under BATCH_BYTES however wide the rows (a 2^20-column input would
    otherwise be 65536 rows of 4 MiB, 256 GiB, in one call)."""
    torch = pytest.importorskip("torch")
    import numpy as np

    import oracle
    from oracle import core

    monkeypatch.setattr(core, "BATCH_BYTES", 2**20)  # 4096 float32 columns: 64 rows per call
    layer = torch.nn.Linear(4096, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.arange(4096, dtype=torch.float32)[None, :])
        layer.bias.fill_(0.0)
    net = oracle.load({"inputs": [{"name": "x", "range": [0, 4095], "encoding": "one_hot"}],
                       "output": {"range": [0, 5000], "decoding": "round"}}, layer, batch_size=65536)
    x = np.arange(200) * 20
    assert net.query({"x": x}).tolist() == x.tolist()  # the hot column's weight is x itself
    assert (net.calls, net.points) == (4, 200)  # ceil(200 / 64)


# ---- item 4: accepted, then 'internal error' ----

@pytest.mark.parametrize("value, shown", [(10**1000, "an int of 3322 bits"), (2**63, str(2**63)),
                                          (-2**63 - 1, str(-2**63 - 1))], ids=["10^1000", "2^63", "-2^63-1"])
def test_constants_must_fit_int64(value: int, shown: str) -> None:
    assert refused({**one_input(range=[0, 3]), "constants": [5, value]}) == (
        f"constants[1]: expected an int in [-2^63, 2^63 - 1] (the DSL's int64 literals), got {shown}")


def test_int64_constants_are_kept() -> None:
    spec = load_spec({**one_input(range=[0, 3]), "constants": [-2**63, 2**63 - 1]})
    assert spec.constants == (-2**63, 2**63 - 1)


def test_ints_too_long_to_print_or_parse_give_spec_errors() -> None:
    assert refused(one_input(range=[0, 10**5000])) == (
        "inputs[0].range: expected bounds below 2^62 in magnitude, got [0, an int of 16610 bits]")
    assert refused(one_input(range=[0, 7], encoding="bits", width=10**5000)).startswith(
        "inputs[0].width: expected an int in [3, 62] (bit_length(7) = 3), got an int of 16610 bits")
    message = refused('{"inputs": [{"name": "x", "range": [0, ' + "9" * 5000 + ']}], "output": {"type": "bool"}}')
    assert message.startswith("spec: invalid JSON (")


def test_the_widest_raw_range_samples_queries_and_says_why_it_cannot_go_beyond() -> None:
    spec = load_spec({"inputs": [{"name": "x", "range": [-L, L]}, {"name": "y", "range": [0, 5]}],
                      "output": {"type": "bool"}})
    got = sampling.sample(spec, 100, seed=0)
    assert len(set(zip(got["x"].tolist(), got["y"].tolist()))) == 100
    assert {-L, L} <= set(got["x"].tolist())
    assert sampling.can_encode_beyond(spec) == (
        True, f"x: raw expresses every int of magnitude below 2^62, which the range [{-L}, {L}] already spans")
    far = sampling.beyond_range(spec, 50, seed=0)  # only y can leave its range
    assert ((far["y"] < 0) | (far["y"] > 5)).all() and (far["y"] >= -4 * 6).all() and (far["y"] <= 5 + 4 * 6).all()
    narrow = load_spec(one_input(range=[-L, L]))
    assert sampling.can_encode_beyond(narrow) == (
        False, f"x: raw expresses every int of magnitude below 2^62, which the range [{-L}, {L}] already spans")
    with pytest.raises(EncodingError, match="no input can be encoded outside its training range"):
        sampling.beyond_range(narrow, 10)


def test_the_widest_raw_range_runs_a_search_end_to_end() -> None:
    torch = pytest.importorskip("torch")
    import netsynth

    layer = torch.nn.Linear(1, 1)  # out = x, so the network answers x > 0
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.bias.fill_(0.0)
    spec = {**one_input(range=[-L, L]), "reference": "x > 0"}
    report = netsynth.extract(layer, spec, workers=1, timeout=60, max_size=3).to_dict()
    assert report["status"] == "solved"
    verification = report["verification"]
    assert verification["reference"] == "equivalent"
    assert verification["generalisation"]["network_beyond_range_note"] == (
        f"x: raw expresses every int of magnitude below 2^62, which the range [{-L}, {L}] already spans")
    namespace: dict = {}
    exec(report["python"], namespace)  # the exported program, as plain Python
    assert [namespace["f"](v) for v in (-L, -1, 0, 1, L)] == [False, False, False, True, True]


def test_names_python_would_read_as_another_name_are_refused() -> None:
    # 'ﬁ' (U+FB01) is an identifier Python reads as 'fi' after NFKC normalisation
    spec = {"inputs": [{"name": "\ufb01", "range": [0, 3]}, {"name": "fi", "range": [0, 3]}],
            "output": {"type": "bool"}}
    assert refused(spec) == ("inputs[0].name: expected an ASCII Python identifier that is not a keyword nor one "
                             "of ['False', 'True', 'abs', 'max', 'min'], got '\ufb01' (Python reads it as 'fi')")
    assert refused(one_input(name="\u03b1", range=[0, 1])).endswith(
        "got '\u03b1' (the DSLs' variables are ASCII)")


# ---- item 5: scales and offsets ----

SCALES = [
    ("inputs[0]", one_input, {"range": [0, 3], "scale": float("inf")}, "scale", "inf"),
    ("inputs[0]", one_input, {"range": [0, 3], "scale": float("nan")}, "scale", "nan"),
    ("inputs[0]", one_input, {"range": [0, 3], "scale": 1e308}, "scale", "1e+308"),
    ("inputs[0]", one_input, {"range": [0, 3], "scale": -1e-300}, "scale", "-1e-300"),
    ("inputs[0]", one_input, {"range": [0, 3], "scale": 10**400}, "scale", "an int of 1329 bits"),
    ("inputs[0]", one_input, {"range": [0, 3], "offset": float("-inf")}, "offset", "-inf"),
    ("inputs[0]", one_input, {"range": [0, 3], "offset": 1e300}, "offset", "1e+300"),
]


@pytest.mark.parametrize("where, make, fields, key, value", SCALES, ids=[f"{k}={v}" for *_, k, v in SCALES])
def test_non_finite_and_absurd_scales_and_offsets(where, make, fields, key, value) -> None:
    expected = {"scale": "a finite number with 1e-12 <= |scale| <= 1e+12",
                "offset": "a finite number with |offset| < 2^62"}[key]
    assert refused(make(**fields)) == f"{where}.{key}: expected {expected}, got {value}"


def test_round_output_scales_are_checked_and_json_infinity_is_refused() -> None:
    base = {"inputs": [{"name": "x", "range": [0, 3]}], "output": {"range": [0, 3], "decoding": "round"}}
    for scale, shown in ((0, "0"), (float("nan"), "nan")):
        spec = {**base, "output": {**base["output"], "scale": scale}}
        assert refused(spec) == f"output.scale: expected a finite number with 1e-12 <= |scale| <= 1e+12, got {shown}"
    text = '{"inputs": [{"name": "x", "range": [0, 3], "scale": Infinity}], "output": {"type": "bool"}}'
    assert refused(text) == "inputs[0].scale: expected a finite number with 1e-12 <= |scale| <= 1e+12, got inf"
    sane = load_spec({**base, "inputs": [{"name": "x", "range": [0, 3], "scale": 1e-12, "offset": -2**61}]})
    assert dict(sane.inputs[0].params) == {"offset": -2**61, "scale": 1e-12}
