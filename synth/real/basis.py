"""Laws that are a short sum or a ratio of small formulas, fitted linearly over a basis.

A skeleton of 8 to 10 nodes (`cos(u) + alpha * cos(u) ** 2`, `(1 - alpha ** 2) / (1 + alpha *
cos(u))`) lies beyond what the bottom-up enumeration reaches on two variables, but its parts are
small. `fits(X, y, names, *, tol)` enumerates every distinct formula up to a few nodes (the
basis, `synth.real.enumerator.grow`) and, for each transform t of y (`leaf.TRANSFORMS`), tries
every pair of columns of [basis, -t * basis] in

    t = c + a * d_i + b * d_j

by least squares, all pairs at once from the Gram matrix. A column -t * g makes the model a
ratio: t = (c + a f) / (1 + b g) (two such columns are not paired: see `fits`). The pairs with the smallest
residual become formulas, refitted on y and snapped like any other candidate.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np

from dsl.ast import Node
from synth.real import fit, terms
from synth.real.enumerator import grow

#: Formulas of the basis at most, kept as columns after screening, and fits refitted per transform.
BASIS = 20_000
SCREEN = 1200
BEST = 6
SHORTLIST = 200        # pairs ranked by their real error, of those best by the linear residual
#: Transforms of y tried (names of leaf.TRANSFORMS).
TARGETS = ("y", "1/y", "y^2", "sqrt y", "log y", "cos y", "1/y^2")
#: Each target's inverse, on values.
UNDO = {"y": lambda t: t, "1/y": lambda t: 1 / t, "y^2": np.sqrt, "sqrt y": np.square,
        "log y": np.exp, "cos y": np.arccos, "1/y^2": lambda t: 1 / np.sqrt(t)}


def basis(X: np.ndarray, names: Sequence[str], *, max_size: int, limit: int = BASIS,
          deadline: float = math.inf) -> tuple[list[Node], np.ndarray, np.ndarray]:
    """The formulas up to `max_size` nodes that differ by more than an affine map (u, u + 1 and
    2 * u are one column of a linear fit), at most `limit`, smallest first: (formulas, values
    (m, n), sizes)."""
    nodes: list[Node] = []
    rows: list[np.ndarray] = []
    sizes: list[int] = []
    seen: set[bytes] = set()
    for size, level, values in grow(X, names, max_size=max_size, late=lambda: time.monotonic() > deadline):
        with np.errstate(all="ignore"):
            ok = np.all(np.isfinite(values), axis=1) & (np.max(np.abs(values), axis=1) < 1e12)
            Z = values - values.mean(axis=1, keepdims=True)
            norm = np.sqrt(np.sum(Z * Z, axis=1))
            # a formula that hardly varies (tanh(pi + exp(alpha)) = 1 - 1e-10) is a constant
            ok &= norm > 1e-4 * np.sqrt(values.shape[1]) * (np.abs(values.mean(axis=1)) + 1e-300)
            Z = Z / np.where(norm > 0, norm, 1)[:, None]
            Z *= np.sign(Z[:, :1] + (Z[:, :1] == 0))
            keys = np.round(Z * 1e5).astype(np.int64)   # equal within about 0.02 %
        for j in np.flatnonzero(ok):
            key = keys[j].tobytes()
            if key in seen:
                continue
            seen.add(key)
            nodes.append(level[j])
            rows.append(values[j])
            sizes.append(size)
            if len(nodes) >= limit:
                return nodes, np.stack(rows), np.array(sizes)
    if not rows:
        return [], np.zeros((0, len(X))), np.zeros(0, int)
    return nodes, np.stack(rows), np.array(sizes)


def _best_pairs(D: np.ndarray, t: np.ndarray, count: int, split: int | None = None,
                denominators: np.ndarray | None = None) -> list[tuple[float, int, int]]:
    """(relative residual, i, j) of the `count` best fits t = c + a D[i] + b D[j], over all
    pairs i < j (columns centred so that c drops out), except pairs of two columns from
    `split` on. A column from `split` on is -t * g (`denominators`: the mean of g and of g^2
    for each column, zero before `split`): its fit is t (1 + b g) = c + a f, whose residual is
    the real one times (1 + b g), so it is ranked by residual / mean((1 + b g)^2)."""
    split = len(D) if split is None else split
    Z = D - D.mean(axis=1, keepdims=True)
    u = t - t.mean()
    norms = np.sqrt(np.sum(Z * Z, axis=1))
    good = (norms > 1e-9 * np.sqrt(np.sum(D * D, axis=1))) & np.isfinite(norms)
    index = np.flatnonzero(good)
    Z = Z[index] / norms[index][:, None]
    r = Z @ u                                           # (m,)
    tt = float(u @ u) or 1.0
    m = len(index)
    out: list[tuple[float, int, int]] = []
    for start in range(0, m, 256):
        rows = np.arange(start, min(m, start + 256))
        g = Z[rows] @ Z.T                               # (b, m) cosines
        det = 1 - g ** 2
        ok = det > 1e-6
        ri = r[rows][:, None]
        a = np.where(ok, (ri - g * r[None, :]) / np.where(ok, det, 1), 0)
        b = np.where(ok, (r[None, :] - g * ri) / np.where(ok, det, 1), 0)
        rss = tt - (a * ri + b * r[None, :])
        if denominators is not None:    # i < j: only column j can be -t * g
            raw = b / norms[index][None, :]
            mg, mg2 = denominators[index, 0][None, :], denominators[index, 1][None, :]
            rss = rss / np.maximum(1 + 2 * raw * mg + raw * raw * mg2, 1e-12)
        allowed = (np.arange(m)[None, :] > rows[:, None]) & \
            ~((index[rows] >= split)[:, None] & (index >= split)[None, :])
        rss = np.where(ok & allowed, rss, np.inf)
        for f in np.argpartition(rss, min(count, rss.size - 1), axis=None)[:count]:
            i, j = divmod(int(f), m)
            if np.isfinite(rss[i, j]):
                out.append((float(max(rss[i, j], 0.0) / tt), int(index[rows[i]]), int(index[j])))
    out.sort()
    return out[:count]


def fits(X: np.ndarray, y: np.ndarray, names: Sequence[str], *, tol: float, constants=(),
         max_size: int | None = None, deadline: float = math.inf, seed: int = 0) -> list:
    """Candidates t = c + a d_i + b d_j (d: the basis and -t times it), inverted to y. The
    columns are screened first: the formulas of up to 4 nodes and -t times each, and the
    SCREEN others that follow t best on their own (a denominator's part rarely does)."""
    from synth.real.leaf import TRANSFORMS, Candidate

    k = X.shape[1]
    size = max_size if max_size is not None else (5 if k <= 2 else 4)
    nodes, F, sizes = basis(X, names, max_size=size, deadline=deadline)
    if not nodes:
        return []
    m = len(nodes)
    Fz = F - F.mean(axis=1, keepdims=True)
    Fz /= np.sqrt(np.sum(Fz * Fz, axis=1, keepdims=True))
    out: list[Candidate] = []
    for name, forward, inverse in TRANSFORMS:
        if name not in TARGETS or time.monotonic() > deadline:
            continue
        with np.errstate(all="ignore"):
            t = forward(y)
        if not (np.all(np.isfinite(t)) and np.std(t) > 0):
            continue
        u = (t - t.mean()) / np.linalg.norm(t - t.mean())
        tF = -t[None, :] * F
        tz = tF - tF.mean(axis=1, keepdims=True)
        tz /= np.sqrt(np.sum(tz * tz, axis=1, keepdims=True)) + 1e-300
        score = np.abs(np.concatenate([Fz @ u, tz @ u]))
        # -t * g with g nearly constant is t itself: t = c - a t g then has the empty
        # solution c = 0, a g = -1; such columns are left out.
        varied = np.std(F, axis=1) > 0.05 * np.abs(np.mean(F, axis=1))
        score[m:][~varied] = 0
        small = np.concatenate([sizes <= 4, (sizes <= 4) & varied])
        chosen = np.flatnonzero(small)
        rest = np.flatnonzero(~small)
        chosen = np.sort(np.concatenate([chosen, rest[np.argsort(-score[rest])[:SCREEN]]]))
        D = np.vstack([F, tF])[chosen]
        # Two columns -t f and -t g: t = c / (1 + a f + b g) has the empty solution c = 0,
        # 1 + a f + b g = 0 wherever f and g are nearly linear in one variable; not tried.
        pairs = []
        split = int(np.sum(chosen < m))
        moments = np.zeros((len(chosen), 2))
        moments[split:, 0] = F[chosen[split:] - m].mean(axis=1)
        moments[split:, 1] = (F[chosen[split:] - m] ** 2).mean(axis=1)
        for _, i, j in _best_pairs(D, t, SHORTLIST, split=split, denominators=moments):
            i, j = int(chosen[i]), int(chosen[j])
            cols = [F[c % m] if c < m else tF[c % m] for c in (i, j)]
            (c0, a, b), *_ = np.linalg.lstsq(np.column_stack([np.ones(len(t)), *cols]), t, rcond=None)
            # The linear residual weighs each point by the denominator: rank by the real error.
            top = c0 + sum(coef * F[c % m] for coef, c in ((a, i), (b, j)) if c < m)
            bottom = 1 + sum(coef * F[c % m] for coef, c in ((a, i), (b, j)) if c >= m)
            with np.errstate(all="ignore"):
                pred = UNDO[name](top / bottom)
            err = float(np.sqrt(np.mean((pred - y) ** 2)) / fit.spread(y))
            if np.isfinite(err) and err <= 3 * tol:
                pairs.append((err, i, j, c0, a, b))
        for _, i, j, c0, a, b in sorted(pairs)[:BEST]:
            top, bottom = [terms.num(float(c0))], [terms.num(1.0)]
            for coef, col in ((a, i), (b, j)):
                part = terms.mul(terms.num(float(coef)), nodes[col % m])
                (top if col < m else bottom).append(part)
            node = _sum(top) if len(bottom) == 1 else terms.div(_sum(top), _sum(bottom))
            node = inverse(node)
            err = fit.error(node, X, y, names)
            if not math.isfinite(err):
                continue
            if err > tol:
                node, err = fit.refine(node, X, y, names, seed=seed, starts=1)
            if err <= tol:
                node, err = fit.snap(node, X, y, names, tol=tol, constants=constants)
            out.append(Candidate(node, err, f"basis ({name})"))
    return out


def _sum(parts: list[Node]) -> Node:
    out = parts[0]
    for p in parts[1:]:
        out = terms.add(out, p)
    return out
