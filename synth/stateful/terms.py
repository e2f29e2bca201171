"""Bottom-up enumeration of `int` DSL expressions with observational equivalence.

`Bank(leaves, constants)` grows, size by size, the expressions over named leaves (a value vector
per leaf over one point set) and literal constants, keeping one expression per distinct value
vector (the smallest, found first). Each operator row's numpy form is applied to whole blocks of
terms at once (broadcast (a, 1, P) against (1, b, P)), so a level of thousands of terms costs a
few array operations, not thousands of calls. Terms whose value overflows int64 at some point, or
exceeds `limit` in magnitude, are dropped; so are constant vectors above size 1 (the literal pool
holds the constants). Vectors are told apart by a 128-bit hash of their values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import numpy as np

from dsl.ast import App, Const, Node, Var
from dsl.language import DSL, get_dsl
from dsl.types import BOOL, INT, Type

#: The operators enumerated (gt/ge are lt/le with their arguments swapped; shifts and ~ are left
#: out: no MIPS task needs them and they double the levels).
OPERATORS = ("add", "sub", "mul", "floordiv", "mod", "neg", "abs", "min", "max", "bitand", "bitor",
             "bitxor", "eq", "ne", "lt", "le", "and", "or", "not", "ite")
#: Register steps: no negation, abs, & or | (no MIPS step needs them; they triple the levels).
STEP_OPERATORS = tuple(o for o in OPERATORS if o not in ("neg", "abs", "bitand", "bitor"))
BLOCK = 1 << 21          # at most this many values per broadcast block
LIMIT = 1 << 40          # larger magnitudes are dropped


@dataclass
class Level:
    nodes: list[Node]
    values: np.ndarray           # (count, P)


class Bank:
    """Expressions by size over one point set (P points), one per distinct value vector."""

    def __init__(self, leaves: Mapping[str, tuple[Type, np.ndarray]], constants: Mapping[int, None] | list[int],
                 *, operators: tuple[str, ...] = OPERATORS, dsl: DSL | None = None,
                 max_terms: int = 40000, level_cap: int | None = None, limit: int = LIMIT) -> None:
        self.dsl = dsl or get_dsl("int")
        self.ops = [self.dsl.operators[o] for o in operators if o in self.dsl.operators]
        self.points = len(next(iter(leaves.values()))[1])
        self._weights = np.random.default_rng(7).integers(1, 2**62, size=(2, self.points), dtype=np.int64) | 1
        self._seen: set[tuple] = set()
        self.max_terms, self.limit = max_terms, limit
        self.level_cap = level_cap or max_terms
        self._budget = max_terms
        self.levels: dict[tuple[int, Type], Level] = {}
        self.tick: Callable[[], None] | None = None     # called per block: may raise to stop
        self._parts: dict[tuple[int, Type], list] = {}
        self.total = 0
        first: dict[Type, list[tuple[Node, np.ndarray]]] = {INT: [], BOOL: []}
        for name, (typ, values) in leaves.items():
            first[typ].append((Var(name, typ), np.asarray(values, dtype=typ.np_dtype)))
        for c in constants:
            first[INT].append((Const(int(c), INT), np.full(self.points, int(c), dtype=np.int64)))
        for typ, items in first.items():
            kept = [(n, v) for n, v in items if self._fresh(typ, v[None, :])[0]]
            self._store(1, typ, [n for n, _ in kept], np.array([v for _, v in kept]).reshape(len(kept), self.points))
        self._join(1)
        self.built = 1

    # ---- public ------------------------------------------------------------------------------
    def level(self, size: int, typ: Type) -> Level:
        """The terms of exactly `size` nodes and type `typ` (grown on demand)."""
        while self.built < size:
            self.built += 1
            self._grow(self.built)
            self._join(self.built)
        return self.levels.get((size, typ), Level([], np.zeros((0, self.points), dtype=typ.np_dtype)))

    def terms(self, max_size: int, typ: Type) -> Iterator[tuple[int, Level]]:
        for size in range(1, max_size + 1):
            yield size, self.level(size, typ)

    # ---- growing -----------------------------------------------------------------------------
    def _grow(self, size: int) -> None:
        self._budget = min(self.max_terms, self.total + self.level_cap)   # this level's share
        for op in self.ops:
            if self.total >= self._budget:
                return
            for types in _bindings(op):
                if op.arity == 1:
                    self._apply(size, op, types, [(size - 1,)])
                elif op.arity == 2:
                    splits = [(i, size - 1 - i) for i in range(1, size - 1)]
                    if op.commutative and types[0] == types[1]:
                        splits = [(i, j) for i, j in splits if i <= j]
                    self._apply(size, op, types, splits)
                else:
                    splits = [(i, j, size - 1 - i - j) for i in range(1, size - 2)
                              for j in range(1, size - 1 - i) if size - 1 - i - j >= 1]
                    self._apply(size, op, types, splits)

    def _apply(self, size: int, op, types: tuple[Type, ...], splits) -> None:
        result = types[0] if op.name == "ite" else op.result_type
        for split in splits:
            levels = [self.levels.get((s, t)) for s, t in zip(split, types)]
            if any(lv is None or not lv.nodes for lv in levels):
                continue
            same = op.commutative and len(split) == 2 and split[0] == split[1] and types[0] == types[1]
            for index, values in _blocks([len(lv.nodes) for lv in levels], self.points, same):
                if self.tick is not None:
                    self.tick()
                args = [lv.values[ix] for lv, ix in zip(levels, index)]
                with np.errstate(all="ignore"):
                    out, bad = op.numpy(*args)
                out = np.asarray(out)
                keep = np.ones(len(out), dtype=bool)
                if bad is not None:
                    keep &= ~np.broadcast_to(bad, out.shape).any(axis=1)
                if result == INT:
                    keep &= (np.abs(out) <= self.limit).all(axis=1)
                keep &= ~(out == out[:, :1]).all(axis=1)          # constants come from the pool
                fresh = self._fresh(result, out) & keep
                if not fresh.any():
                    continue
                rows = np.flatnonzero(fresh)[: max(0, self._budget - self.total)]
                nodes = [App(op.name, tuple(lv.nodes[ix[r]] for lv, ix in zip(levels, index)), result)
                         for r in rows]
                self._store(size, result, nodes, out[rows].astype(result.np_dtype))
                if self.total >= self._budget:
                    return

    def _fresh(self, typ: Type, values: np.ndarray) -> np.ndarray:
        """Which rows are value vectors not seen before (and not repeated among the rows)."""
        v = values.astype(np.int64)
        h = (v @ self._weights[0]), (v @ self._weights[1])
        out = np.zeros(len(v), dtype=bool)
        tag = typ == BOOL
        for r, key in enumerate(zip(h[0].tolist(), h[1].tolist())):
            key = (tag, *key)
            if key not in self._seen:
                self._seen.add(key)
                out[r] = True
        return out

    def _store(self, size: int, typ: Type, nodes: list[Node], values: np.ndarray) -> None:
        """Add terms to a level (parts are joined once, when the level is read)."""
        if not nodes:
            return
        parts = self._parts.setdefault((size, typ), [])
        parts.append((nodes, values))
        self.total += len(nodes)

    def _join(self, size: int) -> None:
        for (s, typ), parts in list(self._parts.items()):
            if s == size:
                self.levels[(s, typ)] = Level([n for nodes, _ in parts for n in nodes],
                                              np.concatenate([v for _, v in parts]))
                del self._parts[(s, typ)]


def _bindings(op) -> list[tuple[Type, ...]]:
    if op.name == "ite":
        return [(INT, BOOL, INT), (BOOL, BOOL, BOOL)]
    return [tuple(op.arg_types)]


def _blocks(counts: list[int], points: int, same: bool):
    """Index tuples (one index array per argument, all of equal length) covering every
    combination of the arguments' terms (i <= j for a commutative pair of one level), in blocks
    of at most BLOCK values."""
    total = int(np.prod(counts))
    step = max(1, BLOCK // max(1, points))
    for start in range(0, total, step):
        flat = list(np.unravel_index(np.arange(start, min(total, start + step)), counts))
        if same:
            keep = flat[0] <= flat[1]
            flat = [f[keep] for f in flat]
        yield tuple(flat), None


def linear(columns: Mapping[str, np.ndarray], target: np.ndarray, *, weights: np.ndarray | None = None,
           max_coefficient: int = 8) -> tuple[Node, np.ndarray] | None:
    """The integer affine combination c0 + sum c_i * column_i closest to `target` in least squares
    (coefficients rounded, at most `max_coefficient` in magnitude, zero ones left out), as a node
    and its values; None when nothing rounds to small integers."""
    names = list(columns)
    a = np.column_stack([np.ones(len(target))] + [columns[n].astype(np.float64) for n in names])
    w = np.ones(len(target)) if weights is None else np.sqrt(weights)
    coef, *_ = np.linalg.lstsq(a * w[:, None], target.astype(np.float64) * w, rcond=None)
    rounded = np.round(coef).astype(np.int64)
    if np.abs(rounded[1:]).max(initial=0) > max_coefficient or not rounded[1:].any():
        return None
    node: Node | None = None
    values = np.full(len(target), int(rounded[0]), dtype=np.int64)
    for name, c in zip(names, rounded[1:].tolist()):
        if c == 0:
            continue
        values = values + c * columns[name].astype(np.int64)
        term: Node = Var(name, INT)
        if abs(c) != 1:
            term = App("mul", (Const(abs(c), INT), term), INT)
        if node is None:
            node = term if c > 0 else App("neg", (term,), INT)
        else:
            node = App("add" if c > 0 else "sub", (node, term), INT)
    if rounded[0]:
        c0 = int(rounded[0])
        node = App("add" if c0 > 0 else "sub", (node, Const(abs(c0), INT)), INT)
    return node, values
