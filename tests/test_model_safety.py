"""An uploaded ONNX model must never make netsynth read a file.

Each crafted model below hides a reference to external data (`README.md`, a real file in the
directory ONNX Runtime would resolve it against) in one of the places ONNX can keep a tensor. Before
the fix, the ones in sparse tensors, functions and training graphs were accepted and the network
computed with the file's bytes. The truth each test checks is the file itself: its bytes must never
come back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from dsl.errors import ModelError
from oracle.backends import OnnxBackend, _session, external_references

WIDTH = 8
SECRET = "README.md"


def external(name: str, location: str = SECRET, *, flag: bool = True) -> TensorProto:
    """A uint8 tensor of WIDTH bytes whose data lives in the file `location`."""
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.UINT8
    t.dims.extend([WIDTH])
    if flag:
        t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(WIDTH))):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def indices() -> TensorProto:
    return helper.make_tensor("w_idx", TensorProto.INT64, [WIDTH], list(range(WIDTH)))


def model(nodes: list, *, initializer=(), sparse=(), functions=(), opsets=(), training=()) -> bytes:
    """x (n, WIDTH) float -> y = x + float(w); `nodes` must produce the uint8 tensor `w`."""
    nodes = [*nodes, helper.make_node("Cast", ["w"], ["wf"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["x", "wf"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", WIDTH])],
        initializer=list(initializer), sparse_initializer=list(sparse))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), *opsets],
                          functions=list(functions))
    m.ir_version = 8
    m.training_info.extend(training)
    return m.SerializeToString()


def identity(name: str = "w_in") -> list:
    return [helper.make_node("Identity", [name], ["w"])]


def in_branch(graph_initializer: TensorProto) -> list:
    """An If whose branches both return a tensor stored in the branch's own initializers."""
    def branch(name: str) -> onnx.GraphProto:
        return helper.make_graph([helper.make_node("Identity", [graph_initializer.name], ["out_" + name])],
                                 name, [], [helper.make_tensor_value_info("out_" + name, TensorProto.UINT8, [WIDTH])],
                                 initializer=[graph_initializer])
    cond = helper.make_node("Constant", [], ["cond"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True]))
    return [cond, helper.make_node("If", ["cond"], ["w"], then_branch=branch("then"), else_branch=branch("else"))]


def in_function() -> tuple[list, list]:
    body = helper.make_node("Constant", [], ["out"])
    body.attribute.append(helper.make_attribute("value", external("f_w")))
    function = helper.make_function("local", "Secret", [], ["out"], [body], [helper.make_opsetid("", 17)])
    return [helper.make_node("Secret", [], ["w"], domain="local")], [function]


def sparse_value() -> list:
    node = helper.make_node("Constant", [], ["w"])
    node.attribute.append(helper.make_attribute("sparse_value", helper.make_sparse_tensor(external("s"), indices(), [WIDTH])))
    return [node]


def tensors_attribute() -> list:
    node = helper.make_node("Identity", ["w_in"], ["w"])
    attr = node.attribute.add()
    attr.name, attr.type = "hidden", onnx.AttributeProto.TENSORS
    attr.tensors.append(external("listed"))
    return [node]


def training() -> list:
    info = onnx.TrainingInfoProto()
    info.initialization.CopyFrom(helper.make_graph([], "init", [], [], initializer=[external("t_w")]))
    return [info]


def inline(name: str = "w_in") -> TensorProto:
    return helper.make_tensor(name, TensorProto.UINT8, [WIDTH], [0] * WIDTH)


def sparse_indices_external() -> onnx.SparseTensorProto:
    values = helper.make_tensor("w_in", TensorProto.UINT8, [WIDTH], [1] * WIDTH)
    idx = external("w_idx")
    idx.data_type = TensorProto.INT64
    return helper.make_sparse_tensor(values, idx, [WIDTH])


CRAFTED = {
    "initializer": lambda: model(identity(), initializer=[external("w_in")]),
    "initializer, location without the EXTERNAL flag": lambda: model(identity(), initializer=[external("w_in", flag=False)]),
    "sparse initializer values": lambda: model(identity(), sparse=[helper.make_sparse_tensor(external("w_in"), indices(), [WIDTH])]),
    "sparse initializer indices": lambda: model(identity(), sparse=[sparse_indices_external()]),
    "Constant value": lambda: model([helper.make_node("Constant", [], ["w"], value=external("c"))]),
    "Constant sparse_value": lambda: model(sparse_value()),
    "tensors attribute": lambda: model(tensors_attribute(), initializer=[inline()]),
    "If branch initializer": lambda: model(in_branch(external("b_w"))),
    "model-local function": lambda: model(*in_function()[:1], functions=in_function()[1],
                                          opsets=[helper.make_opsetid("local", 1)]),
    "training graph": lambda: model(identity(), initializer=[inline()], training=training()),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_every_hidden_external_reference_is_refused(case: str) -> None:
    data = CRAFTED[case]()
    with pytest.raises(ModelError, match=f"refers to external data file '{SECRET}'"):
        OnnxBackend(data, max_bytes=1 << 20)
    assert external_references(onnx.load_from_string(data)), case


def test_the_places_are_named() -> None:
    found = external_references(onnx.load_from_string(CRAFTED["If branch initializer"]()))
    places = sorted(place for place, _, _ in found)
    assert places == ["graph.node[1].else_branch.initializer[0]", "graph.node[1].then_branch.initializer[0]"]
    found = external_references(onnx.load_from_string(CRAFTED["Constant sparse_value"]()))
    assert [(p, n, w) for p, n, w in found] == [("graph.node[0].sparse_value.values", "s", SECRET)]


@pytest.mark.parametrize("case", ["sparse initializer values", "initializer", "Constant value"])
def test_onnx_runtime_reads_no_file_even_past_the_check(case: str, tmp_path: Path, monkeypatch) -> None:
    """The second wall: were the check missed, ONNX Runtime still finds no file to read, even
    with the referenced file in the working directory."""
    secret = bytes(range(100, 100 + WIDTH))
    (tmp_path / SECRET).write_bytes(secret)
    monkeypatch.chdir(tmp_path)
    data = CRAFTED[case]()
    import onnxruntime as ort

    # The file is really there for ONNX Runtime's default settings to read: the truth to hide.
    plain = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    leaked = plain.run(None, {"x": np.zeros((1, WIDTH), np.float32)})[0]
    assert leaked.ravel().tolist() == list(secret)
    with pytest.raises(ModelError, match="ONNX Runtime cannot load it"):
        _session(data, 1)


def test_self_contained_models_still_run() -> None:
    data = model(identity(), initializer=[helper.make_tensor("w_in", TensorProto.UINT8, [WIDTH], list(range(WIDTH)))])
    backend = OnnxBackend(data, max_bytes=1 << 20)
    out = backend.run(np.ones((2, WIDTH), np.float32))
    assert out.tolist() == [[1.0 + i for i in range(WIDTH)]] * 2
