"""What an ONNX model may allocate, checked before anything runs: `check_sizes(model, max_elements=...)`.

Two rules, each raising `ModelError` with the node or tensor, its shape and the limit:

1. No tensor may hold more than `max_elements` elements with the batch dimension set to 1 (every
   symbolic dimension of the model's input is set to 1, and any dimension still unknown counts as
   1): initializers, sparse initializers (at their dense size, which ONNX Runtime allocates),
   tensors in attributes such as a Constant's, and every value ONNX shape inference (with data
   propagation, on a copy) finds, including the outputs of ConstantOfShape, Expand, Tile, Range,
   Pad or Resize whose sizes follow from constants or from the input's shape.
2. No size may follow from the input's *values*: the probe run (oracle/sandbox.py) feeds zeros, so
   a ConstantOfShape sized by the input, a Loop whose trip count or condition reads it, or an If
   that branches on it could pass the probe and then allocate or run without bound on real input.
   Values that depend only on the input's shape (through Shape or Size of a tensor whose shape
   inference fixes) are not the input's values.

Both rules see the main graph, its subgraphs and its local functions (inlined on the copy). What
they cannot see (sizes computed from constants through a Loop or an operator data propagation does
not fold, memory that grows with the batch) is the probe's to measure.
"""

from __future__ import annotations

from typing import Any, Iterator

from dsl.errors import ModelError

MAX_ELEMENTS = 2**24  # 64 MiB of float32 per tensor for one row: far above any network netsynth reads

# op_type -> positions of the inputs whose values set the size of the output (ONNX operators, and
# com.microsoft's Range, which has the same inputs). Other operators' outputs are bounded by the
# sizes of their inputs.
SIZE_INPUTS: dict[str, tuple[int, ...]] = {
    "ConstantOfShape": (0,),          # shape
    "Expand": (1,),                   # shape
    "Tile": (1,),                     # repeats
    "Range": (0, 1, 2),               # start, limit, delta
    "Pad": (1,),                      # pads
    "Resize": (1, 2, 3),              # roi (tf_crop_and_resize), scales, sizes
    "Upsample": (1,),                 # scales
    "OneHot": (1,),                   # depth
    "CenterCropPad": (1,),            # shape
    "Col2Im": (1, 2),                 # image_shape, block_shape
    "MaxUnpool": (2,),                # output_shape
    "AffineGrid": (1,),               # size
    "DFT": (1,),                      # dft_length
    "STFT": (1, 3),                   # frame_step, frame_length
    "MelWeightMatrix": (0, 1, 2),     # num_mel_bins, dft_length, sample_rate
    "HannWindow": (0,),               # size
    "HammingWindow": (0,),
    "BlackmanWindow": (0,),
    "ImageDecoder": (0,),             # the encoded image sets its decoded size
    "Loop": (0, 1),                   # trip count, condition: how long it runs (and _follow adds
                                      # everything its body reads: the body sets the next condition)
    "If": (0,),                       # condition: which branch runs
}
SHAPE_ONLY = {"Shape", "Size"}        # read an input's shape, not its values


def check_sizes(model: Any, *, max_elements: int = MAX_ELEMENTS) -> None:
    """Raise `ModelError` if the ONNX `ModelProto` `model` breaks either rule above. `model` is
    not modified; its graph must have exactly one input that is not an initializer."""
    for place, name, dims in _declared(model):
        _cap(f"tensor {name!r} at {place}", dims, max_elements)
    graph, shapes = _inferred(model, max_elements)
    for name, dims in shapes.items():
        _cap(f"value {name!r}", [1 if d is None else d for d in dims], max_elements)
    init = {t.name for t in graph.initializer}
    source = next(i.name for i in graph.input if i.name not in init)
    _follow(graph, {source}, shapes, "graph")


def _count(dims: Any) -> int:
    count = 1
    for d in dims:
        count *= max(d, 0)
    return count


def _cap(what: str, dims: list[int], max_elements: int) -> None:
    count = _count(dims)
    if count > max_elements:
        raise ModelError(f"model: {what} has shape {list(dims)} ({count} elements with a batch of 1), "
                         f"above the limit of {max_elements} elements per tensor")


def _declared(model: Any) -> Iterator[tuple[str, str, list[int]]]:
    """(place, name, dims) of every tensor the model states: initializers and attributes, in the
    main graph, its subgraphs and local functions; sparse tensors at their dense dims."""
    yield from _graph_declared(model.graph, "graph")
    for i, function in enumerate(model.functions):
        yield from _nodes_declared(function.node, f"functions[{i}]")


def _graph_declared(graph: Any, place: str) -> Iterator[tuple[str, str, list[int]]]:
    for i, t in enumerate(graph.initializer):
        yield f"{place}.initializer[{i}]", t.name, list(t.dims)
    for i, s in enumerate(graph.sparse_initializer):
        yield f"{place}.sparse_initializer[{i}]", s.values.name, list(s.dims)
    yield from _nodes_declared(graph.node, place)


def _nodes_declared(nodes: Any, place: str) -> Iterator[tuple[str, str, list[int]]]:
    for i, node in enumerate(nodes):
        for attr in node.attribute:
            at = f"{place}.node[{i}].{attr.name}"
            tensors = ([attr.t] if attr.HasField("t") else []) + list(attr.tensors)
            for t in tensors:
                yield at, t.name or node.name, list(t.dims)
            sparse = ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(attr.sparse_tensors)
            for s in sparse:
                yield at, s.values.name or node.name, list(s.dims)
            for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from _graph_declared(g, at)


def _inferred(model: Any, max_elements: int) -> tuple[Any, dict[str, list[int | None]]]:
    """The main graph with local functions inlined, and every value's shape as shape inference
    finds it there once the input's symbolic dimensions are set to 1 (None: a dimension it could
    not fix; values of unknown rank are left out). Works on a copy. Inference that fails outright
    finds no shapes: the probe still measures such a model."""
    import onnx
    from onnx import inliner, shape_inference

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for graph in _graphs(copy.graph):
        del graph.value_info[:]  # infer from scratch, not from shapes the model states
        for t in graph.initializer:
            if _count(t.dims) > 4096:  # weights, not shapes: only their dims matter here
                name, dims, dtype = t.name, list(t.dims), t.data_type
                t.Clear()
                t.name, t.data_type = name, dtype
                t.dims.extend(dims)
    init = {t.name for t in copy.graph.initializer}
    for value in copy.graph.input:
        if value.name not in init:
            for dim in value.type.tensor_type.shape.dim:
                if not dim.HasField("dim_value"):
                    dim.dim_value = 1
    if copy.functions:
        try:
            copy = inliner.inline_local_functions(copy)
        except Exception as e:  # onnx's own error classes vary by version
            raise ModelError(f"model: its local functions cannot be inlined to check their sizes: {e}") from None
    for graph in _graphs(copy.graph):
        _opaque_ranges(graph, max_elements)
    copy.opset_import.append(onnx.helper.make_opsetid("netsynth.opaque", 1))
    try:
        inferred = shape_inference.infer_shapes(copy, check_type=False, strict_mode=False, data_prop=True)
    except Exception:
        return copy.graph, {}
    shapes: dict[str, list[int | None]] = {}
    for graph in _graphs(inferred.graph):
        for value in [*graph.input, *graph.value_info, *graph.output]:
            tensor = value.type.tensor_type
            if tensor.HasField("shape"):
                shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    return inferred.graph, shapes


def _opaque_ranges(graph: Any, max_elements: int) -> None:
    """ONNX's data propagation computes a Range's values one by one in Python (2^26 of them took
    25 s and gigabytes): a Range whose start, limit and delta are stated constants has its length
    capped here, from those three numbers, and every Range is then hidden from inference (an
    opaque node whose output shape stays unknown; the probe measures what it allocates)."""
    import math

    from onnx import numpy_helper

    constants = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    for node in graph.node:
        if node.op_type != "Range":
            continue
        try:
            start, limit, delta = (float(numpy_helper.to_array(constants[name]).reshape(-1)[0])
                                   for name in node.input[:3])
        except (KeyError, IndexError, ValueError, TypeError):
            start = None                                   # not stated: the probe measures it
        if start is not None and delta != 0 and all(map(math.isfinite, (start, limit, delta))):
            length = max(math.ceil((limit - start) / delta), 0)
            _cap(f"value {node.output[0]!r}", [length], max_elements)
        node.op_type, node.domain = "OpaqueRange", "netsynth.opaque"


def _graphs(graph: Any) -> Iterator[Any]:
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from _graphs(g)


def _follow(graph: Any, tainted: set[str], shapes: dict[str, list[int | None]], place: str) -> None:
    """Walk `graph` in order, marking the values computed from the input's values (`tainted`,
    extended in place), and refuse a node whose size inputs are among them."""
    for i, node in enumerate(graph.node):
        subgraphs = [g for a in node.attribute for g in ([a.g] if a.HasField("g") else []) + list(a.graphs)]
        reads = set(node.input) | {name for g in subgraphs for name in _outer_reads(g)}
        size_inputs = [node.input[k] for k in SIZE_INPUTS.get(node.op_type, ()) if k < len(node.input)]
        if node.op_type == "Loop":
            size_inputs = sorted(reads)  # its body can end the loop from anything it reads
        for name in size_inputs:
            if name in tainted:
                raise ModelError(f"model: node {node.name or f'{place}.node[{i}]'!r} ({node.op_type}) takes its "
                                 f"size or control from {name!r}, which is computed from the input's values; "
                                 "expected sizes, trip counts and conditions that follow from constants and "
                                 "the input's shape")
        dirty = bool(reads & tainted)
        if node.op_type in SHAPE_ONLY and dirty:  # a shape inference fixes does not depend on values
            dirty = node.input[0] not in shapes or None in shapes[node.input[0]]
        if dirty:
            tainted.update(o for o in node.output if o)
        for g in subgraphs:
            inside = set(tainted) | ({v.name for v in g.input} if dirty else set())
            _follow(g, inside, shapes, f"{place}.node[{i}]")


def _outer_reads(graph: Any) -> set[str]:
    """Names a subgraph (or its own subgraphs) reads from enclosing scopes."""
    local = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    local |= {s.values.name for s in graph.sparse_initializer}
    reads: set[str] = set()
    for node in graph.node:
        reads.update(n for n in node.input if n)
        for a in node.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                reads |= _outer_reads(g)
        local.update(node.output)
    return reads - local
