"""Bottom-up enumeration over one fixed sample: the banks, level by level.

`Enumerator.grow(size)` plans the work items of a level, has an executor run them (in-process, or
on Ray), and merges the shards in work-item order: new distinct rows join the banks, and the first
row that reaches the target wins. Budgets are checked between shards.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Protocol, Sequence

import numpy as np

from dsl.ast import Node
from dsl.evaluate import evaluate
from dsl.language import DSL
from dsl.types import Type
from synth.int_engine.bank import LEAF_CONST, LEAF_VAR, MAX_ARITY, Bank, FingerprintSet, Found, Piece, \
    Production, Segment, SortedFound, fingerprint_key, fingerprints, is_new, rebuild
from synth.int_engine.enumerate import Shard, WorkItem, expand, group_rank, plan
from synth.int_engine import memory
from synth.outcome import StopReason

#: Most rows per bank segment: 16 MiB of int64 values at 256 points. Blocks of this size come
#: from the allocator's heap (below its mmap threshold, see synth/int_engine/memory.py), which on virtual
#: machines is several times faster to fault in than fresh large mappings.
SEGMENT_ROWS = 8192
#: Levels of at least this many candidates run through compiled kernels.
KERNEL_MIN_LEVEL = 1 << 20
MIN_STEP = 1 << 10          # candidates per item and batch at least, however close the memory cap


@dataclass(frozen=True)
class LevelInputs:
    """Everything a worker needs for one level; shipped once per level."""

    dsl_key: str
    productions: tuple[Production, ...]
    levels: Mapping[tuple[str, int], tuple[Segment, ...]]
    seen: Mapping[str, FingerprintSet]
    key: np.ndarray
    target: np.ndarray
    target_type: Type
    need: int
    segment_rows: int = SEGMENT_ROWS
    compiled: bool = False      # whether operators run through compiled kernels (synth/int_engine/kernels.py)
    #: Result type name -> about how many new rows the level may find: hash tables start that
    #: large instead of doubling their way there (a guess; they grow past it when short).
    expect: Mapping[str, int] = dataclasses.field(default_factory=dict)
    #: Candidates an in-process batch may hold: the memory cap is checked between batches, so
    #: a batch's rows and temporaries must fit in what the cap has left (`Enumerator.grow`).
    batch_candidates: int = 1 << 21


def run_items(inputs: LevelInputs, items: Sequence[WorkItem], *,
              found: dict[str, Found] | None = None) -> Shard:
    """The whole work of consecutive items of one result type, deduplicated together.

    `found` (result type name -> what batches of this level in this process found, see
    `found_of`) extends the deduplication across the batches of one process.
    """
    batch = []
    for item in items:
        prod = inputs.productions[item.production]
        batch.append((item, prod, [inputs.levels[(t.name, s)]
                                   for t, s in zip(prod.arg_types, item.sizes)]))
    result_type = batch[0][1].result_type
    target = inputs.target if result_type == inputs.target_type else None
    return expand(batch, dsl_key=inputs.dsl_key,
                  found=found_of({} if found is None else found, inputs, result_type.name),
                  key=inputs.key, target=target, need=inputs.need,
                  segment_rows=inputs.segment_rows, compiled=inputs.compiled)


def found_of(found: dict[str, Found], inputs: LevelInputs, type_name: str) -> Found:
    """`found[type_name]`, made empty when missing: a hash table on compiled levels, sorted runs
    (no compiler) on the others."""
    if type_name not in found:
        if inputs.compiled:
            from synth.int_engine.kernels import FingerprintTable

            found[type_name] = FingerprintTable(inputs.seen[type_name],
                                                expected=inputs.expect.get(type_name, 0))
        else:
            found[type_name] = SortedFound(inputs.seen[type_name])
    return found[type_name]


def run_item(inputs: LevelInputs, item: WorkItem) -> Shard:
    return run_items(inputs, [item])


def batches(inputs: LevelInputs, items: Sequence[WorkItem], *, candidates: int):
    """Consecutive items of one result type, about `candidates` candidates a batch."""
    batch, total = [], 0
    for item in items:
        kind = inputs.productions[item.production].result_type
        if batch and (total >= candidates
                      or inputs.productions[batch[-1].production].result_type != kind):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += item.candidates
    if batch:
        yield batch


class Executor(Protocol):
    #: Whether two shards of a level may hold the same value (the later copy is then dead).
    repeats: bool

    def map(self, inputs: LevelInputs, items: Sequence[WorkItem]) -> Iterator[Shard]:
        """Shards covering `items` in their order; the caller may stop iterating early. A
        shard's position in this sequence is what other shards' `checked` refer to."""

    def close(self) -> None: ...


class InProcess:
    """Runs work items in this process, in batches that share one deduplication."""

    workers = 1
    repeats = False             # batches share one deduplication

    def __init__(self, *, batch_candidates: int = 1 << 21) -> None:
        self.batch_candidates = batch_candidates

    def map(self, inputs: LevelInputs, items: Sequence[WorkItem]) -> Iterator[Shard]:
        found: dict[str, Found] = {}
        step = min(self.batch_candidates, inputs.batch_candidates)
        for batch in batches(inputs, items, candidates=step):
            yield run_items(inputs, batch, found=found)

    def close(self) -> None:
        pass


@dataclass
class LevelOutcome:
    hit: Node | None = None
    candidates: int = 0
    distinct: int = 0
    best: tuple[int, Node] | None = None     # (sample agreement, program) of the level
    stop: StopReason | None = None


class Enumerator:
    """Banks of distinct programs on one sample, grown one size level at a time."""

    def __init__(self, *, dsl: DSL, dsl_key: str, env: Mapping[str, np.ndarray],
                 leaves: Mapping[Type, Sequence[Node]], productions: Sequence[Production],
                 target: np.ndarray, target_type: Type, need: int,
                 max_size_by_type: Mapping[Type, int], item_candidates: int = 1 << 18,
                 memory_bytes: int = 4 << 30, kernel_min_level: int = KERNEL_MIN_LEVEL) -> None:
        self.dsl, self.dsl_key, self.need = dsl, dsl_key, need
        self.productions = tuple(productions)
        self.target, self.target_type = target, target_type
        self.max_size_by_type = dict(max_size_by_type)
        self.item_candidates = item_candidates
        self.memory_bytes = memory_bytes
        self.kernel_min_level = kernel_min_level
        self.compiled_levels: list[int] = []     # sizes grown through compiled kernels
        self._new_share = 0.5           # new rows per candidate in the last level grown
        self.points = len(target)
        self.key = fingerprint_key(self.points)
        self.leaves = {t: list(v) for t, v in leaves.items()}
        self.banks: dict[Type, Bank] = {}
        self.first_hit: Node | None = None
        self.first_best: tuple[int, Node] | None = None
        self._add_leaves(env)

    # ---- size 1 --------------------------------------------------------------------------------
    def _add_leaves(self, env: Mapping[str, np.ndarray]) -> None:
        types = {p.result_type for p in self.productions} | set(self.leaves)
        for t in types:
            nodes = self.leaves.get(t, [])
            values = np.stack([evaluate(n, env, dsl=self.dsl).values for n in nodes]) if nodes \
                else np.empty((0, self.points), t.np_dtype)
            values = values.astype(t.np_dtype).reshape(len(nodes), self.points)
            fps = fingerprints(values, self.key)
            _, first = np.unique(fps, return_index=True)
            first.sort()
            ops = np.array([LEAF_VAR if type(nodes[i]).__name__ == "Var" else LEAF_CONST
                            for i in first], np.int16)
            args = np.zeros((len(first), MAX_ARITY), np.int64)
            args[:, 0] = first
            self.banks[t] = Bank(t)
            self.banks[t].add_level(1, [Piece([values[first]], ops, args)], [np.sort(fps[first])])
            if t == self.target_type and len(first):
                agree = (values[first] == self.target).sum(axis=1)
                best = int(agree.argmax())
                self.first_best = (int(agree[best]), nodes[first[best]])
                hits = np.flatnonzero(agree >= self.need)
                if len(hits):
                    self.first_hit = nodes[first[hits[0]]]

    # ---- larger sizes --------------------------------------------------------------------------
    def grow(self, size: int, executor: Executor, *,
             check: Callable[[int], StopReason | None]) -> LevelOutcome:
        """Add level `size` to the banks. `check(candidates)` is asked between shards."""
        skip = frozenset(i for i, p in enumerate(self.productions)
                         if size > self.max_size_by_type.get(p.result_type, size))
        inputs = self._inputs()
        # Between two checks of the memory cap a batch may write at most a quarter of what the
        # cap has left, counting int64 values (its temporaries are that wide).
        used = self.nbytes()
        step = max(MIN_STEP, memory.room(self.memory_bytes, used) // (32 * max(1, self.points)))
        items = plan(size, self.productions, inputs.levels,
                     item_candidates=min(self.item_candidates, step), skip=skip)
        # Kernels cost about 0.3-0.5 s per process to load (and about 20 s once per machine to
        # compile): worth it for large levels only, so that small searches never wait for them.
        per_type: dict[str, int] = {}
        for item in items:
            kind = self.productions[item.production].result_type.name
            per_type[kind] = per_type.get(kind, 0) + item.candidates
        # At most the rows the bank's memory cap leaves room for (a byte per value at least),
        # so that a huge level's tables never start larger than the search may grow.
        room = memory.room(self.memory_bytes, used) // max(1, self.points)
        inputs = dataclasses.replace(
            inputs, batch_candidates=step, compiled=sum(per_type.values()) >= self.kernel_min_level,
            expect={k: min(room, int(n * self._new_share)) for k, n in per_type.items()})
        if inputs.compiled:
            self.compiled_levels.append(size)
        out, best_rank = LevelOutcome(), None
        pending: dict[Type, list[Shard]] = {}
        # Values two shards both found, marked as the shards arrive (while workers still run):
        # the later copy is dead. Equal values share a storage group, and the level orders a
        # group's rows by shard, so "later" here is later in the level's order too.
        repeats: dict[Type, _Repeats] = {}
        alive: dict[Type, list[np.ndarray | None]] = {}
        may_repeat = getattr(executor, "repeats", True)
        with contextlib.closing(executor.map(inputs, items)) as shards:
            for position, shard in enumerate(shards):
                out.candidates += shard.candidates
                if len(shard.fps):
                    used += sum(s.nbytes for s in shard.segments)
                    kind = self.productions[int(shard.ops[0])].result_type
                    pending.setdefault(kind, []).append(shard)
                    alive.setdefault(kind, []).append(
                        repeats.setdefault(kind, _Repeats()).first_copies(position, shard)
                        if may_repeat else None)
                    if kind == self.target_type:     # ties: the first in the level's order
                        best = int(shard.agree.argmax())
                        rank = (-int(shard.agree[best]), shard.rank(best))
                        if out.best is None or rank < best_rank:
                            out.best, best_rank = (int(shard.agree[best]), (shard, best)), rank
                    if shard.hit >= 0:
                        out.hit = self._program(shard, shard.hit)
                        if hasattr(executor, "finish"):     # nothing to cancel for a hit
                            executor.finish()
                        break
                out.stop = (StopReason.MEMORY if used > self.memory_bytes
                            or memory.over_cap(self.memory_bytes,
                                               outside=getattr(executor, "resident", 0))
                            else check(out.candidates))
                if out.stop is not None:
                    break
        if out.best is not None:
            agree, (shard, row) = out.best
            out.best = (agree, self._program(shard, row))
        if out.hit is None and out.stop is None:
            out.distinct = self._merge(size, pending, alive)
            if out.candidates:
                self._new_share = out.distinct / out.candidates
        return out

    def _program(self, shard: Shard, row: int) -> Node:
        prod = self.productions[int(shard.ops[row])]
        args = [rebuild(self.banks, t, int(shard.args[row, k]), dsl=self.dsl,
                        productions=list(self.productions), leaves=self.leaves)
                for k, t in enumerate(prod.arg_types)]
        return self.dsl.app(prod.op, *args)

    def _merge(self, size: int, pending: Mapping[Type, list[Shard]],
               alive: Mapping[Type, list[np.ndarray | None]]) -> int:
        distinct = 0
        for t, shards in pending.items():
            # The level's rows: grouped by storage dtype (narrowest first), each group in
            # discovery order, whatever the shards were.
            dtypes = sorted({d for s in shards for d, _ in s.groups}, key=group_rank)
            groups = [(s, m, *s.group(d)) for d in dtypes for s, m in zip(shards, alive[t])]
            pieces = [Piece(segs, s.ops[rows], s.args[rows], s.lo[rows], s.hi[rows],
                            None if m is None else m[rows])
                      for s, m, segs, rows in groups if rows.stop > rows.start]
            live = [s.fps[s.order] if m is None else s.fps[s.order[m[s.order]]]
                    for s, m in zip(shards, alive[t])]
            self.banks[t].add_level(size, pieces, live)
            distinct += sum(len(run) for run in live)
        return distinct

    def _inputs(self) -> LevelInputs:
        levels = {(t.name, s): lv.segments for t, bank in self.banks.items()
                  for s, lv in bank.levels.items()}
        return LevelInputs(self.dsl_key, self.productions, levels,
                           {t.name: b.seen_set() for t, b in self.banks.items()}, self.key,
                           self.target, self.target_type, self.need)

    @property
    def distinct(self) -> int:
        return sum(b.rows for b in self.banks.values())

    def nbytes(self) -> int:
        return sum(b.nbytes() for b in self.banks.values())


class _Repeats:
    """The fingerprints of the shards of a level so far (of one type), to mark repeats.

    A shard lists the earlier shards it was already deduplicated against (`Shard.checked`): with
    a few workers, only the one or two that ran beside it are left to compare, one binary search
    of its sorted values in each. When many are left (many workers), every earlier value is
    looked up in one log-structured set instead, built only then.
    """

    #: Most earlier shards compared one by one with a new shard.
    ONE_BY_ONE = 8

    def __init__(self) -> None:
        self.shards: list[tuple[int, np.ndarray]] = []    # (position, sorted fingerprints)
        self.union = FingerprintSet()
        self.in_union = 0                                   # shards[:in_union] are in `union`

    def first_copies(self, position: int, shard: Shard) -> np.ndarray | None:
        """Which rows of `shard` (at `position` in the level) hold values no earlier shard held
        (None: all); then remember its values."""
        ordered = shard.fps[shard.order]
        left = [fps for p, fps in self.shards if p not in shard.checked]
        if len(left) <= self.ONE_BY_ONE:
            repeat = np.zeros(len(ordered), bool)
            for fps in left:
                repeat |= ~is_new(fps, ordered)
        else:
            for _, fps in self.shards[self.in_union:]:
                self.union.add(fps)         # values held twice are harmless to look-ups
            self.in_union = len(self.shards)
            repeat = self.union.contains(ordered)
        self.shards.append((position, ordered))
        if not repeat.any():
            return None
        keep = np.ones(len(ordered), bool)
        keep[shard.order[repeat]] = False
        return keep


def productions_of(dsl: DSL, types: Sequence[Type], *, exclude: Sequence[str] = ()) -> list[Production]:
    """Every operator instantiated at the given concrete types (type variables range over them)."""
    out = []
    for op in dsl.operators.values():
        if op.name in exclude:
            continue
        variables = sorted({t for t in op.arg_types if t.var}, key=str)
        for choice in _assignments(variables, types):
            binding = dict(zip(variables, choice))
            args = tuple(binding.get(t, t) for t in op.arg_types)
            result = binding.get(op.result_type, op.result_type)
            if all(a in types for a in args) and result in types:
                out.append(Production(op.name, args, result, op.commutative))
    return out


def _assignments(variables, types):
    if not variables:
        yield ()
        return
    for t in types:
        for rest in _assignments(variables[1:], types):
            yield (t, *rest)

