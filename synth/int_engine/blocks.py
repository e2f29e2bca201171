"""Blocks of one work item: how its candidates are tiled and evaluated (synth/int_engine/enumerate.py).

`tiles` cuts the combinations of a work item's argument rows into blocks of bounded size (the
first argument's rows slowest); `numpy_block` evaluates a block with the operator's numpy form
(checked semantics, overflow marked), `compiled_block` through its numba kernels (fingerprints
without values, then only the new rows computed). Both give the same fingerprints and rows.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dsl.ops import INT64_MAX, INT64_MIN, Operator
from dsl.types import INT, Type
from synth.int_engine.bank import Production, Segment, fingerprints
from synth.int_engine.kernels import Kernel

def tiles(first: Segment, start: int, stop: int, second: "Rows | None", third: list,
           points: int, budget: int, columns: int | None = None):
    """Blocks of candidates (first argument's rows [start, stop) of `first`, against the rows
    of `second` and `third`), each of about `budget` values at most, as lists of parts
    (segment, start, stop); the first argument's rows are the slowest. With `columns`, blocks
    take at most that many rows of `second` (and as many of `first` as the budget allows), so
    that a kernel reads them from cache while it combines them with each row of `first`."""
    n = second.rows if second is not None else 1
    width = min(n, columns) if columns is not None else n
    per_row = width * (third[0][2] if third else 1)
    step = max(1, budget // (points * max(per_row, 1)))
    for i0 in range(start, stop, step):
        i1 = min(stop, i0 + step)
        if second is None:
            yield [(first, i0, i1)] + third
            continue
        span = width if columns is not None else max(1, budget // (points * (i1 - i0)))
        for j0 in range(0, n, span):
            yield [(first, i0, i1), second.block(j0, min(n, j0 + span))] + third


def as_rows(parts):
    """A block's parts as `_tiles` arguments."""
    first, a, b = parts[0]
    second = Rows([_slice(*parts[1])]) if len(parts) > 1 else None
    return first, a, b, second, parts[2:]


def _slice(seg: Segment, a: int, b: int) -> Segment:
    return Segment(seg.values[a:b], seg.lo[a:b], seg.hi[a:b], seg.offset + a,
                   None if seg.alive is None else seg.alive[a:b])


class Rows:
    """A bank level's segments read as one run of rows: a block of rows may span segments (a
    level holds many small ones when it was found in many shards), so blocks keep their size,
    and the order of a level's candidates does not depend on where segments begin."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = list(segments)
        self.starts = np.cumsum([0] + [len(s.values) for s in self.segments])
        self.rows = int(self.starts[-1])
        self.offset = self.segments[0].offset

    def whole(self) -> tuple[Segment, int, int]:
        return self.block(0, self.rows)

    def block(self, a: int, b: int) -> tuple[Segment, int, int]:
        """Rows [a, b) as (segment, start, stop): a slice of one segment when they lie in one,
        else a segment joined from the pieces (widened to int64, as operators read them)."""
        k0 = int(np.searchsorted(self.starts, a, side="right")) - 1
        k1 = int(np.searchsorted(self.starts, b, side="left"))
        if k1 - k0 == 1:
            return self.segments[k0], a - int(self.starts[k0]), b - int(self.starts[k0])
        pieces = [(seg, max(a, int(s)) - int(s), min(b, int(s) + len(seg.values)) - int(s))
                  for seg, s in zip(self.segments[k0:k1], self.starts[k0:k1])]
        dtype = np.bool_ if pieces[0][0].values.dtype == np.bool_ else np.int64
        alive = None
        if any(seg.alive is not None for seg, _, _ in pieces):
            alive = np.concatenate([np.ones(y - x, bool) if seg.alive is None else seg.alive[x:y]
                                    for seg, x, y in pieces])
        joined = Segment(np.concatenate([seg.values[x:y] for seg, x, y in pieces], dtype=dtype),
                         np.concatenate([seg.lo[x:y] for seg, x, y in pieces]),
                         np.concatenate([seg.hi[x:y] for seg, x, y in pieces]),
                         self.offset + a, alive)
        return joined, 0, b - a


def usable(parts: Sequence[tuple[Segment, int, int]]) -> np.ndarray | None:
    """Which combinations of the parts' rows use live rows only (None: all of them)."""
    if all(seg.alive is None for seg, _, _ in parts):
        return None
    mask = np.ones((), bool)
    for seg, a, b in parts:
        alive = np.ones(b - a, bool) if seg.alive is None else seg.alive[a:b]
        mask = np.multiply.outer(mask, alive)
    return mask.ravel()


def numpy_block(row: Operator, parts: Sequence[tuple[Segment, int, int]], key: np.ndarray,
                 target: np.ndarray | None):
    """Fingerprints, which candidates did not overflow (None: all of them) and the values of a
    block, through the operator's numpy semantics: every candidate combining rows [a, b) of each
    part (broadcast against each other, first part slowest)."""
    k = len(parts)
    points = parts[0][0].values.shape[1]
    shaped, dims = [], tuple(b - a for _, a, b in parts)
    for pos, (seg, a, b) in enumerate(parts):
        shape = [1] * k + [points]
        shape[pos] = b - a
        shaped.append(_wide(seg.values[a:b]).reshape(shape))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        vals, bad = row.numpy(*shaped)
    vals = np.broadcast_to(vals, dims + (points,)).reshape(-1, points)
    ok = None
    if bad is not None:
        ok = ~np.broadcast_to(bad, dims + (points,)).reshape(-1, points).any(axis=1)
    return fingerprints(vals, key), ok, lambda picks: _describe(vals[picks], target)


def _describe(rows: np.ndarray, target: np.ndarray | None) -> tuple:
    """What `_Collector.offer` asks of new rows: a writer of some of them, their least and
    greatest values, agreement with the target (-1 without one), dtype."""
    lo, hi = rows.min(axis=1), rows.max(axis=1)
    agree = (np.full(len(rows), -1, np.int64) if target is None
             else np.count_nonzero(rows == target, axis=1))

    def write(picks: np.ndarray, out: np.ndarray) -> None:
        np.take(rows, picks, axis=0, out=out)
    return write, lo, hi, agree, rows.dtype


def compiled_block(compiled: Kernel, production: Production,
                    parts: Sequence[tuple[Segment, int, int]], key: np.ndarray,
                    target: np.ndarray | None):
    """What `_numpy_block` gives, through the operator's compiled kernels: fingerprints without
    the values, which are computed only for the candidates asked for."""
    args = [np.ascontiguousarray(_wide(seg.values[a:b])) for seg, a, b in parts]
    n = int(np.prod([len(a) for a in args]))
    fps, ok = np.empty(n, np.uint64), np.empty(n, np.bool_)
    compiled.fingerprints(args, key, fps, ok)
    dtype, points = production.result_type.np_dtype, args[0].shape[1]

    def rows_of(picks: np.ndarray) -> tuple:
        n = len(picks)
        picks = picks.astype(np.int64)
        lo, hi, agree = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
        compiled.describe(args, picks, np.zeros(points, dtype) if target is None else target,
                          lo, hi, agree)
        if target is None:
            agree[:] = -1

        def write(which: np.ndarray, out: np.ndarray) -> None:
            compiled.values(args, picks[which], out)
        return write, lo, hi, agree, np.dtype(dtype)
    return fps, ok if compiled.checked else None, rows_of


def _wide(values: np.ndarray) -> np.ndarray:
    """Rows as operators read them: Booleans, or ints widened to int64 (stored narrow)."""
    return values if values.dtype == np.int64 or values.dtype == np.bool_ \
        else values.astype(np.int64)


def kernel_applies(row: Operator, compiled: Kernel, result: Type, parts) -> bool:
    """Whether the operator's scalar form may run on the block: its result is a Boolean, or the
    kernel checks every point for overflow, or `bounds` shows that no value overflows and
    `scalar_when` holds."""
    if result != INT or compiled.checked:
        return True
    if row.bounds is None:
        return False
    intervals = [(int(seg.lo[a:b].min()), int(seg.hi[a:b].max())) for seg, a, b in parts]
    lo, hi = row.bounds(*intervals)
    return INT64_MIN < lo and hi < INT64_MAX \
        and (row.scalar_when is None or row.scalar_when(*intervals))
