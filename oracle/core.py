"""The network as an oracle: `load(spec, model)` and `Oracle.query(columns)`.

`Oracle.query(batch)` takes a typed batch of points of a function of D inputs: one column per
input (a dict by name, or a list in spec order; int64 or bool for int and bool inputs, floats or
ints for real ones) or one (n, D) array. It returns the decoded network output for every point
(int64, bool for a bool output, float64 for a real one). Points are encoded, sent to the back-end
in batches of `batch_size` rows (fewer when the encoded rows are wide, so that one batch stays
under `BATCH_BYTES`), decoded, and remembered: a point is sent to the network at most once per
oracle (unless `cache=False`). `calls` counts back-end invocations and `points` counts rows sent.
When the inputs form an integer lattice of at most 2^20 points the cache is a dense table indexed
by the point's mixed-radix position (`IntegerLattice.index`); points outside the training range,
every point of a larger domain and real points are cached in a dict keyed by the packed point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from dsl.errors import ModelError, SpecError
from oracle.backends import Backend, open_backend
from oracle.domains import IntegerLattice
from oracle.encoding import decode, decode_width, encode_columns, encode_width
from oracle.spec import Spec, load_spec

DENSE_LIMIT = 2**20
BATCH_BYTES = 2**28      # at most 256 MiB of encoded float32 rows per back-end call
Columns = Mapping[str, np.ndarray] | Sequence[np.ndarray] | np.ndarray


def load(spec: Spec | str | Path | Mapping[str, Any], model: Any = None, *, max_bytes: int = 64 * 2**20,
         batch_size: int = 65536, cache: bool = True, threads: int | None = None) -> "Oracle":
    """Open `model` (path, ONNX bytes or torch.nn.Module; default `spec.model`) as an oracle of `spec`.

    Raises `ModelError` when the model cannot be loaded safely or its input/output widths differ
    from the spec's encodings (found by running a probe batch), `SpecError` for a bad spec.
    A spec with a `sequence` section gets an `oracle.sequences.SequenceOracle`.
    """
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    if model is None:
        if spec.model is None:
            raise ModelError("model: the spec names no model and none was given")
        model = spec.model
    if spec.sequence is not None:
        from oracle import sequences
        return sequences.load(spec, model, max_bytes=max_bytes, threads=threads)
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
        self._width = sum(encode_width(i) for i in spec.inputs)
        self._batch = max(1, min(batch_size, BATCH_BYTES // (4 * self._width)))
        self._cache = cache
        self._out_dtype = spec.output.type.np_dtype
        self._domain = spec.domain()
        self._in_dtype = self._domain.dtype  # int64 for a lattice, float64 for a real box
        self._kinds = "biu" if self._in_dtype == np.int64 else "biuf"
        dense = cache and isinstance(self._domain, IntegerLattice) and self._domain.size <= DENSE_LIMIT
        self._table = np.zeros(self._domain.size, self._out_dtype) if dense else None
        self._known = np.zeros(self._domain.size, bool) if dense else None
        self._dict: dict[bytes, Any] = {}
        self._check_shapes()

    def __reduce__(self) -> tuple:
        """An oracle travels to another process (a Ray task) as its spec and its model's source:
        ONNX bytes, opened there through the same checks, caps and probe as here, or a trusted
        torch module. Its cache and counts start afresh there (`shipped_points`)."""
        source = getattr(self._backend, "source", None)
        if source is None:
            raise TypeError(f"oracle: a {self.backend} back-end cannot be sent to another process")
        return _reopen, (self.spec, source, self._cache)

    def query(self, batch: Columns) -> np.ndarray:
        """Decoded network outputs for a batch of points: columns (dict by name, or a list in
        spec order) or an (n, D) array."""
        mat = self._matrix(batch)
        if not self._cache:
            return self._run(mat)
        out = np.empty(len(mat), self._out_dtype)
        if self._table is not None:
            idx, inside = self._domain.index(mat)
            todo = np.unique(idx[~self._known[idx]])
            if len(todo):
                self._table[todo] = self._run(self._domain.at(todo))
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
            fresh = self._run(unique[todo].view(self._in_dtype).reshape(len(todo), -1))
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
        return encode_columns(self.spec, [mat[:, k] for k in range(mat.shape[1])])

    def _matrix(self, batch: Columns) -> np.ndarray:
        """The batch as an (n, D) array of the domain's dtype (int64, or float64 for reals)."""
        names = self.spec.input_names
        if isinstance(batch, np.ndarray) and batch.ndim == 2:
            if batch.shape[1] != len(names) or batch.dtype.kind not in self._kinds:
                raise SpecError(f"query: expected an (n, {len(names)}) batch of {self._what()} for "
                                f"{list(names)}, got shape {batch.shape} dtype {batch.dtype}")
            return np.ascontiguousarray(batch, dtype=self._in_dtype)
        if isinstance(batch, Mapping):
            if set(batch) != set(names):
                raise SpecError(f"query: expected columns {list(names)}, got {list(batch)}")
            batch = [batch[n] for n in names]
        if len(batch) != len(names):
            raise SpecError(f"query: expected {len(names)} columns {list(names)}, got {len(batch)}")
        arrays = [np.asarray(c) for c in batch]
        for name, a in zip(names, arrays):
            if a.ndim != 1 or a.dtype.kind not in self._kinds or len(a) != len(arrays[0]):
                raise SpecError(f"query: column {name!r} must be a 1-D {self._what()} array of length "
                                f"{len(arrays[0])}, got shape {a.shape} dtype {a.dtype}")
        if not arrays[0].size:
            return np.empty((0, len(names)), self._in_dtype)
        return np.stack(arrays, axis=1).astype(self._in_dtype)

    def _what(self) -> str:
        return "int or bool" if self._kinds == "biu" else "real (float or int)"

    def _check_shapes(self) -> None:
        """Run one probe batch (each input's lo, then hi) and compare widths with the spec."""
        d = self._width
        k = decode_width(self.spec.output)
        parts = ", ".join(f"{i.name}: {i.encoding} {encode_width(i)} columns" for i in self.spec.inputs)
        declared = self._backend.input_width
        if declared and declared != d:
            raise ModelError(f"model: input width is {declared} but the spec's encodings give {d} ({parts})")
        probe = np.array([[i.lo for i in self.spec.inputs], [i.hi for i in self.spec.inputs]], self._in_dtype)
        try:
            raw = self._backend.run(self._encode(probe))
        except ModelError as e:
            raise ModelError(f"model: does not accept {d} input columns ({parts}): {e}") from None
        if raw.ndim != 2 or raw.shape != (2, k):
            raise ModelError(f"model: output shape for a batch of 2 is {tuple(raw.shape)} but the spec's "
                             f"{self.spec.output.decoding} decoding expects (2, {k})")


#: Oracles this process opened from another process's (`Oracle.__reduce__`): the points they
#: queried are that work's (`shipped_points`).
_SHIPPED: list = []


def _reopen(spec: Spec, source: Any, cache: bool) -> Oracle:
    import weakref

    opened = Oracle(spec, open_backend(source, max_bytes=len(source) if isinstance(source, bytes) else 0,
                                       threads=1), cache=cache)
    _SHIPPED.append(weakref.ref(opened))
    return opened


def shipped_points() -> int:
    """Points queried so far by the oracles this process received from another."""
    alive = [r() for r in _SHIPPED]
    _SHIPPED[:] = [r for r, o in zip(list(_SHIPPED), alive) if o is not None]
    return sum(o.points for o in alive if o is not None)
