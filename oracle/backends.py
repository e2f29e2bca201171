"""Back-ends that run a network: float32 (n, D) in, float32 (n, K) out.

`open_backend(model, *, max_bytes, threads)` picks one: a `torch.nn.Module` runs in-process (trusted
code, for notebooks); anything else must be an ONNX model given as a path or as bytes, and runs in
ONNX Runtime from bytes held in memory. torch and onnxruntime are imported only when needed.
Nothing here ever unpickles: no `torch.load`, no TorchScript, no pickle.

ONNX models are refused with `ModelError` when larger than `max_bytes`, when they are not ONNX
(pickles and zip archives such as TorchScript or `torch.save` files are named as such), when a
tensor refers to an external data file, or when the graph does not have exactly one input and one
output.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np

from dsl.errors import ModelError


class Backend(Protocol):
    name: str
    parameter_count: int
    model_bytes: int | None
    input_width: int | None  # as declared by the model, when it says so

    def run(self, x: np.ndarray) -> np.ndarray: ...


def open_backend(model: Any, *, max_bytes: int, threads: int | None = None) -> Backend:
    """Wrap `model` (a path, ONNX bytes, or a torch.nn.Module) in a back-end."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return OnnxBackend(bytes(model), max_bytes=max_bytes, threads=threads)
    if isinstance(model, (str, Path)):
        return OnnxBackend(_read_capped(Path(model), max_bytes), max_bytes=max_bytes, threads=threads)
    if type(model).__module__.startswith("torch") or hasattr(model, "parameters"):
        import torch
        if isinstance(model, torch.nn.Module):
            return TorchBackend(model)
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
    name = "onnxruntime"

    def __init__(self, data: bytes, *, max_bytes: int, threads: int | None = None) -> None:
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
        for tensor in _tensors(proto.graph):
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                where = {e.key: e.value for e in tensor.external_data}.get("location", "?")
                raise ModelError(f"model: tensor {tensor.name!r} refers to external data file {where!r}; "
                                 "expected a self-contained model (export with external_data=False)")
        init = {t.name for t in proto.graph.initializer}
        inputs = [i for i in proto.graph.input if i.name not in init]
        if len(inputs) != 1 or len(proto.graph.output) != 1:
            raise ModelError(f"model: expected one input and one output, got {len(inputs)} inputs "
                             f"{[i.name for i in inputs]} and {len(proto.graph.output)} outputs")
        dims = inputs[0].type.tensor_type.shape.dim
        self.input_width = dims[1].dim_value if len(dims) == 2 and dims[1].HasField("dim_value") else None
        self.parameter_count = int(sum(np.prod(t.dims, dtype=np.int64) for t in proto.graph.initializer))
        self.model_bytes = len(data)
        self._session = _session(data, threads)
        self._input = self._session.get_inputs()[0].name

    def run(self, x: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(self._session.run(None, {self._input: x})[0], dtype=np.float32)
        except Exception as e:  # onnxruntime's own exception classes are not importable by name
            if type(e).__module__.startswith("onnxruntime"):
                raise ModelError(f"model: ONNX Runtime failed on input of shape {x.shape}: {e}") from None
            raise


def _session(data: bytes, threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as e:
        if type(e).__module__.startswith("onnxruntime"):
            raise ModelError(f"model: ONNX Runtime cannot load it: {e}") from None
        raise


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor stored in a graph: initializers and tensor attributes, subgraphs included."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for g in attr.graphs:
                yield from _tensors(g)


class TorchBackend:
    """A trusted in-process module; put in eval mode and run under no_grad."""

    name = "torch"
    model_bytes = None

    def __init__(self, module: "torch.nn.Module") -> None:  # noqa: F821
        import torch

        self._torch = torch
        self._module = module.eval()
        self.parameter_count = sum(p.numel() for p in module.parameters())
        first = next((m for m in module.modules() if isinstance(m, torch.nn.Linear)), None)
        self.input_width = first.in_features if first is not None else None

    def run(self, x: np.ndarray) -> np.ndarray:
        with self._torch.no_grad():
            try:
                out = self._module(self._torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
            except RuntimeError as e:
                raise ModelError(f"model: the torch module failed on input of shape {x.shape}: {e}") from None
        return out.detach().float().numpy()
