"""An uploaded model must not exhaust the server's memory or time (issue 15, item 2).

Each model below is crafted with onnx.helper to attack one limit. The truths: the test process's
own peak resident memory (VmHWM in /proc/self/status, reset through /proc/self/clear_refs), the
worker process in /proc, and a plain ONNX Runtime session run on the same rows.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T, helper

import oracle
from dsl.errors import ModelError
from oracle import sandbox
from oracle.backends import OnnxBackend
from oracle.sizes import MAX_ELEMENTS, check_sizes

MiB = 2**20
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def model(nodes: list, *, width: int | str = 1, out: int = 1, initializer=()) -> bytes:
    """x float (n, width) -> y float (n, out); `nodes` must compute y."""
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", T.FLOAT, ["n", width])],
                              [helper.make_tensor_value_info("y", T.FLOAT, ["n", out])],
                              initializer=list(initializer))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def const(name: str, values: list, dtype=T.INT64, dims=None) -> onnx.NodeProto:
    """A Constant node: a 1-D tensor of `values`, or of shape `dims` ([] for a scalar)."""
    tensor = helper.make_tensor(name + "_v", dtype, [len(values)] if dims is None else dims, values)
    return helper.make_node("Constant", [], [name], value=tensor)


def scalar(name: str, dtype: int) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, [])


def filled(shape: str) -> list:
    """y = x + sum(ConstantOfShape(shape)): a tensor of ones the size `shape` names, summed."""
    one = helper.make_tensor("one", T.FLOAT, [1], [1.0])
    return [helper.make_node("ConstantOfShape", [shape], ["big"], value=one), *summed("big")]


def summed(name: str) -> list:
    """y = x + sum(`name`)."""
    return [helper.make_node("ReduceSum", [name], ["total"], keepdims=0),
            helper.make_node("Add", ["x", "total"], ["y"])]


def constant_of_shape_bomb() -> bytes:
    """The issue's model: 2^28 float ones, 1 GiB, from a couple of hundred bytes."""
    return model([const("shape", [2**28]), *filled("shape")])


def hidden_by_a_loop(count: int) -> bytes:
    """ConstantOfShape sized by a one-iteration Loop's output: shape inference cannot see `count`."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), const("shape_out", [count])], "body",
        [scalar("i", T.INT64), scalar("cond_in", T.BOOL), helper.make_tensor_value_info("shape_in", T.INT64, [1])],
        [scalar("cond_out", T.BOOL), helper.make_tensor_value_info("shape_out", T.INT64, [1])])
    return model([const("one", [1], dims=[]), const("yes", [1], T.BOOL, dims=[]), const("start", [1]),
                  helper.make_node("Loop", ["one", "yes", "start"], ["shape"], body=body), *filled("shape")])


def endless_loop(width: int | str = 1) -> bytes:
    """A Loop of 2^20 * 2^20 iterations (a count computed from constants) adding 1 to a scalar."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), const("step", [1.0], T.FLOAT, dims=[]),
         helper.make_node("Add", ["v_in", "step"], ["v_out"])], "body",
        [scalar("i", T.INT64), scalar("cond_in", T.BOOL), scalar("v_in", T.FLOAT)],
        [scalar("cond_out", T.BOOL), scalar("v_out", T.FLOAT)])
    return model([const("half", [2**20], dims=[]), helper.make_node("Mul", ["half", "half"], ["count"]),
                  const("yes", [1], T.BOOL, dims=[]), const("zero", [0.0], T.FLOAT, dims=[]),
                  helper.make_node("Loop", ["count", "yes", "zero"], ["v"], body=body),
                  helper.make_node("Add", ["x", "v"], ["y"])], width=width, out=width)


def wide_hidden_layer(hidden: int = 2**16) -> bytes:
    """x (n, 4) -> relu(x W1) W2 -> (n, 2): a hidden layer of `hidden` floats per row (256 KiB)."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((4, hidden)).astype(np.float32)
    w2 = rng.standard_normal((hidden, 2)).astype(np.float32) / hidden
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    return model(nodes, width=4, out=2, initializer=[onnx.numpy_helper.from_array(w1, "w1"),
                                                     onnx.numpy_helper.from_array(w2, "w2")])


def spec_of_width_1() -> "oracle.Spec":
    return oracle.load_spec({"inputs": [{"name": "a", "range": [0, 3]}],
                             "output": {"range": [0, 100], "decoding": "round"}})


def status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def peak_growth(action) -> int:
    """How far this process's resident memory rose above its level before `action()` (bytes)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    except OSError:
        pytest.skip("cannot reset the peak resident memory here (/proc/self/clear_refs)")
    before = status("VmRSS")
    action()
    return status("VmHWM") - before


# ---- the static check: nothing runs --------------------------------------------------------------

def test_the_issues_constant_of_shape_model_is_refused_before_anything_runs() -> None:
    data = constant_of_shape_bomb()
    assert len(data) < 300

    def load() -> None:
        with pytest.raises(ModelError, match=rf"value 'big' has shape \[268435456\] .*limit of {MAX_ELEMENTS} "):
            oracle.load(spec_of_width_1(), data)

    assert peak_growth(load) < 200 * MiB


def test_the_cap_is_a_keyword_and_counts_one_row() -> None:
    # 2^20 ones pass the default cap, not a cap of 2^19; the batch dimension counts as 1.
    data = model([const("shape", [2**20]), *filled("shape")])
    check_sizes(onnx.load_from_string(data))
    with pytest.raises(ModelError, match=r"\[1048576\].*limit of 524288 elements"):
        OnnxBackend(data, max_bytes=1 << 20, max_elements=2**19)
    weights = model([helper.make_node("MatMul", ["x", "w"], ["y"])], width=8, out=8,
                    initializer=[helper.make_tensor("w", T.FLOAT, [8, 8], [0.0] * 64)])
    with pytest.raises(ModelError, match=r"tensor 'w' at graph.initializer\[0\] has shape \[8, 8\]"):
        check_sizes(onnx.load_from_string(weights), max_elements=63)


def test_sizes_from_the_inputs_shape_are_folded_and_checked() -> None:
    # Expand to (batch, 2^25), the batch read through Shape(x): the input's shape, not its values,
    # so it is no reason to refuse; it folds to [1, 2^25] and meets the cap.
    nodes = [helper.make_node("Shape", ["x"], ["xs"], start=0, end=1), const("wide", [2**25]),
             helper.make_node("Concat", ["xs", "wide"], ["shape"], axis=0),
             helper.make_node("Expand", ["x", "shape"], ["big"]),
             helper.make_node("ReduceSum", ["big", "axis"], ["y"], keepdims=1)]
    data = model([const("axis", [1]), *nodes])
    check_sizes(onnx.load_from_string(data), max_elements=2**25)
    with pytest.raises(ModelError, match=r"value 'big' has shape \[1, 33554432\]"):
        check_sizes(onnx.load_from_string(data))


# Each operator makes 2^26 elements (x is (batch, 1)) from constants; data propagation folds them.
SIZED_BY_CONSTANTS = {
    "ConstantOfShape": lambda: [const("h", [2**13]), helper.make_node("Mul", ["h", "h"], ["s"]), *filled("s")],
    "Expand": lambda: [const("s", [1, 2**26]), helper.make_node("Expand", ["x", "s"], ["big"]), *summed("big")],
    "Tile": lambda: [const("r", [1, 2**26]), helper.make_node("Tile", ["x", "r"], ["big"]), *summed("big")],
    "Range": lambda: [const("a", [0], dims=[]), const("b", [2**26], dims=[]), const("d", [1], dims=[]),
                      helper.make_node("Range", ["a", "b", "d"], ["big"]),
                      helper.make_node("Cast", ["big"], ["big_f"], to=T.FLOAT), *summed("big_f")],
    "Pad": lambda: [const("p", [0, 0, 0, 2**26 - 1]), helper.make_node("Pad", ["x", "p"], ["big"]), *summed("big")],
    "Resize": lambda: [const("scales", [1.0, 2.0**26], T.FLOAT),
                       helper.make_node("Resize", ["x", "", "scales"], ["big"]), *summed("big")],
}


@pytest.mark.parametrize("op", sorted(SIZED_BY_CONSTANTS))
def test_sizes_from_constants_are_folded_and_capped(op: str) -> None:
    with pytest.raises(ModelError, match=r"value 'big' has shape \[(1, )?67108864\] .*limit of 16777216 elements"):
        check_sizes(onnx.load_from_string(model(SIZED_BY_CONSTANTS[op]())))
    check_sizes(onnx.load_from_string(model(SIZED_BY_CONSTANTS[op]())), max_elements=2**26)


@pytest.mark.parametrize("case", ["ConstantOfShape", "Loop", "If"])
def test_sizes_and_control_driven_by_the_inputs_values_are_refused(case: str) -> None:
    """The probe feeds zeros: a size, trip count or branch read from the input would pass it and
    then allocate or run without bound on real input, so the static check refuses it."""
    count = [helper.make_node("ReduceMax", ["x"], ["m"], keepdims=0),
             helper.make_node("Cast", ["m"], ["c"], to=T.INT64)]
    if case == "ConstantOfShape":
        nodes = [*count, const("axes", [0]), helper.make_node("Unsqueeze", ["c", "axes"], ["shape"]), *filled("shape")]
    elif case == "If":
        def branch(name: str, op: str) -> onnx.GraphProto:
            return helper.make_graph([helper.make_node(op, ["x"], [name])], name, [],
                                     [helper.make_tensor_value_info(name, T.FLOAT, ["n", 1])])
        nodes = [*count, const("zero", [0], dims=[]), helper.make_node("Greater", ["c", "zero"], ["positive"]),
                 helper.make_node("If", ["positive"], ["y"], then_branch=branch("t", "Neg"),
                                  else_branch=branch("e", "Identity"))]
    else:
        row = helper.make_tensor_value_info
        body = helper.make_graph(
            [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
             helper.make_node("Identity", ["v_in"], ["v_out"])],
            "body", [scalar("i", T.INT64), scalar("cond_in", T.BOOL), row("v_in", T.FLOAT, ["n", 1])],
            [scalar("cond_out", T.BOOL), row("v_out", T.FLOAT, ["n", 1])])
        nodes = [*count, const("yes", [1], T.BOOL, dims=[]),
                 helper.make_node("Loop", ["c", "yes", "x"], ["y"], body=body)]
    with pytest.raises(ModelError, match=rf"\({case}\) takes its size or control from .*the input's values"):
        OnnxBackend(model(nodes), max_bytes=1 << 20)


# ---- the probe: a worker process with limits ---------------------------------------------------

@pytest.mark.integration
def test_memory_the_static_check_cannot_see_is_refused_by_the_probe() -> None:
    data = hidden_by_a_loop(2**29)  # 2 GiB of ones, sized by a Loop's output
    check_sizes(onnx.load_from_string(data))  # invisible to shape inference

    def load() -> None:  # as the server loads an upload, with the default limits
        with pytest.raises(ModelError, match=r"probe run exceeded the memory limit of 2 GiB while running 2 rows"):
            oracle.load(spec_of_width_1(), data)

    assert peak_growth(load) < 200 * MiB
    with pytest.raises(ModelError, match=r"exceeded the memory limit of 256 MiB"):
        OnnxBackend(hidden_by_a_loop(2**26), max_bytes=1 << 20, max_memory=256 * MiB)
    small = OnnxBackend(hidden_by_a_loop(1000), max_bytes=1 << 20, max_memory=256 * MiB)
    assert small.run(np.zeros((3, 1), np.float32)).ravel().tolist() == [1000.0] * 3


@pytest.mark.integration
def test_a_model_that_runs_too_long_is_refused_and_its_worker_killed(monkeypatch) -> None:
    workers = []

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            workers.append(self)

    monkeypatch.setattr(sandbox.subprocess, "Popen", Recorded)
    with pytest.raises(ModelError, match=r"did not finish within 2 s \(it was running 2 rows\)"):
        OnnxBackend(endless_loop(), max_bytes=1 << 20, probe_seconds=2)
    assert len(workers) == 1
    assert workers[0].returncode is not None  # killed and reaped: not even a zombie is left
    assert not Path(f"/proc/{workers[0].pid}").exists()


@pytest.mark.integration
def test_a_wide_layer_runs_in_smaller_batches_with_the_same_results() -> None:
    import onnxruntime as ort

    data = wide_hidden_layer()
    backend = OnnxBackend(data, max_bytes=1 << 23, max_memory=256 * MiB)
    rows = backend.rows_per_call
    assert 2 <= rows < 65536 and rows * 256 * 1024 <= 256 * MiB
    x = np.random.default_rng(1).standard_normal((4000, 4)).astype(np.float32)
    plain = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    truth = np.concatenate([plain.run(None, {"x": x[i:i + rows]})[0] for i in range(0, len(x), rows)])
    got = []
    growth = peak_growth(lambda: got.append(backend.run(x)))
    assert got[0].shape == (4000, 2) and np.array_equal(got[0], truth)
    assert growth < 600 * MiB  # 4000 rows in one call would take 1 GiB for the hidden layer alone


@pytest.mark.integration
def test_a_model_without_a_declared_width_is_probed_at_its_first_run() -> None:
    square = OnnxBackend(model([helper.make_node("Mul", ["x", "x"], ["y"])], width="d", out="d"), max_bytes=1 << 20)
    assert square.rows_per_call is None
    assert square.run(np.array([[1, 2, 3]], np.float32)).tolist() == [[1, 4, 9]]
    assert square.rows_per_call >= 2
    endless = OnnxBackend(endless_loop(width="d"), max_bytes=1 << 20, probe_seconds=2)
    with pytest.raises(ModelError, match=r"did not finish within 2 s"):
        endless.run(np.zeros((2, 3), np.float32))


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(p.parent.name for p in EXAMPLES.glob("*/model.onnx")))
def test_the_bundled_examples_load_and_agree_with_plain_onnx_runtime(name: str) -> None:
    """Every bundled network, through the capped back-end, answers as a plain ONNX Runtime
    session does: functions on (n, D) rows, sequence models on (n, T, D) words of two lengths."""
    import onnxruntime as ort

    from oracle.spec import load_spec

    data = (EXAMPLES / name / "model.onnx").read_bytes()
    spec = load_spec(EXAMPLES / name / "spec.json")
    lengths = [None] if spec.sequence is None else [spec.sequence.min_len, spec.sequence.max_len]
    plain = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feed = plain.get_inputs()[0].name
    for steps in lengths:
        backend = OnnxBackend(data, max_bytes=64 * MiB, steps=steps)
        assert backend.rows_per_call >= 2  # the probe ran
        shape = (3000, backend.input_width) if steps is None else (300, steps, backend.input_width)
        x = np.random.default_rng(2).integers(0, 2, shape).astype(np.float32)
        rows = backend.rows_per_call
        truth = np.concatenate([plain.run(None, {feed: x[i:i + rows]})[0]
                                for i in range(0, len(x), rows)])
        assert np.array_equal(backend.run(x), truth)


def test_a_range_is_never_computed_by_the_check() -> None:
    """ONNX's data propagation computes a Range of stated constants value by value in Python
    (2^26 of them took 25 s and gigabytes of the server's memory). Its length is capped from the
    three numbers instead, and the Range is hidden from inference: the memory does not grow."""
    def rss_mib() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    nodes = SIZED_BY_CONSTANTS["Range"]()
    before = rss_mib()
    with pytest.raises(ModelError, match="limit of 16777216 elements"):
        check_sizes(onnx.load_from_string(model(nodes)))
    check_sizes(onnx.load_from_string(model(nodes)), max_elements=2**26)
    assert rss_mib() - before < 200
