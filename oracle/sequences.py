"""A network that reads sequences, as an oracle: `SequenceOracle.query(batch)` for (n, T, D) batches.

A sequence spec (`Spec.sequence`) describes one step by its `inputs`; the network reads float32
(n, T, W), each step the concatenation of its inputs' encodings (W columns), T dynamic, and answers
(n, K) once at the end (`final`) or (n, T, K) after every step (`per_step`), decoded by the spec's
output decoding into (n,) or (n, T) values (int64, bool for a bool output, float64 for a real one).

`query(batch)` takes the raw step values: an (n, T, D) array, D the number of inputs of a step
(int64 for int and bool inputs, float64 for real ones). `query_words(words)` takes words over
the step domain's points (tuples of letters, a letter an index into `letters`, the step lattice's
points in mixed-radix order): what automata learning asks. Both are cached by the whole word: a
word is sent to the network at most once per oracle. Words of equal length go to the back-end
together, in batches of at most `rows_per_call` sequences of `max_len` steps' worth of memory.
`calls` counts back-end invocations, `points` counts sequences sent, `steps` the steps they held.

Opening the model runs a probe batch of lengths min_len and max_len (and twice max_len, to check
that T is dynamic) and raises `ModelError` naming the shapes when they do not fit the spec.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from dsl.errors import ModelError, SpecError
from oracle.domains import IntegerLattice
from oracle.encoding import decode, decode_width, encode_columns, encode_width
from oracle.spec import Spec

BATCH_STEPS = 2**22   # at most this many steps (rows x T) per back-end call


def load(spec: Spec, model: Any, *, max_bytes: int, threads: int | None = None) -> "SequenceOracle":
    """Open `model` (path, ONNX bytes or a trusted torch.nn.Module) as the oracle of a sequence spec."""
    from oracle.backends import open_backend

    if spec.sequence is None:
        raise SpecError("sequence: the spec has no 'sequence' section")
    backend = open_backend(model, max_bytes=max_bytes, threads=threads, steps=spec.sequence.max_len)
    return SequenceOracle(spec, backend)


class SequenceOracle:
    def __init__(self, spec: Spec, backend: Any, *, cache: bool = True) -> None:
        if spec.sequence is None:
            raise SpecError("sequence: the spec has no 'sequence' section")
        self.spec = spec
        self.backend = backend.name
        self.parameter_count = backend.parameter_count
        self.model_bytes = backend.model_bytes
        self.per_step = spec.sequence.per_step
        self.width = len(spec.inputs)                     # D: raw inputs per step
        self.calls = self.points = self.steps = 0
        self._backend = backend
        self._encoded = sum(encode_width(i) for i in spec.inputs)  # W: encoded columns per step
        self._k = decode_width(spec.output)
        self._cache = cache
        self._known: dict[bytes, Any] = {}
        self._out_dtype = spec.output.type.np_dtype
        self.step_domain = spec.domain().step
        self._in_dtype = self.step_domain.dtype
        self._letters: np.ndarray | None = None
        self._check_shapes()
        if getattr(backend, "has_hidden", False):       # offered only when the model has them
            self.hidden_states = self._hidden_states

    @property
    def letters(self) -> np.ndarray:
        """The step domain's points (S, D) in mixed-radix order: letter i is `letters[i]`;
        `SpecError` for real steps or a step domain of more than 4096 points."""
        if self._letters is None:
            if not isinstance(self.step_domain, IntegerLattice) or self.step_domain.size > 4096:
                raise SpecError(f"inputs: words need a finite alphabet of at most 4096 steps, got a step "
                                f"domain of {self.step_domain.size} points")
            self._letters = self.step_domain.points(limit=4096)
        return self._letters

    def query(self, batch: np.ndarray) -> np.ndarray:
        """Decoded answers for a batch (n, T, D) of step values: (n,) final or (n, T) per step."""
        batch = np.asarray(batch)
        kinds = "biu" if self._in_dtype == np.int64 else "biuf"
        if batch.ndim != 3 or batch.shape[2] != self.width or batch.dtype.kind not in kinds:
            raise SpecError(f"query: expected an (n, T, {self.width}) batch of "
                            f"{'int or bool' if kinds == 'biu' else 'real'} step values for "
                            f"{list(self.spec.input_names)}, got shape {batch.shape} dtype {batch.dtype}")
        batch = np.ascontiguousarray(batch, dtype=self._in_dtype)
        n, t = batch.shape[:2]
        shape = (n, t) if self.per_step else (n,)
        if n == 0:
            return np.empty(shape, self._out_dtype)
        if not self._cache:
            return self._run(batch)
        keys = batch.reshape(n, -1).view(np.dtype((np.void, 8 * t * self.width))).ravel()
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        packed = [k.tobytes() for k in unique]
        todo = [j for j, k in enumerate(packed) if k not in self._known]
        if todo:
            fresh = self._run(batch[first[todo]])
            self._known.update(zip((packed[j] for j in todo), list(fresh)))
        values = np.stack([np.asarray(self._known[k]) for k in packed]).astype(self._out_dtype)
        return values[inverse.ravel()].reshape(shape)

    def query_words(self, words: Sequence[Sequence[int]]) -> list[Any]:
        """The answers (Python values: final, or a tuple per step) for words over `letters`,
        grouped by length into (n, T, D) batches."""
        letters = self.letters
        out: list[Any] = [None] * len(words)
        by_length: dict[int, list[int]] = {}
        for j, w in enumerate(words):
            by_length.setdefault(len(w), []).append(j)
        for t, index in by_length.items():
            if t == 0:
                raise SpecError("query_words: the empty word has no answer (sequences have at least one step)")
            codes = np.array([words[j] for j in index], dtype=np.int64)
            if codes.min() < 0 or codes.max() >= len(letters):
                raise SpecError(f"query_words: letters are 0..{len(letters) - 1}, got {int(codes.max())}")
            answers = self.query(letters[codes])
            for j, a in zip(index, answers.tolist()):
                out[j] = tuple(a) if self.per_step else a
        return out

    def _hidden_states(self, batch: np.ndarray) -> np.ndarray:
        """The model's hidden states (its second output) on int sequences (n, T) or (n, T, D),
        as (n, T, H): batch-first (n, T, ...) outputs, or the (T, directions, n, H) layout of
        ONNX's recurrent nodes. Uncounted, uncached (white-box help, not queries)."""
        batch = np.asarray(batch)
        batch = batch[..., None] if batch.ndim == 2 else batch
        n, t = batch.shape[:2]
        h = self._backend.run_hidden(self._encode(batch.astype(self._in_dtype)))
        if h.ndim == 4 and h.shape[0] == t and h.shape[2] == n and h.shape[1] in (1, 2):
            h = np.transpose(h, (2, 0, 1, 3))                      # ONNX's Y: (T, dirs, n, H)
        if h.shape[:2] != (n, t):
            raise ModelError(f"model: hidden states (second output) of shape {tuple(h.shape)} for "
                             f"{n} sequences of {t} steps; expected ({n}, {t}, H)")
        return h.reshape(n, t, -1)

    def run_raw(self, x: np.ndarray) -> np.ndarray:
        """The back-end on float32 (n, T, W) network input, unbatched and uncounted (for timing)."""
        return self._backend.run(np.ascontiguousarray(x, dtype=np.float32))

    def _run(self, batch: np.ndarray) -> np.ndarray:
        n, t = batch.shape[:2]
        rows = max(1, BATCH_STEPS // t)
        probe_rows = getattr(self._backend, "rows_per_call", None)
        if probe_rows:  # measured at max_len steps: longer sequences take proportionally fewer
            rows = min(rows, max(1, probe_rows * self.spec.sequence.max_len // t))
        parts = []
        for start in range(0, n, rows):
            chunk = batch[start:start + rows]
            raw = self._backend.run(self._encode(chunk))
            self.calls += 1
            self.points += len(chunk)
            self.steps += len(chunk) * t
            parts.append(self._decode(raw, len(chunk), t))
        return np.concatenate(parts)

    def _encode(self, batch: np.ndarray) -> np.ndarray:
        n, t, d = batch.shape
        flat = batch.reshape(n * t, d)
        return encode_columns(self.spec, [flat[:, k] for k in range(d)]).reshape(n, t, self._encoded)

    def _decode(self, raw: np.ndarray, n: int, t: int) -> np.ndarray:
        want = (n, t, self._k) if self.per_step else (n, self._k)
        if raw.shape != want:
            raise ModelError(f"model: output shape for input shape {(n, t, self._encoded)} is "
                             f"{tuple(raw.shape)} but the spec ({self.spec.sequence.output} outputs, "
                             f"{self.spec.output.decoding} decoding) expects {want}")
        return decode(self.spec.output, raw.reshape(-1, self._k)).reshape(want[:-1])

    def _check_shapes(self) -> None:
        """Probe batches of 2 sequences of min_len, max_len and 2 * max_len steps (T dynamic)."""
        parts = ", ".join(f"{i.name}: {i.encoding} {encode_width(i)} columns" for i in self.spec.inputs)
        declared = self._backend.input_width
        if declared and declared != self._encoded:
            raise ModelError(f"model: input width (last dimension) is {declared} but the spec's encodings "
                             f"give {self._encoded} per step ({parts})")
        lo = np.array([i.lo for i in self.spec.inputs], self._in_dtype)
        hi = np.array([i.hi for i in self.spec.inputs], self._in_dtype)
        seq = self.spec.sequence
        for t in sorted({seq.min_len, seq.max_len, 2 * seq.max_len}):
            batch = np.stack([np.tile(lo, (t, 1)), np.tile(hi, (t, 1))])
            x = self._encode(batch)
            try:
                raw = self._backend.run(x)
            except ModelError as e:
                raise ModelError(f"model: does not accept input of shape {x.shape} (2 sequences of {t} "
                                 f"steps of {self._encoded} columns: {parts}): {e}") from None
            self._decode(np.asarray(raw), 2, t)


def words_of_length(alphabet: int, length: int) -> Iterable[tuple[int, ...]]:
    """Every word of `length` letters over range(alphabet), in lexicographic order."""
    import itertools

    return itertools.product(range(alphabet), repeat=length)
