"""Solving for one expression that maps per-step columns to the per-step answers.

`solve(columns, target, ...)` is what every phase of the stateful search ends with: once the
registers' trajectories are fixed, `out` (or a window function) is an ordinary expression over
per-step columns. The points are the distinct rows of the columns (with how often each answer
occurs there), so small alphabets cost a few dozen points however many sequences were asked.
Agreement is the fraction of steps whose answer the expression gives (bool values count as 0/1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from dsl.ast import Node
from dsl.types import BOOL, INT
from synth.stateful.terms import Bank, linear

MAX_POINTS = 3000       # distinct rows the enumeration works on (a random subset beyond)


@dataclass(frozen=True)
class Fit:
    node: Node
    agreement: float
    candidates: int


@dataclass
class Rows:
    """Distinct column rows (keys), and per (key, answer) pair its count."""

    keys: np.ndarray            # (P, C)
    key_of: np.ndarray          # (R,) index into keys
    answer: np.ndarray          # (R,)
    count: np.ndarray           # (R,)
    total: int

    @classmethod
    def of(cls, matrix: np.ndarray, target: np.ndarray) -> "Rows":
        """Rows told apart by a 64-bit hash of their values (1-D unique: a structured sort over
        the columns costs ten times more)."""
        weights = np.random.default_rng(11).integers(1, 2**62, size=matrix.shape[1], dtype=np.int64) | 1
        with np.errstate(over="ignore"):
            hashed = matrix @ weights
        _, first, point_key = np.unique(hashed, return_index=True, return_inverse=True)
        point_key = point_key.ravel()
        span = int(target.max() - target.min()) + 1
        pair = point_key.astype(np.int64) * span + (target - target.min())
        _, pfirst, counts = np.unique(pair, return_index=True, return_counts=True)
        return cls(matrix[first], point_key[pfirst], target[pfirst], counts, int(len(target)))

    def ceiling(self) -> float:
        """The best agreement any function of these columns can reach (majority answer per key)."""
        best = np.zeros(len(self.keys), dtype=np.int64)
        np.maximum.at(best, self.key_of, self.count)
        return float(best.sum()) / self.total

    def agreement(self, values: np.ndarray) -> np.ndarray:
        """Agreement of each row of values (m, P) over the keys."""
        hits = values[:, self.key_of].astype(np.int64) == self.answer[None, :]
        return hits @ self.count / self.total


def solve(columns: Mapping[str, np.ndarray], target: np.ndarray, *, constants: list[int],
          max_size: int, min_agreement: float, bools: Mapping[str, bool] | None = None,
          try_linear: bool = True, seed: int = 0, tick: Callable[[], None] | None = None) -> Fit | None:
    """The smallest expression over `columns` (name -> flat array) whose agreement with `target`
    is at least `min_agreement` (the best of the first size that reaches it), or None. `tick` is
    called per block of the enumeration (the search's time limit and cancel: it may raise)."""
    names = list(columns)
    matrix = np.column_stack([np.asarray(columns[n]).astype(np.int64) for n in names])
    rows = Rows.of(matrix, np.asarray(target).astype(np.int64))
    if rows.ceiling() < min_agreement:
        return None
    candidates = 0
    if try_linear and len(rows.keys) > 8:
        fit = linear({n: rows.keys[:, i] for i, n in enumerate(names)}, _majority(rows),
                     weights=np.bincount(rows.key_of, rows.count, len(rows.keys)))
        candidates += 1
        if fit is not None:
            score = float(rows.agreement(fit[1][None, :])[0])
            if score >= min_agreement:
                return Fit(fit[0], score, candidates)
    work = rows
    if len(rows.keys) > MAX_POINTS:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows.keys), MAX_POINTS, replace=False))
        work = _restrict(rows, keep)
    bools = bools or {}
    leaves = {n: (BOOL if bools.get(n) else INT, work.keys[:, i] if not bools.get(n) else work.keys[:, i] != 0)
              for i, n in enumerate(names)}
    most = min(1_000_000, (1 << 25) // max(1, len(work.keys)))     # few points: deeper levels
    bank = Bank(leaves, constants, max_terms=most, level_cap=most // 2)
    bank.tick = tick
    for size in range(1, max_size + 1):
        best = None
        for typ in (INT, BOOL):
            level = bank.level(size, typ)
            if not level.nodes:
                continue
            candidates += len(level.nodes)
            score = work.agreement(level.values)
            i = int(score.argmax())
            if score[i] >= min_agreement and (best is None or score[i] > best[1]):
                best = (level.nodes[i], float(score[i]))
        if best is not None:
            if work is not rows:          # the subset's winner, measured on every row
                from dsl.evaluate import evaluate
                env = {n: (rows.keys[:, i] != 0 if bools.get(n) else rows.keys[:, i]) for i, n in enumerate(names)}
                values = evaluate(best[0], env).values
                best = (best[0], float(rows.agreement(values[None, :])[0]))
                if best[1] < min_agreement:
                    continue
            return Fit(best[0], best[1], candidates)
    return None


def _majority(rows: Rows) -> np.ndarray:
    """Per key, its most frequent answer."""
    order = np.lexsort((-rows.count, rows.key_of))
    first = np.unique(rows.key_of[order], return_index=True)[1]
    return rows.answer[order][first]


def _restrict(rows: Rows, keep: np.ndarray) -> Rows:
    mask = np.isin(rows.key_of, keep)
    remap = np.full(len(rows.keys), -1)
    remap[keep] = np.arange(len(keep))
    return Rows(rows.keys[keep], remap[rows.key_of[mask]], rows.answer[mask], rows.count[mask],
                int(rows.count[mask].sum()))
