"""A sub-problem of the search: a function of named real variables that can be queried.

The root task queries the network over the spec's inputs; a symmetry makes a task over one
variable fewer (its new variable stands for `x_i - x_j`, `x_i / x_j`, `x_i * x_j` or
`x_i + x_j`), a separable split makes two tasks with the other side's variables held fixed. Every
query a task makes lands inside the training box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from dsl.ast import App, Node
from dsl.types import REAL
from synth.real import terms

Query = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Task:
    names: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]
    query: Query                      # (n, k) array of points -> (n,) values

    @property
    def k(self) -> int:
        return len(self.names)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n points drawn by Latin hypercube in the task's box, and the values there."""
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=self.k, seed=rng).random(n)
        lo = np.array([r[0] for r in self.ranges])
        hi = np.array([r[1] for r in self.ranges])
        X = lo + unit * (hi - lo)
        return X, self.query(X)

    def middle(self) -> np.ndarray:
        return np.array([(lo + hi) / 2 for lo, hi in self.ranges])

    def fixing(self, keep: Sequence[int], at: np.ndarray, *, average: str | None = None,
               settings: int = 6, seed: int = 0) -> "Task":
        """The task over the variables `keep`, the others held at the values of `at`. With
        `average` ("add" or "mul": the way f separates), the others take `settings` values (the
        middle and random points of the box) and the answers are averaged: for f = g + h the
        mean is g plus a constant, for f = g * h each setting is first divided by its value at
        the middle of `keep` relative to the middle's (settings where that value is small are
        left out), so the network's own error, which differs from point to point, averages down
        while the function is unchanged."""
        keep = list(keep)
        if average is None:
            rows = np.asarray(at, np.float64)[None, :]
        else:
            rng = np.random.default_rng(seed)
            lo = np.array([r[0] for r in self.ranges])
            hi = np.array([r[1] for r in self.ranges])
            rows = np.vstack([at, lo + rng.random((settings - 1, self.k)) * (hi - lo)])
        weights = np.ones(len(rows))
        if average == "mul":
            probe = rows.copy()
            probe[:, keep] = np.asarray(at, np.float64)[keep]
            ref = self.query(probe)
            ok = np.abs(ref) >= 0.3 * np.max(np.abs(ref)) if np.any(ref) else np.zeros(len(ref), bool)
            ok[0] = True
            rows, weights = rows[ok], np.where(ref[ok] != 0, ref[0] / np.where(ref[ok] == 0, 1, ref[ok]), 1.0)

        def query(X: np.ndarray) -> np.ndarray:
            full = np.repeat(rows, len(X), axis=0)
            full[:, keep] = np.tile(X, (len(rows), 1))
            values = self.query(full).reshape(len(rows), len(X))
            return np.mean(values * weights[:, None], axis=0)
        return Task(tuple(self.names[i] for i in keep), tuple(self.ranges[i] for i in keep), query)


#: kind -> (operator joining x_i and x_j, range of u, the x_j interval for a given u)
def _pair_range(kind: str, a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    (li, hi_), (lj, hj) = a, b
    if kind == "sub":
        return li - hj, hi_ - lj
    if kind == "add":
        return li + lj, hi_ + hj
    if kind == "div":          # x_j > 0; x_i of either sign (a homogeneous pair)
        ends = (li / lj, li / hj, hi_ / lj, hi_ / hj)
        return min(ends), max(ends)
    return li * lj, hi_ * hj


def _partner(kind: str, u: np.ndarray, a, b, where: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """For each u, x_j at `where` (0 to 1) of the interval keeping both x_i and x_j in range."""
    (li, hi_), (lj, hj) = a, b
    with np.errstate(all="ignore"):
        if kind == "sub":
            lo, hi = np.maximum(lj, li - u), np.minimum(hj, hi_ - u)
        elif kind == "add":
            lo, hi = np.maximum(lj, u - hi_), np.minimum(hj, u - li)
        elif kind == "div":    # x_i = u x_j with x_j > 0: for u < 0 the bounds on x_j swap
            lo = np.where(u > 0, np.maximum(lj, li / u), np.where(u < 0, np.maximum(lj, hi_ / u), lj))
            hi = np.where(u > 0, np.minimum(hj, hi_ / u), np.where(u < 0, np.minimum(hj, li / u), hj))
        else:
            lo, hi = np.maximum(lj, u / hi_), np.minimum(hj, u / li)
        xj = lo + where * (hi - lo)
        xi = {"sub": u + xj, "add": u - xj, "div": u * xj, "mul": u / xj}[kind]
    return np.clip(xi, li, hi_), np.clip(xj, lj, hj)


#: Where along each level set of a merged pair the network is asked (fractions of its length).
WHERE = (0.15, 0.325, 0.5, 0.675, 0.85)


def merged(task: Task, i: int, j: int, kind: str, name: str, power: float = 0.0) -> Task:
    """The task over u = x_i (kind) x_j in place of x_i and x_j (u takes x_i's position); with
    `power` (a homogeneous f, kind "div"), the task is f / x_j^power."""
    a, b = task.ranges[i], task.ranges[j]

    def query(X: np.ndarray) -> np.ndarray:
        # The mean over five points of each level set of u: f is the same at all of them, the
        # network's own error is not.
        total = np.zeros(len(X))
        for where in WHERE:
            xi, xj = _partner(kind, X[:, i_new], a, b, where)
            cols = [X[:, c] for c in range(X.shape[1])]
            others = [c for c in range(len(cols)) if c != i_new]
            out = np.empty((len(X), task.k))
            rest = iter(others)
            for c in range(task.k):
                if c == i:
                    out[:, c] = xi
                elif c == j:
                    out[:, c] = xj
                else:
                    out[:, c] = cols[next(rest)]
            total += task.query(out) / (xj ** power if power else 1.0)
        return total / len(WHERE)

    names = [n for c, n in enumerate(task.names) if c != j]
    ranges = [r for c, r in enumerate(task.ranges) if c != j]
    i_new = i if i < j else i - 1
    names[i_new] = name
    ranges[i_new] = _pair_range(kind, a, b)
    return Task(tuple(names), tuple(ranges), query)


def joined(kind: str, xi: str, xj: str) -> Node:
    return App(kind, (terms.var(xi), terms.var(xj)), REAL)
