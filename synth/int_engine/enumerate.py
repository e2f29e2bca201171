"""Vectorized bottom-up enumeration: one size level at a time, in shards.

A level of size s is the union of work items: a production, the sizes of its arguments (summing
to s - 1), and a block of rows of one segment of its first argument. `expand` evaluates a work
item in whole numpy blocks (broadcasting the argument banks against each other), drops candidates
whose values overflow, fingerprints the rest, keeps those whose value vector is new
(observational equivalence) and reports the first that reaches the target. It is a pure function
of arrays, so the same code runs in-process and in Ray workers; results are merged in work-item
order, which makes the answer independent of how many workers there are.

Bank rows live in segments (arrays of at most `SEGMENT_ROWS` rows) that are written once, when a
new row is found, and never copied again: on machines where fresh memory is slow to fault in,
touching each row once, in as few bytes as possible, is what keeps the search fast. So an int row
is stored in the narrowest of int8, int16, int32 and int64 that holds its values (operators read
them widened to int64), and a level keeps its rows grouped by storage width, narrowest first, each
group in discovery order: an order that does not depend on how the level was split into shards.

Large levels (`compiled`) run each operator that has a `scalar` form through compiled kernels
(synth/int_engine/kernels.py): a block's candidates are fingerprinted without writing their values, and only
the new ones are computed into rows. Blocks are then shaped for the cache (a run of second-argument
rows against many first-argument rows); a block whose bounds do not let the kernel run unchecked is
split, and each piece goes through the kernel or, failing that, through numpy's checked semantics.
Both paths give the same values and fingerprints; a level uses one block shape throughout, so its
order of discovery is the same in every process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from dsl.language import get_dsl
from dsl.ops import Operator
from synth.int_engine.bank import MAX_ARITY, Found, Production, Segment
from synth.int_engine.blocks import Rows, as_rows, compiled_block, kernel_applies, numpy_block, tiles, usable
from synth.int_engine.kernels import Kernel, kernel, sorted_order

#: Values computed per numpy block (candidates x points); bounds the memory of one block.
BLOCK_ELEMENTS = 1 << 18
#: Candidates per compiled block: bounds the fingerprints held at once.
KERNEL_BLOCK = 1 << 14
#: Bytes of second-argument rows (widened to int64) a compiled block reads: they stay in cache
#: while the kernel combines them with each of the block's first-argument rows.
KERNEL_COLUMN_BYTES = 1 << 19
#: Storage of int rows, narrowest first, and the largest value each holds.
WIDTHS = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
_WIDTH_MAX = np.array([np.iinfo(t).max for t in WIDTHS[:-1]])


@dataclass(frozen=True)
class WorkItem:
    production: int
    sizes: tuple[int, ...]
    segment: int                # which segment of the first argument's level
    start: int                  # rows [start, stop) of that segment
    stop: int
    candidates: int             # how many candidates the item composes


@dataclass
class Shard:
    """New distinct rows found by a batch of work items: grouped by storage dtype (`groups`, in
    the canonical order of `group_rank`), each group in discovery order."""

    candidates: int
    segments: list[np.ndarray]  # the rows, group after group (one dtype per segment)
    fps: np.ndarray
    ops: np.ndarray             # (n,) int16 production index of each row
    args: np.ndarray            # (n, MAX_ARITY) global argument row ids
    agree: np.ndarray           # (n,) points where the row equals the target (-1: not compared)
    lo: np.ndarray              # (n,) each row's least value (ints; 0 for Booleans)
    hi: np.ndarray              # (n,) each row's greatest value
    groups: tuple[tuple[np.dtype, int], ...]    # (dtype, rows) of each group
    hit: int                    # index of the first row found reaching the threshold, or -1
    order: np.ndarray           # (n,) the rows by fingerprint: fps[order] is sorted
    #: Positions in the level (see `Executor.map`) of earlier shards known to share no value
    #: with this one: only the others need comparing with it (executors with `repeats`).
    checked: frozenset[int] = frozenset()
    #: (process id, private resident bytes) of the Ray worker that made the shard, after it
    #: (None in-process): the driver holds the search's workers against its memory cap.
    worker: tuple[int, int] | None = None

    def group(self, dtype: np.dtype) -> tuple[list[np.ndarray], slice]:
        """The segments and the row range of the group stored as `dtype` (maybe empty)."""
        start = 0
        for d, n in self.groups:
            if d == dtype:
                return [s for s in self.segments if s.dtype == dtype], slice(start, start + n)
            start += n
        return [], slice(start, start)

    def rank(self, row: int) -> int:
        """The `group_rank` of a row's group."""
        for d, n in self.groups:
            if row < n:
                return group_rank(d)
            row -= n
        raise IndexError(row)


def group_rank(dtype: np.dtype) -> int:
    """Where rows stored as `dtype` come in a level: Booleans, then ints narrowest first."""
    return WIDTHS.index(dtype) + 1 if dtype in WIDTHS else 0


def empty_shard(candidates: int) -> Shard:
    return Shard(candidates, [], np.empty(0, np.uint64), np.empty(0, np.int16),
                 np.empty((0, MAX_ARITY), np.int64), np.empty(0, np.int64),
                 np.empty(0, np.int64), np.empty(0, np.int64), (), -1, np.empty(0, np.intp))


def plan(size: int, productions: Sequence[Production], levels: dict, *, item_candidates: int,
         skip: frozenset[int] = frozenset()) -> list[WorkItem]:
    """Every work item of level `size`, in the canonical order (production, split, rows).

    `levels[(type, size)]` is the tuple of segments of that bank level.
    """
    items = []
    for p_index, prod in enumerate(productions):
        if p_index in skip:
            continue
        k = len(prod.arg_types)
        splits = list(_splits(size - 1, k))
        if prod.commutative and k == 2:     # the most lopsided split first: of equal values,
            splits.reverse()                # `x ^ (x - 1)` is kept rather than `-x ^ ~x`
        for sizes in splits:
            if prod.commutative and k == 2 and sizes[0] < sizes[1]:
                continue  # a + b with |a| < |b| is b + a, enumerated with the larger first
            arg_levels = [levels.get((t.name, s), ()) for t, s in zip(prod.arg_types, sizes)]
            counts = [sum(len(seg.values) for seg in lv) for lv in arg_levels]
            if 0 in counts:
                continue
            triangular = prod.commutative and k == 2 and sizes[0] == sizes[1]
            rest = int(np.prod(counts[1:], dtype=np.int64)) if k > 1 else 1
            for s_index, seg in enumerate(arg_levels[0]):
                n, start = len(seg.values), 0
                while start < n:
                    stop = min(n, start + max(1, item_candidates // max(rest, 1)))
                    cands = (sum(counts[0] - (seg.offset - arg_levels[0][0].offset) - i
                                 for i in range(start, stop)) if triangular
                             else (stop - start) * rest)
                    items.append(WorkItem(p_index, sizes, s_index, start, stop, cands))
                    start = stop
    return items


def _splits(total: int, k: int):
    if k == 1:
        if total >= 1:
            yield (total,)
        return
    for first in range(1, total - k + 2):
        for rest in _splits(total - first, k - 1):
            yield (first, *rest)


@dataclass
class _Output:
    """Survivors written straight into segments, one open segment per storage dtype: one copy
    per new row. Segments start small and double up to `rows`, so few survivors stay cheap."""

    points: int
    rows: int
    segments: dict = field(default_factory=dict)     # dtype -> list of arrays
    fill: dict = field(default_factory=dict)         # dtype -> rows used in the last one

    def add(self, write: Callable[[np.ndarray, np.ndarray], None], order: np.ndarray,
            dtype: np.dtype) -> None:
        """Append the rows `order` as `dtype`: `write(picks, out)` writes rows `picks` into
        `out`."""
        segments = self.segments.setdefault(dtype, [])
        pos = 0
        while pos < len(order):
            fill = self.fill.get(dtype, 0)
            if not segments or fill == len(segments[-1]):
                grow = 2 * len(segments[-1]) if segments else 1024
                segments.append(np.empty((min(self.rows, max(grow, len(order) - pos)),
                                          self.points), dtype))
                fill = 0
            n = min(len(order) - pos, len(segments[-1]) - fill)
            write(order[pos:pos + n], segments[-1][fill:fill + n])
            self.fill[dtype] = fill + n
            pos += n

    def finish(self, dtype: np.dtype) -> list[np.ndarray]:
        segments = self.segments.get(dtype, [])
        if segments:
            segments[-1] = segments[-1][:self.fill[dtype]]
        return [s for s in segments if len(s)]


def expand(batch: Sequence[tuple[WorkItem, Production, Sequence[tuple[Segment, ...]]]], *,
           dsl_key: str, found: Found, key: np.ndarray, target: np.ndarray | None,
           need: int, segment_rows: int, compiled: bool = False) -> Shard:
    """Evaluate every candidate of a batch of work items (all of one result type) and keep the
    new distinct ones, stopping at the first that reaches the target.

    Each entry holds a work item, its production and, per argument, the segments of that
    argument's level. `found` knows the values already in the result type's bank and those
    found earlier in this level by batches run in the same process (`synth.int_engine.bank.SortedFound`,
    or `synth.int_engine.kernels.FingerprintTable`); it is updated, so consecutive batches never return the
    same value twice. `target` is the network's output on the sample (None when the result type
    is not the target's), and `need` the number of agreeing points that makes a candidate
    acceptable. `compiled` runs operators with a `scalar` form through compiled kernels (the
    same values).
    """
    dsl = get_dsl(dsl_key)
    points = batch[0][2][0][0].values.shape[1]
    state = _Collector(_Output(points, segment_rows), found, key, target, need,
                       sort=sorted_order if compiled else np.argsort)
    for item, production, args in batch:
        row = dsl.operators[production.op]
        _expand_item(item, production, args, state, points, row,
                     kernel(dsl_key, row) if compiled and row.scalar is not None else None)
        if state.hit is not None:
            break
    return state.shard()


_COLUMNS = ("fps", "ops", "args", "agree", "lo", "hi")


@dataclass
class _Collector:
    """What a batch has found so far, per storage dtype: rows, fingerprints, provenance,
    agreement and value ranges."""

    out: _Output
    known: Found
    key: np.ndarray
    target: np.ndarray | None
    need: int
    sort: Callable[[np.ndarray], np.ndarray] = np.argsort     # positions by fingerprint
    count: int = 0
    hit: tuple[np.dtype, int] | None = None     # (group, index in it) of the first hit
    kept: dict = field(default_factory=dict)    # dtype -> {column: [arrays]}
    sizes: dict = field(default_factory=dict)   # dtype -> rows

    def offer(self, fps: np.ndarray, rows_of: Callable[[np.ndarray], tuple],
              starts: tuple[int, ...], dims: tuple[int, ...], ok: np.ndarray | None,
              production: int) -> None:
        """Keep the new distinct candidates of a block, given their fingerprints: candidate r
        combines argument rows `starts[a] + np.unravel_index(r, dims)[a]`, and `rows_of(picks)`
        describes the candidates `picks` (ascending): a function that writes some of them (by
        index into `picks`) into an array, their least and greatest values, their agreement with
        the target (-1 without one) and their dtype (see `_describe`)."""
        sel = np.arange(len(fps)) if ok is None else np.flatnonzero(ok)
        sel = sel[self.known.first_new(fps[sel])]
        if not len(sel):
            return
        write, lo, hi, agree, result = rows_of(sel)
        columns = {"fps": fps[sel], "ops": np.full(len(sel), production, np.int16),
                   "agree": agree}
        glob = np.zeros((len(sel), MAX_ARITY), np.int64)
        for a, pos in enumerate(np.unravel_index(sel, dims)):
            glob[:, a] = pos + starts[a]
        columns["args"] = glob
        if result == np.bool_:                      # Booleans have no range
            columns["lo"] = columns["hi"] = np.zeros(len(sel), np.int64)
            width, dtypes = np.zeros(len(sel), np.intp), (result,)
        else:
            columns["lo"], columns["hi"] = lo, hi
            width = np.searchsorted(_WIDTH_MAX, np.maximum(columns["hi"], ~columns["lo"]))
            dtypes = WIDTHS
        order = np.argsort(width, kind="stable")        # by width, each in discovery order
        columns = {c: v[order] for c, v in columns.items()}
        hits = np.flatnonzero(columns["agree"] >= self.need) if self.target is not None else ()
        first_hit = int(order[hits].min()) if len(hits) else -1     # first in discovery order
        start = 0
        for w, n in enumerate(np.bincount(width, minlength=len(dtypes)).tolist()):
            if not n:
                continue
            dtype, rows_w = dtypes[w], order[start:start + n]
            self.out.add(write, rows_w, dtype)
            if first_hit >= 0 and width[first_hit] == w:
                self.hit = (dtype, self.sizes.get(dtype, 0)
                            + int(np.flatnonzero(rows_w == first_hit)[0]))
            store = self.kept.setdefault(dtype, {c: [] for c in _COLUMNS})
            for c in _COLUMNS:
                store[c].append(columns[c][start:start + n])
            self.sizes[dtype] = self.sizes.get(dtype, 0) + n
            start += n

    def shard(self) -> Shard:
        if not self.kept:
            return empty_shard(self.count)
        dtypes = sorted(self.kept, key=group_rank)
        cols = {c: np.concatenate([a for d in dtypes for a in self.kept[d][c]]) for c in _COLUMNS}
        hit, start = -1, 0
        for d in dtypes:
            if self.hit is not None and self.hit[0] == d:
                hit = start + self.hit[1]
            start += self.sizes[d]
        return Shard(self.count, [s for d in dtypes for s in self.out.finish(d)], cols["fps"],
                     cols["ops"], cols["args"], cols["agree"], cols["lo"], cols["hi"],
                     tuple((d, self.sizes[d]) for d in dtypes), hit, self.sort(cols["fps"]))


def _expand_item(item: WorkItem, production: Production, args, state: _Collector, points: int,
                 row: Operator, compiled: Kernel | None) -> None:
    first = args[0][item.segment]
    k = len(args)
    triangular = production.commutative and k == 2 and item.sizes[0] == item.sizes[1]
    second = Rows(args[1]) if k > 1 else None
    third = [Rows(args[2]).whole()] if k == 3 else []
    if compiled is not None:
        blocks = tiles(first, item.start, item.stop, second, third, points,
                       KERNEL_BLOCK * points, max(1, KERNEL_COLUMN_BYTES // (8 * points)))
    else:
        blocks = tiles(first, item.start, item.stop, second, third, points, BLOCK_ELEMENTS)
    def through_kernel(p) -> bool:
        return compiled is not None and kernel_applies(row, compiled, production.result_type, p)

    for parts in blocks:
        if triangular and parts[1][0].offset + parts[1][2] <= first.offset + parts[0][1]:
            continue  # every pair here has j < i
        pieces = [parts]
        if compiled is not None and not through_kernel(parts):
            # Smaller blocks, each through the kernel if its rows allow, else numpy (checked):
            # a few rows of huge values keep the kernel from a block, not from its neighbours.
            pieces = tiles(*as_rows(parts), points, BLOCK_ELEMENTS)
        for p in pieces:
            if through_kernel(p):
                fps, ok, rows_of = compiled_block(compiled, production, p, state.key,
                                                   state.target)
            else:
                fps, ok, rows_of = numpy_block(row, p, state.key, state.target)
            starts = tuple(seg.offset + a for seg, a, _ in p)
            dims = tuple(b - a for _, a, b in p)
            use = usable(p)               # None: every combination counts
            if triangular:
                upper = (np.arange(starts[1], starts[1] + dims[1])[None, :]
                         >= np.arange(starts[0], starts[0] + dims[0])[:, None]).ravel()
                use = upper if use is None else use & upper
            if use is not None:
                ok = use if ok is None else ok & use
                state.count += int(use.sum())
            else:
                state.count += len(fps)
            state.offer(fps, rows_of, starts, dims, ok, item.production)
            if state.hit is not None:
                return
