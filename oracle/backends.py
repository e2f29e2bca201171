"""Back-ends that run a network: float32 (n, D) in, float32 (n, K) out.

`open_backend(model, *, max_bytes, threads, ...limits)` picks one: a `torch.nn.Module` runs
in-process (trusted code, for notebooks); anything else must be an ONNX model given as a path or as
bytes, and runs in ONNX Runtime from bytes held in memory. torch and onnxruntime are imported only when needed.
Nothing here ever unpickles: no `torch.load`, no TorchScript, no pickle.

ONNX models are refused with `ModelError` when larger than `max_bytes`, when they are not ONNX
(pickles and zip archives such as TorchScript or `torch.save` files are named as such), when any
tensor anywhere in the model refers to external data, or when the graph does not have exactly one
input and one output (a sequence model may have a second output: its hidden states, which
`run_hidden` reads for the stateful search's register estimate).

An uploaded model must not exhaust the server's memory or time either. Before ONNX Runtime opens it
in-process, `oracle.sizes.check_sizes` refuses any tensor above `max_elements` elements for one row
and any size or control flow computed from the input's values, and `oracle.sandbox.probe` loads
and runs it in a worker process allowed `max_memory` more bytes and `probe_seconds` seconds; a model
that breaks a limit is refused with `ModelError` naming it. The probe also finds the largest batch
that fits (`rows_per_call`, at most 65536 rows), and `run` splits a larger input into batches of
that size. What bounds a job's time: each call into ONNX Runtime runs at most `rows_per_call` rows,
a batch the probe saw finish (in about a second at most, unless it is the probe's first batch)
with the same number of threads; the job's own timeout is checked by the search between queries.
A call in progress is not interrupted.

An uploaded model must never make the server read a file. Two walls stand in the way:
1. `external_references` walks every place ONNX can keep a tensor (initializers, sparse
   initializers, every tensor and sparse-tensor attribute, subgraphs of control-flow nodes,
   model-local functions, training graphs) and any reference to external data is refused.
2. ONNX Runtime is given the checked copy re-serialised without unknown fields (so it sees no field
   the check could not see), and its folder for external data is a fresh empty directory (so a
   relative path resolves to nothing, not to a file in the server's working directory). Both the
   server's session and the probe's worker open the model with `oracle.sandbox.open_session`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np

from dsl.errors import ModelError
from oracle.sandbox import MAX_MEMORY, PROBE_SECONDS, open_session, probe
from oracle.sizes import MAX_ELEMENTS, check_sizes


class Backend(Protocol):
    name: str
    parameter_count: int
    model_bytes: int | None
    input_width: int | None  # as declared by the model, when it says so

    def run(self, x: np.ndarray) -> np.ndarray: ...


def open_backend(model: Any, *, max_bytes: int, threads: int | None = None, max_elements: int = MAX_ELEMENTS,
                 max_memory: int = MAX_MEMORY, probe_seconds: float = PROBE_SECONDS,
                 steps: int | None = None) -> Backend:
    """Wrap `model` (a path, ONNX bytes, or a torch.nn.Module) in a back-end. The limits apply to
    ONNX models (see OnnxBackend); a torch module is trusted code and runs as it is. `steps`: the
    model reads sequences (n, T, D); the probe runs batches of `steps` steps."""
    limits = dict(max_bytes=max_bytes, threads=threads, max_elements=max_elements, max_memory=max_memory,
                  probe_seconds=probe_seconds, steps=steps)
    if isinstance(model, (bytes, bytearray, memoryview)):
        return OnnxBackend(bytes(model), **limits)
    if isinstance(model, (str, Path)):
        return OnnxBackend(_read_capped(Path(model), max_bytes), **limits)
    if type(model).__module__.startswith("torch") or hasattr(model, "parameters"):
        import torch
        if isinstance(model, torch.nn.Module):
            return TorchBackend(model, sequences=steps is not None)
    raise ModelError(f"model: expected a path, ONNX bytes or a torch.nn.Module, got {type(model).__name__}")


def _read_capped(path: Path, max_bytes: int) -> bytes:
    if not path.is_file():
        raise ModelError(f"model: no such file {str(path)!r}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ModelError(f"model: {str(path)!r} is {size} bytes, above the limit of {max_bytes} bytes")
    return path.read_bytes()


def _sniff(data: bytes) -> str | None:
    """Name the format of bytes that are certainly not ONNX, or None."""
    if data[:4] == b"PK\x03\x04":
        return "a zip archive (a TorchScript or torch.save file?)"
    if data[:1] == b"\x80" and data[1:2] in bytes(range(2, 6)):
        return "a Python pickle"
    if data[:4] == b"\x89HDF":
        return "an HDF5 file (Keras?)"
    return None


class OnnxBackend:
    """An ONNX model in an in-process ONNX Runtime session, opened only once the checks and the
    probe have passed: at construction when the model declares its input width, else at the first
    `run` (which then raises the `ModelError`s construction would have)."""

    name = "onnxruntime"

    def __init__(self, data: bytes, *, max_bytes: int, threads: int | None = None,
                 max_elements: int = MAX_ELEMENTS, max_memory: int = MAX_MEMORY,
                 probe_seconds: float = PROBE_SECONDS, steps: int | None = None) -> None:
        import onnx
        from google.protobuf.message import DecodeError

        if len(data) > max_bytes:
            raise ModelError(f"model: {len(data)} bytes, above the limit of {max_bytes} bytes")
        found = _sniff(data)
        if found:
            raise ModelError(f"model: expected an ONNX model, found {found}")
        proto = onnx.ModelProto()
        try:
            proto.ParseFromString(data)
        except DecodeError:
            raise ModelError(f"model: expected an ONNX model, found {len(data)} bytes that do not parse as one") from None
        if not proto.HasField("graph") or not proto.graph.node:
            raise ModelError("model: expected an ONNX model, found no graph (not an ONNX file?)")
        found = external_references(proto)
        if found:
            place, tensor, where = found[0]
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise ModelError(f"model: tensor {tensor!r} at {place} refers to external data file {where!r}{more}; "
                             "expected a self-contained model (export with external_data=False)")
        proto.DiscardUnknownFields()
        data = proto.SerializeToString()
        init = {t.name for t in proto.graph.initializer}
        inputs = [i for i in proto.graph.input if i.name not in init]
        outputs = (1,) if steps is None else (1, 2)     # a sequence model: + its hidden states
        if len(inputs) != 1 or len(proto.graph.output) not in outputs:
            expected = ("one output" if steps is None else
                        "one or two outputs (the answer, then optionally the hidden states)")
            raise ModelError(f"model: expected one input and {expected}, got {len(inputs)} inputs "
                             f"{[i.name for i in inputs]} and {len(proto.graph.output)} outputs")
        self._outputs = [o.name for o in proto.graph.output]
        self.has_hidden = len(self._outputs) == 2
        dims = inputs[0].type.tensor_type.shape.dim
        rank = 2 if steps is None else 3  # (n, D), or (n, T, D) for a sequence model
        self.input_width = dims[-1].dim_value if len(dims) == rank and dims[-1].HasField("dim_value") else None
        self._steps = steps
        self.parameter_count = int(sum(np.prod(t.dims, dtype=np.int64) for t in proto.graph.initializer))
        self.model_bytes = len(data)
        check_sizes(proto, max_elements=max_elements)
        self.rows_per_call: int | None = None  # known once the probe has run
        self.source = data                     # what another process opens it from (checked again there)
        self._data: bytes | None = data
        self._threads = threads or min(4, os.cpu_count() or 1)
        self._limits = dict(max_memory=max_memory, timeout=probe_seconds)
        self._session: Any = None
        if self.input_width is not None:
            self._open(self.input_width)

    def _open(self, width: int) -> None:
        shape = width if self._steps is None else (self._steps, width)
        found = probe(self._data, width=shape, threads=self._threads, **self._limits)
        refusal = found.refusal()
        if refusal:
            raise ModelError(refusal)
        self._session = _session(self._data, self._threads)
        self._input = self._session.get_inputs()[0].name
        self.rows_per_call = found.rows_per_call
        self._data = None

    def run(self, x: np.ndarray) -> np.ndarray:
        if self._session is None:
            self._open(x.shape[-1])
        rows = self.rows_per_call
        if len(x) <= rows:
            return self._run(x)
        return np.concatenate([self._run(x[i:i + rows]) for i in range(0, len(x), rows)])

    def run_hidden(self, x: np.ndarray) -> np.ndarray:
        """The model's second output (a sequence model's hidden states) on `x`, at most
        `rows_per_call` rows a call."""
        if not self.has_hidden:
            raise ModelError("model: has no second output (hidden states)")
        if self._session is None:
            self._open(x.shape[-1])
        rows = self.rows_per_call
        return np.concatenate([self._run(x[i:i + rows], output=1)
                               for i in range(0, len(x), rows)])

    def _run(self, x: np.ndarray, output: int = 0) -> np.ndarray:
        try:
            return np.asarray(self._session.run([self._outputs[output]], {self._input: x})[0],
                              dtype=np.float32)
        except Exception as e:  # onnxruntime's own exception classes are not importable by name
            if type(e).__module__.startswith("onnxruntime"):
                raise ModelError(f"model: ONNX Runtime failed on input of shape {x.shape}: {e}") from None
            raise


def _session(data: bytes, threads: int) -> Any:
    """`open_session` (with its empty folder for external data), its errors as ModelError."""
    try:
        return open_session(data, threads)
    except Exception as e:
        if type(e).__module__.startswith("onnxruntime"):
            raise ModelError(f"model: ONNX Runtime cannot load it: {e}") from None
        raise


def external_references(model: Any) -> list[tuple[str, str, str]]:
    """Every tensor of an ONNX `ModelProto` that refers to external data, as (place, tensor name,
    location): the place names where it sits (`graph.sparse_initializer[0].values`, ...)."""
    import onnx

    found = []
    for place, tensor in _tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            where = {e.key: e.value for e in tensor.external_data}.get("location", "?")
            found.append((place, tensor.name, where))
    return found


def _tensors(model: Any) -> Iterator[tuple[str, Any]]:
    """Every tensor a model holds, with its place: the main graph, model-local functions and
    training graphs, each with its nodes' attributes and their subgraphs, to any depth."""
    yield from _graph_tensors(model.graph, "graph")
    for i, function in enumerate(model.functions):
        yield from _node_tensors(function.node, f"functions[{i}]")
    for i, info in enumerate(model.training_info):
        yield from _graph_tensors(info.initialization, f"training_info[{i}].initialization")
        yield from _graph_tensors(info.algorithm, f"training_info[{i}].algorithm")


def _graph_tensors(graph: Any, place: str) -> Iterator[tuple[str, Any]]:
    for i, tensor in enumerate(graph.initializer):
        yield f"{place}.initializer[{i}]", tensor
    for i, sparse in enumerate(graph.sparse_initializer):
        yield from _sparse(sparse, f"{place}.sparse_initializer[{i}]")
    yield from _node_tensors(graph.node, place)


def _node_tensors(nodes: Any, place: str) -> Iterator[tuple[str, Any]]:
    for i, node in enumerate(nodes):
        for attr in node.attribute:
            at = f"{place}.node[{i}].{attr.name}"
            if attr.HasField("t"):
                yield at, attr.t
            for j, tensor in enumerate(attr.tensors):
                yield f"{at}[{j}]", tensor
            if attr.HasField("sparse_tensor"):
                yield from _sparse(attr.sparse_tensor, at)
            for j, sparse in enumerate(attr.sparse_tensors):
                yield from _sparse(sparse, f"{at}[{j}]")
            if attr.HasField("g"):
                yield from _graph_tensors(attr.g, at)
            for j, graph in enumerate(attr.graphs):
                yield from _graph_tensors(graph, f"{at}[{j}]")


def _sparse(sparse: Any, place: str) -> Iterator[tuple[str, Any]]:
    yield f"{place}.values", sparse.values
    yield f"{place}.indices", sparse.indices


class TorchBackend:
    """A trusted in-process module; put in eval mode and run under no_grad."""

    name = "torch"
    model_bytes = None

    def __init__(self, module: "torch.nn.Module", *, sequences: bool = False) -> None:  # noqa: F821
        import torch

        self._torch = torch
        self._module = module.eval()
        self.source = module                   # trusted: another process gets the module itself
        self.parameter_count = sum(p.numel() for p in module.parameters())
        first = next((m for m in module.modules() if isinstance(m, torch.nn.Linear)), None)
        # a sequence model's first Linear may well be its head: its width is found by running it
        self.input_width = first.in_features if first is not None and not sequences else None

    def run(self, x: np.ndarray) -> np.ndarray:
        with self._torch.no_grad():
            try:
                out = self._module(self._torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
            except RuntimeError as e:
                raise ModelError(f"model: the torch module failed on input of shape {x.shape}: {e}") from None
        return out.detach().float().numpy()
