"""Probes on the network: what structure the function has, from queries netsynth chooses.

Each probe compares a combination of network values that vanishes when the structure holds with
the size of the function's variation, and calls the structure present when it stays within a
few times `noise`, the network's own absolute error (calibrated on the whole problem first by
`calibrate`, times the spread of its values):

- `symmetry(task, i, j, kind)`: f depends on x_i and x_j only through x_i - x_j ("sub"),
  x_i / x_j ("div"), x_i * x_j ("mul") or x_i + x_j ("add"): moving along the level set of that
  combination leaves f unchanged.
- `separable(task, group, kind)`: f(a, b) = g(a) + h(b) ("add": f(a,b) + f(a',b') - f(a,b') -
  f(a',b) = 0) or g(a) * h(b) ("mul": f(a,b) f(a',b') - f(a,b') f(a',b) = 0).
- `compositional(task, group)`: f = g(h(x_group), rest) (AI Feynman 2.0): the direction of f's
  gradient in the group's variables does not depend on the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from synth.real.task import Task

PAIRS = ("sub", "div", "mul", "add")


@dataclass(frozen=True)
class Finding:
    kind: str                  # "symmetry sub", "separable mul", "compositional", ...
    variables: tuple[str, ...]
    score: float               # the probe's residual ratio (small = present)
    present: bool

    def describe(self) -> str:
        what = {"symmetry sub": "depends on {0} - {1}", "symmetry div": "depends on {0} / {1}",
                "symmetry mul": "depends on {0} * {1}", "symmetry add": "depends on {0} + {1}",
                "separable add": "is a sum of a function of {0} and one of the rest",
                "separable mul": "is a product of a function of {0} and one of the rest",
                "compositional": "depends on ({vars}) through one function of them",
                "homogeneous": "is {1} ** {2} times a function of {0} / {1}"}[self.kind]
        return what.format(*self.variables, vars=", ".join(self.variables))


def calibrate(X: np.ndarray, y: np.ndarray) -> float:
    """An upper bound of the network's error relative to the spread of y
    (`oracle.metric.network_error`: the held-out residual of a smooth polynomial fit, kept within
    [3e-4, 2e-3]; the networks are trained to about 1e-3)."""
    from oracle.metric import network_error

    return network_error(X, y)


def _inner(task: Task, n: int, rng: np.random.Generator, margin: float = 0.15) -> np.ndarray:
    lo = np.array([r[0] for r in task.ranges])
    hi = np.array([r[1] for r in task.ranges])
    w = hi - lo
    return lo + margin * w + rng.random((n, task.k)) * (1 - 2 * margin) * w


def symmetry(task: Task, i: int, j: int, kind: str, *, noise: float, n: int = 64,
             seed: int = 0) -> Finding:
    rng = np.random.default_rng(seed)
    X = _inner(task, n, rng)
    lo = np.array([r[0] for r in task.ranges])
    hi = np.array([r[1] for r in task.ranges])
    step = 0.1 * (hi - lo)
    moved, single = X.copy(), X.copy()
    if kind == "sub":
        moved[:, i] += step[i]; moved[:, j] += step[i]
    elif kind == "add":
        moved[:, i] += step[i]; moved[:, j] -= step[i]
    elif kind in ("div", "mul"):
        if lo[i] < 0 or lo[j] < 0 or (kind == "div" and lo[j] <= 0):
            return Finding(f"symmetry {kind}", (task.names[i], task.names[j]), np.inf, False)
        lam = 1.1
        moved[:, i] *= lam
        moved[:, j] = moved[:, j] * lam if kind == "div" else moved[:, j] / lam
    single[:, i] = moved[:, i]
    keep = np.all((moved >= lo) & (moved <= hi), axis=1)
    if keep.sum() < 8:
        return Finding(f"symmetry {kind}", (task.names[i], task.names[j]), np.inf, False)
    X, moved, single = X[keep], moved[keep], single[keep]
    f0, f1, f2 = task.query(X), task.query(moved), task.query(single)
    scale = np.sqrt(np.mean((f2 - f0) ** 2))
    change = np.sqrt(np.mean((f1 - f0) ** 2))
    score = change / (scale + 1e-300)
    present = bool(scale > 10 * noise and change <= max(2 * noise, 0.005 * scale))
    return Finding(f"symmetry {kind}", (task.names[i], task.names[j]), float(score), present)


def homogeneous(task: Task, i: int, j: int, *, noise: float, n: int = 64,
                seed: int = 0) -> tuple[Finding, float]:
    """f(lam x_i, lam x_j, rest) = lam^p f(x) with p a nonzero multiple of 1/2 (f = x_j^p g(x_i / x_j,
    rest), as a Gaussian's density in (theta, sigma) with p = -1): p is read from the ratios at
    points where f is not small, and the scaled values must then match within the network's
    error. The finding and p (0 when absent)."""
    names = (task.names[i], task.names[j])
    lo = np.array([r[0] for r in task.ranges])
    hi = np.array([r[1] for r in task.ranges])
    if lo[j] <= 0:             # x_j > 0; x_i may take either sign
        return Finding("homogeneous", names + ("0",), np.inf, False), 0.0
    rng = np.random.default_rng(seed)
    X = _inner(task, n, rng)
    lam = 1.15
    moved = X.copy()
    moved[:, [i, j]] *= lam
    keep = np.all((moved >= lo) & (moved <= hi), axis=1)
    if keep.sum() < 8:
        return Finding("homogeneous", names + ("0",), np.inf, False), 0.0
    X, moved = X[keep], moved[keep]
    f0, f1 = task.query(X), task.query(moved)
    big = np.abs(f0) > 0.2 * np.max(np.abs(f0))
    with np.errstate(all="ignore"):
        ratio = f1[big] / f0[big]
    if big.sum() < 8 or np.any(ratio <= 0):
        return Finding("homogeneous", names + ("0",), np.inf, False), 0.0
    p = float(np.round(2 * np.median(np.log(ratio)) / np.log(lam)) / 2)
    if p == 0:
        return Finding("homogeneous", names + ("0",), np.inf, False), 0.0
    single = X.copy()
    single[:, i] *= lam                       # how much moving x_i alone changes f
    f2 = task.query(np.clip(single, lo, hi))
    change = np.sqrt(np.mean((f1 - lam ** p * f0) ** 2))
    scale = np.sqrt(np.mean((f2 - f0) ** 2))
    allowed = 2 * noise * max(1.0, lam ** p)
    present = bool(scale > 10 * noise and change <= max(allowed, 0.005 * scale))
    text = f"{p:g}"
    return Finding("homogeneous", names + (text,), float(change / (scale + 1e-300)), present), (p if present else 0.0)


def separable(task: Task, group: Sequence[int], kind: str, *, noise: float, n: int = 64,
              seed: int = 0) -> Finding:
    rng = np.random.default_rng(seed)
    A = np.zeros(task.k, bool)
    A[list(group)] = True
    P, Q = _inner(task, n, rng, 0.05), _inner(task, n, rng, 0.05)
    ab = P
    a2b2 = Q
    ab2 = np.where(A, P, Q)
    a2b = np.where(A, Q, P)
    f_ab, f_a2b2, f_ab2, f_a2b = (task.query(M) for M in (ab, a2b2, ab2, a2b))
    if kind == "add":
        combo = f_ab + f_a2b2 - f_ab2 - f_a2b
        scale = np.sqrt(np.mean((f_ab - f_a2b) ** 2)) + np.sqrt(np.mean((f_ab - f_ab2) ** 2))
        limit = 4 * noise
    else:
        combo = f_ab * f_a2b2 - f_ab2 * f_a2b
        scale = np.sqrt(np.mean((f_ab * f_a2b2) ** 2))
        limit = 4 * noise * np.sqrt(np.mean(f_ab ** 2))
    err = np.sqrt(np.mean(combo ** 2))
    names = tuple(task.names[g] for g in group)
    varies = np.sqrt(np.mean((f_ab - f_a2b) ** 2)) > 3 * noise   # f depends on the group
    present = bool(err <= limit and varies)
    return Finding(f"separable {kind}", names, float(err / (scale + 1e-300)), present)


def compositional(task: Task, group: Sequence[int], *, noise: float, n: int = 16,
                  seed: int = 0) -> Finding:
    """Gradients in the group's variables at points sharing those values but not the rest: their
    directions agree (cosine near 1) when f = g(h(x_group), rest)."""
    rng = np.random.default_rng(seed)
    group = list(group)
    names = tuple(task.names[g] for g in group)
    if len(group) < 2 or len(group) >= task.k:
        return Finding("compositional", names, np.inf, False)
    base = _inner(task, n, rng)
    other = _inner(task, n, rng)
    other[:, group] = base[:, group]
    widths = np.array([r[1] - r[0] for r in task.ranges])
    h = 1e-2 * widths

    def gradient(X: np.ndarray) -> np.ndarray:
        cols = []
        for g in group:
            up, down = X.copy(), X.copy()
            up[:, g] += h[g]; down[:, g] -= h[g]
            cols.append((task.query(up) - task.query(down)) / (2 * h[g]) * widths[g])
        G = np.column_stack(cols)
        return G / (np.linalg.norm(G, axis=1, keepdims=True) + 1e-300)

    g1, g2 = gradient(base), gradient(other)
    cos = np.abs(np.sum(g1 * g2, axis=1))
    score = float(1 - np.min(cos))
    relative = noise / (np.std(task.query(base)) or 1.0)
    return Finding("compositional", names, score, bool(score <= max(20 * relative, 5e-3)))
