"""Divide and conquer for conditionals, in the style of EUSolver.

When no single term matches the target everywhere, pick terms from the banks until every sample
point is matched by one of them, then learn a decision tree over the Boolean bank whose leaves are
those terms: at each node, the predicate that best separates points by the term that fits them
(information gain), recursing until one term fits every point of a node. The tree becomes nested
`a if c else b`.
"""

from __future__ import annotations

import numpy as np

from dsl.ast import Node
from dsl.types import BOOL
from synth.int_engine.bank import rebuild

MAX_DEPTH = 6
MAX_TERMS = 8
MAX_ROWS = 400_000       # rows of a bank considered (the smallest programs first) ...
BYTES_PER_VALUE = 32     # ... and no more than the memory cap has room for, at this many bytes
                         # per value (the rows widened, as float32, and the copies _learn makes)


def solve(enum, *, max_depth: int = MAX_DEPTH) -> Node | None:
    """A conditional program matching `enum.target` on every sample point, or None."""
    if "ite" not in enum.dsl.operators or BOOL not in enum.banks:
        return None
    target = enum.target
    terms_rows, cover = _rows_matching(enum, enum.target_type, target)
    if cover is None:
        return None
    chosen = _greedy_cover(cover)
    if chosen is None:
        return None
    cover = cover[chosen]
    term_ids = terms_rows[chosen]
    preds_rows, preds = _bank_rows(enum, BOOL)
    if preds is None:
        return None
    tree = _learn(np.ones(len(target), bool), cover, preds.astype(np.float32), max_depth)
    if tree is None:
        return None
    return _program(tree, enum, term_ids, preds_rows)


def _row_limit(enum) -> int:
    """The rows of a bank the solver may read: MAX_ROWS, or fewer under the memory cap."""
    from synth.int_engine import memory

    room = memory.room(enum.memory_bytes, enum.nbytes())
    return min(MAX_ROWS, room // (BYTES_PER_VALUE * max(1, enum.points)))


def _bank_rows(enum, t):
    bank = enum.banks.get(t)
    limit = _row_limit(enum)
    if bank is None or bank.rows == 0 or limit == 0:
        return None, None
    values, rows = [], 0
    for size_ in sorted(bank.levels):       # the smallest programs first, and no more than needed:
        for seg in bank.levels[size_].segments:     # a large bank holds gigabytes of rows
            values.append(seg.values[:limit - rows])
            rows += len(values[-1])
            if rows >= limit:
                break
        if rows >= limit:
            break
    values = np.concatenate(values)
    return np.arange(len(values)), values


def _rows_matching(enum, t, target):
    rows, values = _bank_rows(enum, t)
    if values is None:
        return None, None
    cover = values == target
    useful = cover.any(axis=1)
    return rows[useful], cover[useful]


def _greedy_cover(cover: np.ndarray) -> np.ndarray | None:
    """Indices of a few terms that together cover every point (earliest = smallest first)."""
    uncovered = np.ones(cover.shape[1], bool)
    chosen: list[int] = []
    while uncovered.any():
        if len(chosen) == MAX_TERMS:
            return None
        gains = (cover & uncovered).sum(axis=1)
        best = int(gains.argmax())           # argmax takes the first (smallest) on ties
        if gains[best] == 0:
            return None
        chosen.append(best)
        uncovered &= ~cover[best]
    return np.array(sorted(chosen))


def _learn(points: np.ndarray, cover: np.ndarray, preds: np.ndarray, depth: int):
    """A tree: ("leaf", term) or ("ite", pred, then, else), over the points in the mask.

    Each point is labelled with the widest-covering term that fits it; the predicate chosen is the
    one whose split leaves the least label entropy (information gain), as in EUSolver.
    """
    fits = cover[:, points].all(axis=1)
    if fits.any():
        return ("leaf", int(np.flatnonzero(fits)[0]))
    if depth == 0:
        return None
    c = cover[:, points]
    widest = np.argsort(-cover.sum(axis=1), kind="stable")
    labels = widest[np.argmax(c[widest], axis=0)]           # (points,) term index per point
    onehot = np.zeros((len(labels), cover.shape[0]), np.float32)
    onehot[np.arange(len(labels)), labels] = 1.0
    p = preds[:, points]
    n = float(points.sum())
    true_counts, false_counts = p @ onehot, (1.0 - p) @ onehot
    n_true = true_counts.sum(axis=1)
    split = (n_true > 0) & (n_true < n)
    if not split.any():
        return None
    remaining = (_entropy(true_counts) * n_true + _entropy(false_counts) * (n - n_true)) / n
    remaining[~split] = np.inf
    best = int(remaining.argmin())                            # first (smallest) on ties
    mask = preds[best] > 0.5
    then = _learn(points & mask, cover, preds, depth - 1)
    other = _learn(points & ~mask, cover, preds, depth - 1) if then is not None else None
    if then is None or other is None:
        return None
    return ("ite", best, then, other)


def _entropy(counts: np.ndarray) -> np.ndarray:
    total = counts.sum(axis=1, keepdims=True)
    q = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(np.where(q > 0, q * np.log2(q), 0.0)).sum(axis=1)


def _program(tree, enum, term_ids, preds_rows) -> Node:
    def build(t):
        if t[0] == "leaf":
            return rebuild(enum.banks, enum.target_type, int(term_ids[t[1]]), dsl=enum.dsl,
                           productions=list(enum.productions), leaves=enum.leaves)
        cond = rebuild(enum.banks, BOOL, int(preds_rows[t[1]]), dsl=enum.dsl,
                       productions=list(enum.productions), leaves=enum.leaves)
        return enum.dsl.app("ite", build(t[2]), cond, build(t[3]))
    return build(tree)

