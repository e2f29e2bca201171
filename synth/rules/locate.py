"""Where the network's decision boundaries are: split candidates on a sample, then bisection.

Geometry is in unit coordinates (each input's range mapped to [0, 1]), so that "1% of the input
range" is 0.01 on every axis.

- `best_cut(values, labels)`: the threshold on a 1-D projection that leaves the least label
  entropy in the two sides (information gain, as the conditional learner of synth/conditional.py
  chooses its predicates), with that entropy.
- `candidates(points, labels, ...)`: the best axis-aligned cuts of the best inputs and, over the
  best pairs and triples of inputs, oblique cuts whose direction a logistic regression of one
  class against the rest proposes.
- `refine(split, ...)`: asks the network. Points of the node near the proposed boundary are moved
  onto it and a short segment across it is bisected wherever its two ends get different labels
  (whichever they are: a boundary between two classes may run where both sides' majority is a
  third); the boundary points found are then fitted (RANSAC: the plane most of them lie on,
  refitted by total least squares; for an axis-aligned split the median of the largest cluster),
  with their spread around it: near 0 when the plane is one of the network's own boundaries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np

BISECTIONS = 24          # 2^-24 of a segment of at most 0.1: far below any rounding
PAIRS = 48               # segments bisected per split
FIT_POINTS = 800         # points a logistic regression proposing a direction sees at most
TOP = 3                  # candidates of each kind (axis, pairs, triples) placed on the network
INLIER = 0.002           # a boundary point this close to a plane (unit coordinates) lies on it
RANSAC = 100             # planes tried through random boundary points
MIN_ON_PLANE = 6         # boundary points it takes to call a plane the network's own


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
               oblique: bool = True) -> list[tuple[float, USplit]]:
    """Proposed splits, each (entropy left, split): the best cut of each of the `TOP` best inputs,
    then the best oblique cut over each of the `TOP` best pairs of inputs (and triples, unless a
    pair already separates the labels)."""
    axis = []
    for k in range(u.shape[1]):
        score, t = best_cut(u[:, k], labels, classes)
        if np.isfinite(score):
            axis.append((score, USplit((k,), (1.0,), t)))
    out = sorted(axis, key=lambda c: c[0])[:TOP]
    if not oblique or u.shape[1] < 2 or len(np.unique(labels)) < 2:
        return out
    for r in (2, 3):
        level = []
        for dims in itertools.combinations(range(u.shape[1]), r):
            best = None
            for w in _directions(u[:, dims], labels):
                score, t = best_cut(u[:, dims] @ w, labels, classes)
                if np.isfinite(score) and (best is None or score < best[0] - 1e-9):
                    best = (score, USplit(dims, tuple(w), t))
            if best is not None:
                level.append(best)
        level.sort(key=lambda c: c[0])
        out += level[:TOP]
        if level and level[0][0] < 1e-3:
            break                                       # a pair already separates: no triples
    return out


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
           rng: np.random.Generator) -> tuple[USplit, int, float]:
    """The split moved onto the network's boundary, the points asked, and the spread of the
    boundary points around it (median distance, unit coordinates: near 0 when the network's
    boundary there is this plane; inf when too few segments across it show the two sides'
    labels, and the split is returned unchanged)."""
    side = split.side(u)
    if side.all() or not side.any():
        return split, 0, np.inf
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
        keep = got[: len(base)] != got[len(base):]     # the label changes along the segment
        if keep.sum() >= len(dims) + 2:
            break
    else:
        return split, asked, np.inf
    lo, hi, a = lo[keep], hi[keep], got[len(base):][keep]
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        up = ask(mid) == a                             # on the far end's side
        asked += len(mid)
        hi = np.where(up[:, None], mid, hi)
        lo = np.where(up[:, None], lo, mid)
    points = ((lo + hi) / 2)[:, dims]
    fitted, spread = _fit(split, points, rng)
    return fitted, asked, spread


def _fit(split: USplit, points: np.ndarray, rng: np.random.Generator) -> tuple[USplit, float]:
    """The plane most boundary points lie on (segments may cross another boundary of the network
    too), and the median distance of those points to it; when no plane holds half of them, the
    plane fitted to all, with an infinite spread (also when fewer than MIN_ON_PLANE lie on it)."""
    n, d = points.shape
    if d == 1:
        v = np.sort(points[:, 0])
        ends = np.searchsorted(v, v + 2 * INLIER, side="right")
        i = int(np.argmax(ends - np.arange(n)))
        cluster = v[i:ends[i]]
        if len(cluster) < max(MIN_ON_PLANE, n / 2):
            return USplit(split.dims, (1.0,), float(np.median(v))), np.inf
        t = float(np.median(cluster))
        return USplit(split.dims, (1.0,), t), float(np.median(np.abs(cluster - t)))
    w = np.array(split.w)
    best = None
    for _ in range(RANSAC):
        pick = points[rng.choice(n, d, replace=False)]
        centre = pick.mean(axis=0)
        normal = np.linalg.svd(pick - centre)[2][-1]
        inliers = np.abs((points - centre) @ normal) <= INLIER
        if best is None or inliers.sum() > best.sum():
            best = inliers
    planar = best.sum() >= max(MIN_ON_PLANE, d + 1, n / 2)
    chosen = points[best] if planar else points
    centre = chosen.mean(axis=0)
    normal = np.linalg.svd(chosen - centre)[2][-1]
    normal = normal if normal @ w >= 0 else -normal
    fitted = USplit(split.dims, tuple(float(c) for c in normal), float(normal @ centre))
    spread = float(np.median(np.abs(chosen @ normal - fitted.t))) if planar else np.inf
    return fitted, spread
