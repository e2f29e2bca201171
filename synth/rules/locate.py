"""Where the network's decision boundaries are: split candidates on a sample, then bisection.

Geometry is in unit coordinates (each input's range mapped to [0, 1]), so that "1% of the input
range" is 0.01 on every axis.

- `best_cut(values, labels)`: the threshold on a 1-D projection that leaves the least label
  entropy in the two sides (information gain, as the conditional learner of synth/conditional.py
  chooses its predicates), with that entropy.
- `candidates(points, labels, ...)`: the best axis-aligned split of each input and, over every
  pair and triple of inputs, oblique splits whose direction a logistic regression of one class
  against the rest proposes.
- `refine(split, ...)`: asks the network. Points of the node near the proposed boundary are moved
  onto it and a short segment across it is bisected wherever its two ends get the labels of the
  two sides; the boundary points found are then fitted: the median for an axis-aligned split, a
  total-least-squares plane for an oblique one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np

BISECTIONS = 24          # 2^-24 of a segment of at most 0.1: far below any rounding
PAIRS = 48               # segments bisected per split
FIT_POINTS = 800         # points a logistic regression proposing a direction sees at most


@dataclass(frozen=True)
class USplit:
    """`w . u[dims] > t` in unit coordinates (w has unit norm)."""

    dims: tuple[int, ...]
    w: tuple[float, ...]
    t: float

    def side(self, u: np.ndarray) -> np.ndarray:
        return u[:, list(self.dims)] @ np.array(self.w) > self.t

    def distance(self, u: np.ndarray) -> np.ndarray:
        return u[:, list(self.dims)] @ np.array(self.w) - self.t


def entropy(counts: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row of class counts."""
    total = counts.sum(axis=-1, keepdims=True)
    q = np.divide(counts, total, out=np.zeros(counts.shape), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(np.where(q > 0, q * np.log2(q), 0.0)).sum(axis=-1)


def best_cut(values: np.ndarray, labels: np.ndarray, classes: int) -> tuple[float, float]:
    """(remaining entropy, threshold) of the best cut `values > threshold`; (inf, nan) if none."""
    order = np.argsort(values, kind="stable")
    v, y = values[order], labels[order]
    onehot = np.zeros((len(y), classes))
    onehot[np.arange(len(y)), y] = 1
    left = np.cumsum(onehot, axis=0)[:-1]
    right = left[-1] + onehot[-1] - left
    n = len(y)
    k = np.arange(1, n)
    score = (entropy(left) * k + entropy(right) * (n - k)) / n
    score[v[1:] <= v[:-1]] = np.inf                  # only between distinct values
    if not np.isfinite(score).any():
        return np.inf, np.nan
    i = int(score.argmin())
    return float(score[i]), float((v[i] + v[i + 1]) / 2)


def candidates(u: np.ndarray, labels: np.ndarray, classes: int, *,
               oblique: bool = True) -> tuple[tuple[float, USplit] | None, tuple[float, USplit] | None]:
    """The best axis-aligned and the best oblique split of the points (each (entropy, split))."""
    axis = None
    for k in range(u.shape[1]):
        score, t = best_cut(u[:, k], labels, classes)
        if np.isfinite(score) and (axis is None or score < axis[0]):
            axis = (score, USplit((k,), (1.0,), t))
    if not oblique or u.shape[1] < 2 or len(np.unique(labels)) < 2:
        return axis, None
    best = None
    for r in (2, 3):
        level = None
        for dims in itertools.combinations(range(u.shape[1]), r):
            for w in _directions(u[:, dims], labels):
                score, t = best_cut(u[:, dims] @ w, labels, classes)
                if np.isfinite(score) and (level is None or score < level[0] - 1e-9):
                    level = (score, USplit(dims, tuple(w), t))
        if level is not None and (best is None or clearly_better(level[0], best[0])):
            best = level
        if best is not None and best[0] < 1e-3:
            break                                       # a pair already separates: no triples
    return axis, best


def clearly_better(score: float, than: float) -> bool:
    """Whether a split with more inputs earns them: at most half the entropy left, and 0.05 bits
    less."""
    return score <= than / 2 and score < than - 0.05


def _directions(x: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """Unit normals proposed by a logistic regression of each class against the rest."""
    from sklearn.linear_model import LogisticRegression

    out = []
    if len(labels) > FIT_POINTS:                   # a direction needs few points; refine() does the rest
        pick = np.random.default_rng(0).choice(len(labels), FIT_POINTS, replace=False)
        x, labels = x[pick], labels[pick]
    present = np.unique(labels)
    for c in present[:1] if len(present) == 2 else present:
        target = labels == c
        if target.all() or not target.any():
            continue
        model = LogisticRegression(C=1e4, max_iter=300).fit(x, target)
        w = model.coef_[0]
        norm = np.linalg.norm(w)
        if norm > 0:
            out.append(w / norm)
    return out


def refine(split: USplit, u: np.ndarray, labels: np.ndarray, ask: Callable[[np.ndarray], np.ndarray],
           rng: np.random.Generator) -> tuple[USplit, int]:
    """The split moved onto the network's boundary (and the points asked); unchanged when too few
    segments across it show the two sides' labels."""
    side = split.side(u)
    if side.all() or not side.any():
        return split, 0
    a = np.bincount(labels[side]).argmax()          # the label on the `>` side
    b = np.bincount(labels[~side]).argmax()
    if a == b:
        return split, 0
    dims, w = list(split.dims), np.array(split.w)
    near = np.argsort(np.abs(split.distance(u)))[: 4 * PAIRS]
    base = u[rng.permutation(near)[:PAIRS]].copy()
    base[:, dims] -= np.outer(split.distance(base), w)          # onto the proposed boundary
    asked = 0
    for delta in (0.02, 0.06, 0.2):
        lo = np.clip(base - 0.0, 0, 1)
        lo[:, dims] = np.clip(base[:, dims] - delta * w, 0, 1)
        hi = base.copy()
        hi[:, dims] = np.clip(base[:, dims] + delta * w, 0, 1)
        got = ask(np.concatenate([lo, hi]))
        asked += 2 * len(base)
        keep = (got[: len(base)] == b) & (got[len(base):] == a)
        if keep.sum() >= len(dims) + 2:
            break
    else:
        return split, asked
    lo, hi = lo[keep], hi[keep]
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        up = ask(mid) == a
        asked += len(mid)
        hi = np.where(up[:, None], mid, hi)
        lo = np.where(up[:, None], lo, mid)
    points = ((lo + hi) / 2)[:, dims]
    return _fit(split, points), asked


def _fit(split: USplit, points: np.ndarray) -> USplit:
    if len(split.dims) == 1:
        return USplit(split.dims, (1.0,), float(np.median(points[:, 0])))
    w = np.array(split.w)
    keep = np.ones(len(points), bool)
    for _ in range(2):                               # fit, drop outliers (another boundary), refit
        centre = points[keep].mean(axis=0)
        normal = np.linalg.svd(points[keep] - centre)[2][-1]
        normal = normal if normal @ w >= 0 else -normal
        resid = np.abs((points - centre) @ normal)
        mad = np.median(resid[keep])
        keep = resid <= 3 * mad + 1e-6
        if keep.sum() < len(split.dims) + 1:
            return split
    centre = points[keep].mean(axis=0)
    normal = np.linalg.svd(points[keep] - centre)[2][-1]
    normal = normal if normal @ w >= 0 else -normal
    return USplit(split.dims, tuple(float(c) for c in normal), float(normal @ centre))
