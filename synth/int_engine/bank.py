"""Value banks: every observationally distinct program found so far, by type and size.

A bank row is a program's value vector on the current sample. Rows are stored per size level as
dense arrays, with compact provenance (operator index and the global ids of its argument rows), so
millions of programs cost a few numbers each plus their values, never a Python object each.
Programs are rebuilt from provenance only when one is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from dsl.ast import Node
from dsl.language import DSL
from dsl.types import Type

LEAF_VAR, LEAF_CONST = -1, -2
MAX_ARITY = 3


def fingerprint_key(points: int, *, seed: int = 0x5EED) -> np.ndarray:
    """Random odd 64-bit multipliers: the fingerprint of a row is its dot product with them."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**63, points, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def fingerprints(values: np.ndarray, key: np.ndarray) -> np.ndarray:
    """One uint64 per row (last axis), equal for equal rows; distinct rows collide with
    probability about 2^-64 (two rows differing in one point never collide: the key is odd).

    Integer and boolean rows only (narrow ints are widened with their sign, as int64 would be):
    this is the int/bool engine. A float row would be truncated, so it is refused.
    """
    if values.dtype.kind not in "biu":
        raise TypeError(f"fingerprints: the int/bool engine takes integer or boolean rows, "
                        f"got {values.dtype}")
    rows = values.view(np.uint64) if values.dtype == np.int64 else values.astype(np.uint64)
    return np.einsum("ij,j->i", rows, key)      # twice as fast as `@` on uint64, same values


@dataclass(frozen=True)
class Segment:
    """A block of consecutive bank rows of one level."""

    values: np.ndarray          # (n, points)
    lo: np.ndarray              # (n,) per-row minimum (ints), for overflow pre-checks
    hi: np.ndarray              # (n,) per-row maximum
    offset: int                 # global id of the first row
    alive: np.ndarray | None = None   # (n,) False for a row that repeats an earlier one


def segment(values: np.ndarray, offset: int, alive: np.ndarray | None = None,
            lo: np.ndarray | None = None, hi: np.ndarray | None = None) -> Segment:
    """A segment of `values`; its rows' ranges are computed unless given."""
    if lo is None or hi is None:
        if values.dtype == np.bool_ or len(values) == 0:
            lo = hi = np.zeros(len(values), np.int64)
        else:
            lo, hi = values.min(axis=1), values.max(axis=1)
    if alive is not None and alive.all():
        alive = None
    return Segment(values, lo, hi, offset, alive)


@dataclass(frozen=True)
class Piece:
    """Consecutive rows of a level as they arrive (a group of a shard): their values, split into
    arrays of one dtype, and per row its provenance, range and whether it is alive."""

    values: Sequence[np.ndarray]   # (n_i, points) arrays, n rows in all
    op: np.ndarray              # (n,) int16: production index, or LEAF_VAR / LEAF_CONST
    args: np.ndarray            # (n, MAX_ARITY) int64: global row ids of the arguments
    lo: np.ndarray | None = None    # (n,) least and greatest values (computed when None)
    hi: np.ndarray | None = None
    alive: np.ndarray | None = None  # (n,) False for a row that repeats an earlier one


@dataclass
class Level:
    """One size level of a bank: its segments, and the provenance of its rows, kept as the
    pieces it arrived in (no copy): piece k holds rows [starts[k], starts[k + 1])."""

    segments: tuple[Segment, ...]
    starts: np.ndarray
    ops: tuple[np.ndarray, ...]
    args: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return int(self.starts[-1])

    def provenance(self, index: int) -> tuple[int, np.ndarray]:
        """(production index or LEAF_*, argument row ids) of row `index` of the level."""
        k = int(np.searchsorted(self.starts, index, side="right")) - 1
        return int(self.ops[k][index - self.starts[k]]), self.args[k][index - self.starts[k]]


def is_new(seen: np.ndarray, fps: np.ndarray) -> np.ndarray:
    """Mask of fingerprints not in the sorted array `seen`."""
    if len(seen) == 0:
        return np.ones(len(fps), bool)
    idx = np.searchsorted(seen, fps).clip(max=len(seen) - 1)
    return seen[idx] != fps


class FingerprintSet:
    """A set of fingerprints with vectorized membership tests: a bank's (`Bank.seen_set`), or
    the values found so far in a level (by a batch, a worker process, or the driver).

    A few sorted runs, each at least `RATIO` times longer than the next (a log-structured
    merge): adding a block's values merges runs of similar length (numpy's stable sort merges
    two sorted runs in linear time), so each value is copied about log_RATIO(n) times, and a
    look-up is one binary search of sorted queries per run. In front of the runs sits a bitmap
    of the values' top `FILTER_BITS` bits (a one-hash Bloom filter, 2 MiB): a value whose bit is
    clear is absent without a binary search, which in runs of millions costs cache misses.
    """

    RATIO = 16
    FILTER_BITS = 24

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []
        self.filter = np.zeros(1 << (self.FILTER_BITS - 3), np.uint8)

    def _slots(self, fps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        top = fps >> np.uint64(64 - self.FILTER_BITS)
        return top >> np.uint64(3), np.left_shift(1, (top & np.uint64(7)).astype(np.uint8))

    def add(self, fps: np.ndarray) -> None:
        """Add sorted distinct fingerprints."""
        if not len(fps):
            return
        byte, bit = self._slots(fps)
        np.bitwise_or.at(self.filter, byte, bit)
        self.runs.append(fps)
        while len(self.runs) > 1 and len(self.runs[-1]) * self.RATIO > len(self.runs[-2]):
            last = self.runs.pop()
            self.runs[-1] = np.sort(np.concatenate([self.runs[-1], last]), kind="stable")

    @classmethod
    def of(cls, fps: np.ndarray) -> "FingerprintSet":
        """A set holding the sorted distinct `fps`."""
        made = cls()
        made.add(fps)
        return made

    def update(self, fps: np.ndarray) -> None:
        """Add distinct fingerprints in any order, some maybe present already (they are then
        held twice: look-ups are unaffected, and checking first would cost more)."""
        self.add(np.sort(fps))

    def contains(self, fps: np.ndarray) -> np.ndarray:
        """Mask of the (preferably sorted) `fps` found here."""
        found = np.zeros(len(fps), bool)
        if not self.runs:
            return found
        byte, bit = self._slots(fps)
        maybe = np.flatnonzero(self.filter[byte] & bit)
        for run in self.runs:               # largest first: most values found are found there
            if not len(maybe):
                break
            hit = ~is_new(run, fps[maybe])
            found[maybe[hit]] = True
            maybe = maybe[~hit]
        return found


class Found(Protocol):
    """The values a level's batches found so far in one process, of one type (see
    `SortedFound`)."""

    def first_new(self, fps: np.ndarray) -> np.ndarray: ...

    def add(self, fps: np.ndarray) -> None: ...


class SortedFound:
    """What a level's batches found so far, of one type, without a compiler (small levels):
    `first_new(fps)` gives the positions of the fingerprints that are neither in the bank
    (`seen`) nor found before (earlier in `fps` included), in order, and remembers them;
    `add(fps)` remembers distinct fingerprints found elsewhere, in any order.
    `synth.int_engine.kernels.FingerprintTable` does the same in one probe per fingerprint."""

    def __init__(self, seen: FingerprintSet) -> None:
        self.seen, self.found = seen, FingerprintSet()

    def first_new(self, fps: np.ndarray) -> np.ndarray:
        unique, firsts = np.unique(fps, return_index=True)
        new = ~self.seen.contains(unique)          # sorted queries: cache-friendly look-ups
        unique, firsts = unique[new], firsts[new]
        new = ~self.found.contains(unique)
        self.found.add(unique[new])
        return np.sort(firsts[new])

    def add(self, fps: np.ndarray) -> None:
        self.found.update(fps)


@dataclass
class Bank:
    """All rows of one type. Row ids are global across levels, in order of discovery."""

    type: Type
    levels: dict[int, Level] = field(default_factory=dict)
    offsets: dict[int, int] = field(default_factory=dict)
    seen: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))  # sorted
    rows: int = 0
    _seen_set: FingerprintSet | None = None

    def seen_set(self) -> FingerprintSet:
        """`seen` for fast look-ups (built once per level)."""
        if self._seen_set is None:
            self._seen_set = FingerprintSet.of(self.seen)
        return self._seen_set

    def add_level(self, size: int, pieces: Sequence[Piece], live: Sequence[np.ndarray]) -> None:
        """Append a level made of `pieces`, in order; `live` holds the fingerprints of its live
        rows as sorted runs. Rows that are not alive repeat an earlier row of the level: they
        keep their place (nothing is copied) but are never used as arguments."""
        self.offsets[size] = self.rows
        segments, offset, starts = [], self.rows, [0]
        for piece in pieces:
            at = 0
            for v in piece.values:
                part = [None if a is None else a[at:at + len(v)]
                        for a in (piece.alive, piece.lo, piece.hi)]
                segments.append(segment(v, offset, *part))
                offset += len(v)
                at += len(v)
            starts.append(starts[-1] + at)
        self.levels[size] = Level(tuple(segments), np.array(starts),
                                  tuple(p.op for p in pieces), tuple(p.args for p in pieces))
        self.rows = offset
        # New fingerprints are not in `seen` already: the union is a sort of the two (a merge
        # of sorted runs, which numpy's stable sort does in linear time per run).
        self.seen = np.sort(np.concatenate([self.seen, *live]), kind="stable")
        self._seen_set = None

    def size_count(self, size: int) -> int:
        level = self.levels.get(size)
        return 0 if level is None else len(level)

    def locate(self, row: int) -> tuple[int, int]:
        """(size, index within that level) of a global row id."""
        for size in sorted(self.offsets, reverse=True):
            if row >= self.offsets[size]:
                return size, row - self.offsets[size]
        raise IndexError(row)

    def nbytes(self) -> int:
        return sum(s.values.nbytes for lv in self.levels.values() for s in lv.segments)


@dataclass(frozen=True)
class Production:
    """An operator instantiated at concrete types (`ite` becomes one production per type)."""

    op: str
    arg_types: tuple[Type, ...]
    result_type: Type
    commutative: bool


def rebuild(banks: dict[Type, Bank], t: Type, row: int, *, dsl: DSL,
            productions: list[Production], leaves: dict[Type, list[Node]]) -> Node:
    """The program behind a bank row."""
    size, index = banks[t].locate(row)
    op, rows = banks[t].levels[size].provenance(index)
    if op in (LEAF_VAR, LEAF_CONST):
        return leaves[t][int(rows[0])]
    prod = productions[op]
    args = [rebuild(banks, at, int(rows[k]), dsl=dsl, productions=productions,
                    leaves=leaves) for k, at in enumerate(prod.arg_types)]
    return dsl.app(prod.op, *args)

