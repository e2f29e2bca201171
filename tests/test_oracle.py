"""Encodings, decodings, back-ends and the cache, checked against hand-built networks.

The networks are single linear layers whose weights are set by hand, so the expected output of
every query is worked out here independently of the oracle's code.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dsl.errors import EncodingError, ModelError
from oracle.encoding import decode, encode, encode_columns
from oracle.spec import load_spec

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import oracle  # noqa: E402
from oracle.export import export_onnx  # noqa: E402


def linear(weight: list[list[float]], bias: list[float]) -> nn.Module:
    layer = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return layer


def spec(inputs: list[dict], output: dict) -> "oracle.Spec":
    return load_spec({"inputs": inputs, "output": output})


# Each case: spec, hand-set layer, input columns, expected outputs worked out by hand.
CASES = {
    # one_hot x in [2, 5] (4 columns), argmax over [10, 13]: weight row j picks column (j + 1) % 4,
    # so output class j wins when column (j + 1) % 4 is hot, i.e. x - 2 == (j + 1) % 4.
    "one_hot-argmax": (
        spec([{"name": "x", "range": [2, 5], "encoding": "one_hot"}],
             {"range": [10, 13], "decoding": "argmax"}),
        linear([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]], [0, 0, 0, 0]),
        [np.array([2, 3, 4, 5])], np.array([13, 10, 11, 12])),
    # bits width 4 in, bits out: output k = 2 * bit(3 - k) - 1, so the output is x bit-reversed.
    "bits-bits": (
        spec([{"name": "x", "range": [0, 15], "encoding": "bits", "width": 4}],
             {"range": [0, 15], "decoding": "bits"}),
        linear([[0, 0, 0, 2], [0, 0, 2, 0], [0, 2, 0, 0], [2, 0, 0, 0]], [-1, -1, -1, -1]),
        [np.array([1, 3, 6, 11, 0, 15])], np.array([8, 12, 6, 13, 0, 15])),
    # raw with offset 10, scale 2: column = (x - 10) / 2; out = 3 * column; round(out * 2 + 10) = 3x - 20.
    "raw-round": (
        spec([{"name": "x", "range": [0, 20], "encoding": "raw", "offset": 10, "scale": 2}],
             {"range": [-20, 40], "decoding": "round", "scale": 2, "offset": 10}),
        linear([[3]], [0]),
        [np.array([7, 0, 20, 11])], np.array([1, -20, 40, 13])),
    # bool raw in, threshold out: out = 0.5 - b > 0 iff b is False.
    "bool-threshold": (
        spec([{"name": "b", "type": "bool"}], {"type": "bool"}),
        linear([[-1]], [0.5]),
        [np.array([True, False, True])], np.array([False, True, False])),
    # Concatenation order: x one_hot in [0, 2] (3 columns) then y raw; out = 10 * x + y.
    "concat-order": (
        spec([{"name": "x", "range": [0, 2], "encoding": "one_hot"}, {"name": "y", "range": [-5, 5]}],
             {"range": [-5, 25], "decoding": "round"}),
        linear([[0, 10, 20, 1]], [0]),
        [np.array([0, 1, 2, 2]), np.array([-5, 3, 5, 0])], np.array([-5, 13, 25, 20])),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_backend_hand_built(case: str) -> None:
    s, module, columns, expected = CASES[case]
    o = oracle.load(s, module)
    got = o.query(columns)
    assert o.backend == "torch" and o.model_bytes is None
    assert got.dtype == expected.dtype and got.tolist() == expected.tolist()


@pytest.mark.integration
@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_backend_hand_built(case: str, tmp_path: Path) -> None:
    s, module, columns, expected = CASES[case]
    data = export_onnx(module, module.in_features, tmp_path / "m.onnx")
    for model in (tmp_path / "m.onnx", data):
        o = oracle.load(s, model)
        assert o.backend == "onnxruntime" and o.model_bytes == len(data)
        # parameters stored in the file; the exporter drops an all-zero bias
        stored = module.weight.numel() + (module.out_features if bool(module.bias.any()) else 0)
        assert o.parameter_count == stored
        assert o.query(columns).tolist() == expected.tolist()


@pytest.mark.integration
def test_onnx_and_torch_agree(tmp_path: Path) -> None:
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(14, 16), nn.ReLU(), nn.Linear(16, 7))
    s = spec([{"name": "x", "range": [0, 6], "encoding": "one_hot"},
              {"name": "y", "range": [0, 6], "encoding": "one_hot"}], {"range": [0, 6], "decoding": "argmax"})
    export_onnx(net, 14, tmp_path / "net.onnx")
    x, y = np.meshgrid(np.arange(7), np.arange(7), indexing="ij")
    cols = {"x": x.ravel(), "y": y.ravel()}
    a, b = oracle.load(s, tmp_path / "net.onnx"), oracle.load(s, net)
    assert a.query(cols).tolist() == b.query(cols).tolist()
    np.testing.assert_allclose(a.run_raw(encode_columns(s, cols)), net(torch.from_numpy(
        encode_columns(s, cols))).detach().numpy(), atol=1e-5)
    raw = np.random.default_rng(0).random((50, 14), dtype=np.float32)
    np.testing.assert_allclose(a.run_raw(raw), b.run_raw(raw), atol=1e-5)


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "abs_diff"


@pytest.mark.integration
@pytest.mark.parametrize("payload, found", [
    (pickle.dumps({"weights": [1.0, 2.0]}), "found a Python pickle"),
    (b"hello, I am not a network", "do not parse"),
    (b"", "found no graph"),
])
def test_rejects_non_onnx_bytes(payload: bytes, found: str) -> None:
    with pytest.raises(ModelError, match=found):
        oracle.load(EXAMPLE / "spec.json", payload)


@pytest.mark.integration
def test_rejects_torch_save_zip() -> None:
    buffer = io.BytesIO()
    torch.save(nn.Linear(2, 2).state_dict(), buffer)
    with pytest.raises(ModelError, match="found a zip archive"):
        oracle.load(EXAMPLE / "spec.json", buffer.getvalue())
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("model.onnx", b"")
    with pytest.raises(ModelError, match="zip archive"):
        oracle.load(EXAMPLE / "spec.json", plain.getvalue())


@pytest.mark.integration
def test_rejects_external_data(tmp_path: Path) -> None:
    import onnx
    model = onnx.load_from_string((EXAMPLE / "model.onnx").read_bytes())
    onnx.save_model(model, tmp_path / "ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    with pytest.raises(ModelError, match="external data file 'weights.bin'"):
        oracle.load(EXAMPLE / "spec.json", tmp_path / "ext.onnx")


@pytest.mark.integration
def test_rejects_two_inputs() -> None:
    from onnx import TensorProto, helper
    a, b = (helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 32]) for n in ("a", "b"))
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 32])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "two", [a, b], [out])
    data = helper.make_model(graph).SerializeToString()
    with pytest.raises(ModelError, match=r"expected one input and one output, got 2 inputs \['a', 'b'\]"):
        oracle.load(EXAMPLE / "spec.json", data)


@pytest.mark.integration
def test_rejects_oversize_model() -> None:
    size = (EXAMPLE / "model.onnx").stat().st_size
    with pytest.raises(ModelError, match=f"is {size} bytes, above the limit of 1000 bytes"):
        oracle.load(EXAMPLE / "spec.json", max_bytes=1000)
    with pytest.raises(ModelError, match=f"model: {size} bytes, above the limit of 1000 bytes"):
        oracle.load(EXAMPLE / "spec.json", (EXAMPLE / "model.onnx").read_bytes(), max_bytes=1000)


@pytest.mark.integration
def test_shape_mismatch_names_widths() -> None:
    raw = load_spec(EXAMPLE / "spec.json").to_dict()
    raw["inputs"][1]["range"] = [0, 35]
    with pytest.raises(ModelError) as info:
        oracle.load(raw)
    assert "input width is 64 but the spec's encodings give 68 (x: one_hot 32 columns, y: one_hot 36 columns)" \
        in str(info.value)
    raw = load_spec(EXAMPLE / "spec.json").to_dict()
    raw["output"]["range"] = [0, 40]
    with pytest.raises(ModelError, match=r"output shape for a batch of 2 is \(2, 32\) but .* expects \(2, 41\)"):
        oracle.load(raw)


def test_torch_width_mismatch() -> None:
    s = spec([{"name": "x", "range": [0, 4], "encoding": "one_hot"}], {"range": [0, 4]})
    with pytest.raises(ModelError, match="input width is 3 but the spec's encodings give 5"):
        oracle.load(s, linear([[1, 0, 0]] * 5, [0] * 5))


def test_missing_model() -> None:
    with pytest.raises(ModelError, match="names no model"):
        oracle.load(spec([{"name": "x", "range": [0, 4]}], {"range": [0, 4]}))
    with pytest.raises(ModelError, match="expected a path, ONNX bytes or a torch.nn.Module, got int"):
        oracle.load(spec([{"name": "x", "range": [0, 4]}], {"range": [0, 4]}), 42)


def test_cache_dense_table() -> None:
    s, module, _, _ = CASES["concat-order"]
    o = oracle.load(s, module, batch_size=10)
    x = np.array([0, 1, 2, 2, 0, 1] * 5)
    y = np.array([-5, 3, 5, 0, -5, 3] * 5)
    first = o.query({"x": x, "y": y})
    assert first.tolist() == (10 * x + y).tolist()
    assert (o.calls, o.points) == (1, 4)  # 4 distinct points, one batch
    assert o.query([x, y]).tolist() == first.tolist()
    assert (o.calls, o.points) == (1, 4)
    # Beyond the range (y = 9, 100) goes through the dict cache; y = 3 is already known.
    assert o.query({"x": np.array([1, 1, 1]), "y": np.array([9, 100, 3])}).tolist() == [19, 110, 13]
    assert (o.calls, o.points) == (2, 6)
    o.query({"x": np.array([1, 1]), "y": np.array([9, 100])})
    assert (o.calls, o.points) == (2, 6)


def test_cache_dict_for_large_domain_and_batching() -> None:
    s = spec([{"name": "x", "range": [0, 9999]}, {"name": "y", "range": [0, 9999]}],
             {"range": [0, 30000], "decoding": "round"})
    o = oracle.load(s, linear([[2, 1]], [0]), batch_size=7)
    x, y = np.arange(20) * 500, np.arange(20)[::-1]
    assert o.query({"x": x, "y": y}).tolist() == (2 * x + y).tolist()
    assert (o.calls, o.points) == (3, 20)
    assert o.query({"x": x[:5], "y": y[:5]}).tolist() == (2 * x[:5] + y[:5]).tolist()
    assert (o.calls, o.points) == (3, 20)
    uncached = oracle.load(s, linear([[2, 1]], [0]), cache=False)
    uncached.query({"x": x, "y": y})
    uncached.query({"x": x, "y": y})
    assert (uncached.calls, uncached.points) == (2, 40)


def test_query_rejects_bad_columns() -> None:
    s, module, _, _ = CASES["concat-order"]
    o = oracle.load(s, module)
    with pytest.raises(ValueError, match=r"expected columns \['x', 'y'\], got \['x'\]"):
        o.query({"x": np.array([0])})
    with pytest.raises(ValueError, match="column 'y' must be a 1-D int or bool array of length 2"):
        o.query([np.array([0, 1]), np.array([0.5, 1.0])])
    with pytest.raises(EncodingError, match="x: one_hot encodes values in \\[0, 2\\] only, got 3"):
        o.query([np.array([3]), np.array([0])])
    b = oracle.load(*CASES["bool-threshold"][:2])
    with pytest.raises(EncodingError, match="b: a bool is 0/False or 1/True, got 2"):
        b.query([np.array([0, 2])])


# ---- encode/decode round trips (pure numpy) ----

@st.composite
def int_range(draw, lo_min: int = -1000):
    lo = draw(st.integers(lo_min, 1000))
    return lo, draw(st.integers(lo, lo + 300))


@settings(max_examples=80, deadline=None)
@given(r=int_range(), data=st.data())
def test_one_hot_round_trip(r, data) -> None:
    lo, hi = r
    s = spec([{"name": "v", "range": [lo, hi], "encoding": "one_hot"}], {"range": [lo, hi], "decoding": "argmax"})
    values = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=20)), dtype=np.int64)
    cols = encode(s.inputs[0], values)
    assert cols.shape == (len(values), hi - lo + 1) and cols.sum(axis=1).tolist() == [1.0] * len(values)
    assert decode(s.output, cols).tolist() == values.tolist()
    outside = data.draw(st.one_of(st.integers(hi + 1, hi + 50), st.integers(lo - 50, lo - 1)))
    with pytest.raises(EncodingError, match=f"v: one_hot encodes values in \\[{lo}, {hi}\\] only, got {outside}"):
        encode(s.inputs[0], np.array([lo, outside]))


@settings(max_examples=80, deadline=None)
@given(width=st.integers(1, 40), data=st.data())
def test_bits_round_trip(width: int, data) -> None:
    top = (1 << width) - 1
    s = spec([{"name": "v", "range": [0, top], "encoding": "bits"}], {"range": [0, top], "decoding": "bits"})
    values = np.array(data.draw(st.lists(st.integers(0, top), min_size=1, max_size=20)), dtype=np.int64)
    cols = encode(s.inputs[0], values)
    assert cols.shape == (len(values), width)
    assert cols[:, 0].tolist() == (values % 2).tolist()  # least significant bit first
    assert decode(s.output, cols).tolist() == values.tolist()
    for bad in (-1, top + 1):
        with pytest.raises(EncodingError, match=f"v: bits \\(width {width}\\) encodes values in \\[0, {top}\\] only, got {bad}"):
            encode(s.inputs[0], np.array([bad]))


@settings(max_examples=80, deadline=None)
@given(r=int_range(), offset=st.integers(-100, 100), scale=st.sampled_from([0.5, 1, 3, -2, 50, 127.5]),
       data=st.data())
def test_raw_round_round_trip(r, offset: int, scale: float, data) -> None:
    lo, hi = r
    s = spec([{"name": "v", "range": [lo, hi], "offset": offset, "scale": scale}],
             {"range": [lo, hi], "decoding": "round", "offset": offset, "scale": scale})
    values = np.array(data.draw(st.lists(st.integers(-10**5, 10**5), min_size=1, max_size=20)), dtype=np.int64)
    cols = encode(s.inputs[0], values)  # raw expresses values outside the range too
    np.testing.assert_allclose(cols[:, 0], (values - offset) / scale, rtol=1e-6)
    assert decode(s.output, cols).tolist() == values.tolist()
