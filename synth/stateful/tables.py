"""Steps as lookup tables: running thousands of candidate registers at once on small alphabets.

While a register stays within S_RANGE and the step values are few (the alphabet), a step
expression is a table (register value x letter) read off the enumeration's grid, and a whole level
of candidates runs over the probe sequences as array lookups (`run_table`). `ceilings` says, per
candidate, how well any out over (register, step[, previous step]) could do; `OutTable` holds the
small outs as tables over the same rows, so that finding a consistent candidate's out is a
comparison on the rows it visited, not an enumeration.
"""

from __future__ import annotations

import numpy as np

from dsl.ast import Node
from dsl.types import BOOL, INT
from synth.stateful.sample import StepDomain
from synth.stateful.terms import Bank

S_RANGE = (-8, 24)          # register values of the lookup-table runs
MAX_ROWS = 20000            # OutTable grids above this many rows are not built
BANK_VALUES = 1 << 25       # values a bank may hold (8 bytes each)


def letter_codes(domain: StepDomain, x: np.ndarray) -> np.ndarray:
    """Each step's index among domain.letters() (mixed radix, last input fastest), (n, T)."""
    code = np.zeros(x.shape[:2], dtype=np.int64)
    for d, (lo, hi) in enumerate(zip(domain.lo, domain.hi)):
        code = code * (hi - lo + 1) + (x[..., d] - lo)
    return code


def run_table(table: np.ndarray, codes: np.ndarray, init_index: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Registers of m steps (tables (m, S, L)) over n sequences of letter codes (n, T): values
    (m, n, T), and which steps stayed within the table on every sequence (m,)."""
    m, size = table.shape[0], table.shape[1]
    n, steps = codes.shape
    flat = table.reshape(m, -1)
    index = np.full((m, n), init_index, dtype=np.int64)
    rows = np.arange(m)[:, None]
    out = np.zeros((m, n, steps), dtype=np.int64)
    inside = np.ones(m, dtype=bool)
    for t in range(steps):
        value = flat[rows, index * table.shape[2] + codes[None, :, t]]
        out[:, :, t] = value
        index = value - offset
        ok = (index >= 0) & (index < size)
        inside &= ok.all(axis=1)
        index = np.where(ok, index, 0)
    return out, inside


def ceilings(index: np.ndarray, codes: np.ndarray, target: np.ndarray, states: int, letters: int, *,
              previous: bool, exact: bool) -> np.ndarray:
    """Per candidate (m, n, T register indices), the best agreement any out over (register,
    step[, previous step]) can reach: the majority answer of each distinct row. With `exact`,
    only whether it is 1 (each row has one answer: its answers' variance is 0), by bincount."""
    m, n, steps = index.shape
    key = np.clip(index, 0, states - 1) * letters + codes[None]
    keys = states * letters
    if previous:
        before = np.concatenate([np.zeros((n, 1), dtype=np.int64), codes[:, :-1] + 1], axis=1)
        key, keys = key * (letters + 1) + before[None], keys * (letters + 1)
    if exact:   # one answer per row: write each point's answer to its row, read it back
        flat = (np.arange(m)[:, None, None] * keys + key).ravel()
        y = np.broadcast_to(target[None], key.shape).ravel()
        first = np.empty(m * keys, dtype=np.int64)
        first[flat] = y
        return (first[flat] == y).reshape(m, -1).all(axis=1).astype(np.float64)
    lo = int(target.min())
    span = int(target.max()) - lo + 1
    if span <= 16:      # few answers: count each (candidate, row, answer) with bincount
        cell = ((np.arange(m)[:, None, None] * keys + key) * span + (target[None] - lo)).ravel()
        counts = np.bincount(cell, minlength=m * keys * span).reshape(m, keys, span)
        return counts.max(axis=2).sum(axis=1) / (n * steps)
    pair = ((np.arange(m)[:, None, None] * keys + key) * span + (target[None] - lo)).ravel()
    unique, counts = np.unique(pair, return_counts=True)
    code = unique // span
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    best = np.maximum.reduceat(counts, starts)
    return np.bincount(code[starts] // keys, best, minlength=m) / (n * steps)


class OutTable:
    """Every out expression up to `max_size` nodes over (s, step[, previous step]), as values on
    the grid rows (register index, letter[, previous letter + 1, or 0 before the start])."""

    def __init__(self, domain: StepDomain, consts: list[int], *, previous: bool, max_size: int) -> None:
        letters = domain.letters()
        self.states, self.letters, self.previous = S_RANGE[1] - S_RANGE[0] + 1, len(letters), previous
        axes = [np.arange(self.states), np.arange(self.letters)] + ([np.arange(self.letters + 1)] if previous else [])
        mesh = [m.ravel() for m in np.meshgrid(*axes, indexing="ij")]
        s, code = mesh[0], mesh[1]
        leaves = {"s": (INT, s + S_RANGE[0])}
        for d, name in enumerate(domain.names):
            leaves[name] = (INT, letters[code, d])
            if previous:
                prev = mesh[2]
                leaves[f"{name}_1"] = (INT, np.where(prev > 0, letters[np.maximum(prev - 1, 0), d], 0))
        bank = Bank(leaves, consts, max_terms=max(1, BANK_VALUES // len(s)))
        nodes, values = [], []
        for size in range(1, max_size + 1):
            for typ in (INT, BOOL):
                level = bank.level(size, typ)
                nodes += level.nodes
                values.append(level.values.astype(np.int64))
        self.nodes = nodes
        self.values = np.concatenate(values) if values else np.zeros((0, len(s)), dtype=np.int64)

    @staticmethod
    def rows(domain: StepDomain, previous: bool) -> int:
        a = domain.alphabet
        return (S_RANGE[1] - S_RANGE[0] + 1) * a * (a + 1 if previous else 1)

    def match(self, index: np.ndarray, codes: np.ndarray, target: np.ndarray, minimum: float = 1.0) -> Node | None:
        """The first (smallest) out that gives `target` on at least `minimum` of the steps the
        register (index, (n, T)) takes."""
        n = codes.shape[0]
        key = index * self.letters + codes
        if self.previous:
            before = np.concatenate([np.zeros((n, 1), dtype=np.int64), codes[:, :-1] + 1], axis=1)
            key = key * (self.letters + 1) + before
        key = key.ravel()
        if minimum >= 1.0:
            rows, first = np.unique(key, return_index=True)
            hits = (self.values[:, rows] == target.ravel()[first][None, :]).all(axis=1)
        else:
            hits = (self.values[:, key] == target.ravel()[None, :]).mean(axis=1) >= minimum
        found = np.flatnonzero(hits)
        return self.nodes[found[0]] if len(found) else None
