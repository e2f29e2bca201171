"""The network as an oracle: `load(spec, model)` and `Oracle.query(columns)`.

`Oracle.query` takes one int64 (or bool) column per input and returns the decoded network output
for every point (int64, or bool for a bool output). Points are encoded, sent to the back-end in
batches of `batch_size` rows, decoded, and remembered: a point is sent to the network at most once
per oracle (unless `cache=False`). `calls` counts back-end invocations and `points` counts rows sent.
When the domain has at most 2^20 points the cache is a dense table indexed by the point's
mixed-radix index (first input slowest); points outside the training range, and every point of a
larger domain, are cached in a dict keyed by the packed point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from dsl.errors import ModelError, SpecError
from oracle.backends import Backend, open_backend
from oracle.encoding import decode, decode_width, encode_columns, encode_width
from oracle.spec import Spec, load_spec

DENSE_LIMIT = 2**20
Columns = Mapping[str, np.ndarray] | Sequence[np.ndarray]


def load(spec: Spec | str | Path | Mapping[str, Any], model: Any = None, *, max_bytes: int = 64 * 2**20,
         batch_size: int = 65536, cache: bool = True, threads: int | None = None) -> "Oracle":
    """Open `model` (path, ONNX bytes or torch.nn.Module; default `spec.model`) as an oracle of `spec`.

    Raises `ModelError` when the model cannot be loaded safely or its input/output widths differ
    from the spec's encodings (found by running a probe batch), `SpecError` for a bad spec.
    """
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    if model is None:
        if spec.model is None:
            raise ModelError("model: the spec names no model and none was given")
        model = spec.model
    backend = open_backend(model, max_bytes=max_bytes, threads=threads)
    return Oracle(spec, backend, batch_size=batch_size, cache=cache)


class Oracle:
    def __init__(self, spec: Spec, backend: Backend, *, batch_size: int = 65536, cache: bool = True) -> None:
        self.spec = spec
        self.backend = backend.name
        self.parameter_count = backend.parameter_count
        self.model_bytes = backend.model_bytes
        self.calls = 0
        self.points = 0
        self._backend = backend
        self._batch = batch_size
        self._cache = cache
        self._out_dtype = np.bool_ if spec.output.type == "bool" else np.int64
        self._lo = np.array([i.lo for i in spec.inputs], dtype=np.int64)
        sizes = np.array([i.hi - i.lo + 1 for i in spec.inputs], dtype=np.int64)
        self._strides = np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)
        self._sizes = sizes
        dense = cache and spec.domain_size() <= DENSE_LIMIT
        self._table = np.zeros(spec.domain_size(), self._out_dtype) if dense else None
        self._known = np.zeros(spec.domain_size(), bool) if dense else None
        self._dict: dict[bytes, Any] = {}
        self._check_shapes()

    def query(self, columns: Columns) -> np.ndarray:
        """Decoded network outputs for the points given column-wise (dict by name, or spec order)."""
        mat = self._matrix(columns)
        if not self._cache:
            return self._run(mat)
        out = np.empty(len(mat), self._out_dtype)
        inside = ((mat >= self._lo) & (mat < self._lo + self._sizes)).all(axis=1)
        if self._table is not None:
            idx = (mat[inside] - self._lo) @ self._strides
            todo = np.unique(idx[~self._known[idx]])
            if len(todo):
                points = (todo[:, None] // self._strides) % self._sizes + self._lo
                self._table[todo] = self._run(points)
                self._known[todo] = True
            out[inside] = self._table[idx]
            rest = ~inside
        else:
            rest = np.ones(len(mat), bool)
        if rest.any():
            out[rest] = self._query_dict(mat[rest])
        return out

    def run_raw(self, x: np.ndarray) -> np.ndarray:
        """The back-end on float32 (n, D) network input, unbatched and uncounted (for timing)."""
        return self._backend.run(np.ascontiguousarray(x, dtype=np.float32))

    def _query_dict(self, mat: np.ndarray) -> np.ndarray:
        keys = np.ascontiguousarray(mat).view(np.dtype((np.void, 8 * mat.shape[1]))).ravel()
        unique, inverse = np.unique(keys, return_inverse=True)
        packed = [k.tobytes() for k in unique]
        todo = [j for j, k in enumerate(packed) if k not in self._dict]
        if todo:
            fresh = self._run(unique[todo].view(np.int64).reshape(len(todo), -1))
            self._dict.update(zip((packed[j] for j in todo), fresh.tolist()))
        values = np.array([self._dict[k] for k in packed], dtype=self._out_dtype)
        return values[inverse.ravel()]

    def _run(self, mat: np.ndarray) -> np.ndarray:
        out = np.empty(len(mat), self._out_dtype)
        for start in range(0, len(mat), self._batch):
            chunk = mat[start:start + self._batch]
            raw = self._backend.run(self._encode(chunk))
            self.calls += 1
            self.points += len(chunk)
            out[start:start + len(chunk)] = decode(self.spec.output, raw.reshape(len(chunk), -1))
        return out

    def _encode(self, mat: np.ndarray) -> np.ndarray:
        return encode_columns(self.spec, {inp.name: mat[:, k] for k, inp in enumerate(self.spec.inputs)})

    def _matrix(self, columns: Columns) -> np.ndarray:
        names = self.spec.input_names
        if isinstance(columns, Mapping):
            if set(columns) != set(names):
                raise SpecError(f"query: expected columns {list(names)}, got {list(columns)}")
            columns = [columns[n] for n in names]
        if len(columns) != len(names):
            raise SpecError(f"query: expected {len(names)} columns {list(names)}, got {len(columns)}")
        arrays = [np.asarray(c) for c in columns]
        for name, a in zip(names, arrays):
            if a.ndim != 1 or a.dtype.kind not in "biu" or len(a) != len(arrays[0]):
                raise SpecError(f"query: column {name!r} must be a 1-D int or bool array of length "
                                f"{len(arrays[0])}, got shape {a.shape} dtype {a.dtype}")
        return np.stack(arrays, axis=1).astype(np.int64) if arrays[0].size else np.empty((0, len(names)), np.int64)

    def _check_shapes(self) -> None:
        """Run one probe batch (each input's lo, then hi) and compare widths with the spec."""
        d = sum(encode_width(i) for i in self.spec.inputs)
        k = decode_width(self.spec.output)
        parts = ", ".join(f"{i.name}: {i.encoding} {encode_width(i)} columns" for i in self.spec.inputs)
        declared = self._backend.input_width
        if declared and declared != d:
            raise ModelError(f"model: input width is {declared} but the spec's encodings give {d} ({parts})")
        probe = np.array([[i.lo for i in self.spec.inputs], [i.hi for i in self.spec.inputs]], np.int64)
        try:
            raw = self._backend.run(self._encode(probe))
        except ModelError as e:
            raise ModelError(f"model: does not accept {d} input columns ({parts}): {e}") from None
        if raw.ndim != 2 or raw.shape != (2, k):
            raise ModelError(f"model: output shape for a batch of 2 is {tuple(raw.shape)} but the spec's "
                             f"{self.spec.output.decoding} decoding expects (2, {k})")
