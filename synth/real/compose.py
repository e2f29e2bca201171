"""Compositionality (AI Feynman 2.0): f(x) = g(h(x_G), x_rest) for a group G of two variables.

When f depends on the group only through one function h of it, the direction of f's gradient in
the group's variables is h's, whatever the other variables are (`probes.compositional` tests
that). Then:

- `inner(task, group, ...)` finds h: formulas over the group's variables are enumerated
  bottom-up without fitted constants (synth/real/enumerator.py), each judged by how far its
  gradient's direction is from the network's at probe points (finite differences of the formula
  at the same points); the smallest that agrees within the network's own gradient noise wins.
  Any monotone function of h agrees as well as h does, so the smallest one is the one to take.
- `composed(task, group, h, name)` is the task over u = h(x_G) and the other variables: the
  network is asked at points of the level set h = u inside the box (found by a grid and bisection
  along one group variable, from sample points whose h is near u), averaged over up to three
  such points, as `task.merged` averages over a pair's level set.

`split(solver, task, depth, context)` is the solver's step (synth/real/solve.py): the composed
task, one variable fewer, solved, and h substituted back for u.
"""

from __future__ import annotations

import itertools
import logging
import time
from fractions import Fraction
from typing import Sequence

import numpy as np

from dsl.ast import Node
from synth.real import enumerator, fit, terms
from synth.real.probes import _inner
from synth.real.task import Task

log = logging.getLogger("netsynth.real")

#: The largest inner function enumerated (nodes; x / y is 3), and the powers tried beside (x^a y^b,
#: x^a + y^b, x^a - y^b).
ENUMERATED = 5
EXPONENTS = tuple(Fraction(e) for e in (-3, -2, -1, "-1/2", "1/2", 1, 2, 3))
#: Probe points where the network's gradient is compared with each candidate's.
POINTS = 48
#: Sample points of the group's box that seed the level-set search, and the grid along a variable.
SEEDS, GRID = 256, 33
#: Pairs searched for an inner function at most, per task (each search takes seconds).
PAIRS = 2
#: Level-set points averaged per query (the network's error differs from point to point).
AVERAGE = 3
#: The network's slopes: least squares through f at these multiples of STEP widths.
OFFSETS, STEP = np.array([-2.0, -1.0, 1.0, 2.0]), 0.04
#: Gradient screen: a candidate's mean squared sine at most SPREAD times what the network's error
#: alone gives (its error is smooth, not independent from point to point); the CHECKED cheapest
#: candidates then go through the level sets' test.
SPREAD, CHECKED = 10.0, 6


def split(solver, task: Task, depth: int, context: str | None = None) -> Node | None:
    """f = g(h(x_i, x_j), rest): of the pairs whose gradient direction does not depend on the
    rest (`probes.compositional`), the PAIRS most clearly so are searched for a small inner
    function h; with one, the task over u = h and the rest is solved by `solver`, and h
    substituted back for u. None when no pair splits."""
    from synth.real import probes

    if task.k < 3:
        return None
    present = []
    for i, j in itertools.combinations(range(task.k), 2):
        solver.check()
        f = probes.compositional(task, [i, j], noise=solver.sigma, seed=solver.seed)
        if f.present:
            present.append((f.score, i, j, f))
    for _, i, j, f in sorted(present, key=lambda row: row[0])[:PAIRS]:
        solver.check()
        found = inner(task, [i, j], noise=solver.sigma, seed=solver.seed,
                      late=lambda: time.monotonic() > solver.deadline)
        if found is None:
            log.debug("%s%s: %s, but no small inner function", "  " * depth, task.names, f.describe())
            continue
        h, score = found
        solver.findings.append(probes.Finding("compositional", f.variables, score, True))
        solver.fresh += 1
        name = f"_u{solver.fresh}"
        sub = solver.solve(composed(task, [i, j], h, name, seed=solver.seed), depth + 1, context)
        return None if sub is None else terms.substitute(sub, {name: h})
    return None


def network_gradients(task: Task, group: Sequence[int], X: np.ndarray, step: float = STEP) -> np.ndarray:
    """f's gradient in the group's variables at the rows of X, each variable scaled by its
    range's width: the least-squares slope through f at -2, -1, 1 and 2 steps of `step` widths
    (the network's own error, which differs from point to point, weighs less than in a
    two-point difference)."""
    widths = np.array([r[1] - r[0] for r in task.ranges])
    cols = []
    for g in group:
        values = []
        for o in OFFSETS:
            moved = X.copy()
            moved[:, g] += o * step * widths[g]
            values.append(task.query(moved))
        cols.append(np.tensordot(OFFSETS, np.array(values), axes=1) / (np.sum(OFFSETS ** 2) * step))
    return np.column_stack(cols)


def inner(task: Task, group: Sequence[int], *, noise: float, seed: int = 0,
          late=lambda: False) -> tuple[Node, float] | None:
    """A formula h over the group's variables (enumerated up to ENUMERATED nodes, and sums and
    products of powers) with f constant on h's level sets, and the mean squared sine of the
    angle between h's gradient and the network's; None when there is none.

    `noise` is the network's absolute error. Candidates are those whose gradient direction agrees
    with the network's at POINTS points (mean squared sine within SPREAD times what the network's
    error alone gives its slopes), taken by description length plus n/2 log2 of their mean
    squared sine (a monotone function of h has h's angles and more bits; a near miss pays for its
    angles); the first that `level_sets_agree` is returned."""
    group = list(group)
    rng = np.random.default_rng(seed)
    X = _inner(task, POINTS, rng)
    G = network_gradients(task, group, X)
    norm = np.linalg.norm(G, axis=1, keepdims=True)
    want = G / (norm + 1e-300)
    slope_noise = noise / (np.sqrt(np.sum(OFFSETS ** 2)) * STEP)
    limit = SPREAD * float(np.mean(slope_noise ** 2 / (norm[:, 0] ** 2 + 1e-300))) + 1e-6
    widths = np.array([task.ranges[g][1] - task.ranges[g][0] for g in group])
    base = X[:, group]
    eps = 1e-5 * widths
    # The formulas are evaluated at the points and at a small step up and down each variable.
    rows = [base]
    for c in range(len(group)):
        for sign in (1, -1):
            moved = base.copy()
            moved[:, c] += sign * eps[c]
            rows.append(moved)
    stacked = np.vstack(rows)
    names = [task.names[g] for g in group]
    n = len(base)
    found: list[tuple[float, Node, float]] = []

    def judge(nodes: Sequence[Node], V: np.ndarray) -> None:
        parts = V.reshape(len(nodes), 1 + 2 * len(group), n)
        with np.errstate(all="ignore"):
            grads = np.stack([(parts[:, 1 + 2 * c] - parts[:, 2 + 2 * c]) / 2 for c in range(len(group))], axis=2)
            norms = np.linalg.norm(grads, axis=2, keepdims=True)
            cos = np.sum(grads / norms * want[None], axis=2)
            # each variable must move h somewhere (x^2 alone agrees wherever f barely feels y)
            uses = np.all(np.max(np.abs(grads), axis=1) > 1e-9 * np.max(norms, axis=(1, 2))[:, None], axis=1)
            score = np.mean(1 - np.where(np.isfinite(cos), cos, 0.0) ** 2, axis=1)
        for k in np.flatnonzero(uses & (score <= limit)):
            cost = fit.description_length(nodes[k]) + n / 2 * np.log2(max(score[k], 1e-12))
            found.append((cost, nodes[k], float(score[k])))

    for size, nodes, V in enumerator.grow(stacked, names, max_size=ENUMERATED, late=late):
        judge(nodes, V)
    if len(group) == 2:
        family = _powers(names)
        with np.errstate(all="ignore"):
            judge(family, np.stack([fit.evaluate(h, stacked, names) for h in family]))
    found.sort(key=lambda row: row[0])
    for cost, h, score in found[:CHECKED]:
        agree = level_sets_agree(task, group, h, noise=noise, seed=seed)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("inner function of %s: %s (mean squared sine %.3g, limit %.3g): level sets %s",
                      names, fit.real_dsl().show(h), score, limit, "agree" if agree else "differ")
        if agree:
            return h, score
    return None


def level_sets_agree(task: Task, group: Sequence[int], h: Node, *, noise: float, n: int = 64,
                     seed: int = 0) -> bool:
    """Whether f stays put when the group's variables move along a level set of h (the other
    variables held), within the network's error, while moving them elsewhere changes it: the
    values' test that the gradients' screen may pass by chance."""
    group = list(group)
    rng = np.random.default_rng(seed + 7)
    names = [task.names[g] for g in group]
    lo = np.array([task.ranges[g][0] for g in group])
    hi = np.array([task.ranges[g][1] for g in group])
    P = _inner(task, n, rng, 0.05)
    u = fit.evaluate(h, P[:, group], names)
    starts = lo + rng.random((n, len(group))) * (hi - lo)
    moved = np.full((n, len(group)), np.nan)
    for c in range(len(group)):
        todo = ~np.all(np.isfinite(moved), axis=1)
        point = _solve_along(h, names, starts, c, lo[c], hi[c], u)
        moved[todo] = point[todo]
    ok = np.all(np.isfinite(moved), axis=1) & np.isfinite(u)
    if ok.sum() < n // 4:
        return False
    P, moved, starts = P[ok], moved[ok], starts[ok]
    along, away = P.copy(), P.copy()
    along[:, group], away[:, group] = moved, starts
    f0, f1, f2 = task.query(P), task.query(along), task.query(away)
    change = np.sqrt(np.mean((f1 - f0) ** 2))
    scale = np.sqrt(np.mean((f2 - f0) ** 2))
    return bool(scale > 10 * noise and change <= max(2.5 * noise, 0.005 * scale))


def _powers(names: Sequence[str]) -> list[Node]:
    """x^a y^b, x^a + y^b and x^a - y^b for a, b in EXPONENTS (x^2 + y^2 is 7 nodes, past the
    enumerated sizes, whose levels are cut short on two variables)."""
    out = []
    for a, b in itertools.product(EXPONENTS, repeat=2):
        out.append(terms.monomial(names, (a, b)))
        xa, yb = terms.monomial(names[:1], (a,)), terms.monomial(names[1:], (b,))
        out += [terms.add(xa, yb), terms.sub(xa, yb)]
    return out


def composed(task: Task, group: Sequence[int], h: Node, name: str, *, seed: int = 0,
             trim: float = 0.02) -> Task:
    """The task over u = h(x_group) (in the first group variable's place) and the variables not
    in the group; u's range is the central 1 - 2 trim of h's values over the group's box."""
    group = list(group)
    names = [task.names[g] for g in group]
    lo = np.array([task.ranges[g][0] for g in group])
    hi = np.array([task.ranges[g][1] for g in group])
    rng = np.random.default_rng(seed)
    seeds = lo + rng.random((SEEDS, len(group))) * (hi - lo)
    hs = fit.evaluate(h, seeds, names)
    seeds, hs = seeds[np.isfinite(hs)], hs[np.isfinite(hs)]
    u_lo, u_hi = np.quantile(hs, [trim, 1 - trim])
    rest = [c for c in range(task.k) if c not in group]
    first = group[0]

    def level_points(u: np.ndarray) -> list[np.ndarray]:
        """Up to AVERAGE group points on each u's level set (rows where none is found get the
        seed point of nearest h)."""
        order = np.argsort(np.abs(hs[None, :] - u[:, None]), axis=1)
        found: list[np.ndarray] = []
        count = np.zeros(len(u), int)
        for attempt in range(8):
            start = seeds[order[:, attempt]]
            for c in range(len(group)):
                need = count < AVERAGE
                if not np.any(need):
                    return found
                point = _solve_along(h, names, start, c, lo[c], hi[c], u)
                ok = need & np.all(np.isfinite(point), axis=1)
                if np.any(ok):
                    found.append(np.where(ok[:, None], point, np.nan))
                    count += ok
        if np.any(count == 0):
            log.debug("composed: %d of %d level sets not reached; nearest seed used",
                      int(np.sum(count == 0)), len(u))
            found.append(np.where((count == 0)[:, None], seeds[order[:, 0]], np.nan))
        return found

    def query(Z: np.ndarray) -> np.ndarray:
        i_new = new_names.index(name)
        u = Z[:, i_new]
        total, weight = np.zeros(len(Z)), np.zeros(len(Z))
        for points in level_points(u):
            ok = np.all(np.isfinite(points), axis=1)
            if not np.any(ok):
                continue
            full = np.empty((int(ok.sum()), task.k))
            for c, g in enumerate(group):
                full[:, g] = points[ok, c]
            for r in rest:
                full[:, r] = Z[ok, new_names.index(task.names[r])]
            total[ok] += task.query(full)
            weight[ok] += 1
        return total / weight

    new_names = [name if c == first else n for c, n in enumerate(task.names) if c == first or c in rest]
    new_ranges = [(float(u_lo), float(u_hi)) if c == first else r
                  for c, r in enumerate(task.ranges) if c == first or c in rest]
    return Task(tuple(new_names), tuple(new_ranges), query)


def _solve_along(h: Node, names: Sequence[str], start: np.ndarray, c: int, lo: float, hi: float,
                 u: np.ndarray) -> np.ndarray:
    """Points `start` with variable c moved so that h = u: the crossing of a GRID-point grid over
    [lo, hi] nearest start's value, refined by bisection; NaN rows where h does not cross u."""
    n = len(u)
    grid = np.linspace(lo, hi, GRID)
    pts = np.repeat(start, GRID, axis=0)
    pts[:, c] = np.tile(grid, n)
    d = (fit.evaluate(h, pts, names) - np.repeat(u, GRID)).reshape(n, GRID)
    cross = (np.sign(d[:, :-1]) * np.sign(d[:, 1:]) <= 0) & np.isfinite(d[:, :-1]) & np.isfinite(d[:, 1:])
    # the crossing cell nearest the start's own value of the variable
    where = np.abs((grid[:-1] + grid[1:])[None, :] / 2 - start[:, c:c + 1])
    cell = np.argmin(np.where(cross, where, np.inf), axis=1)
    ok = cross[np.arange(n), cell]
    a, b = grid[cell], grid[cell + 1]
    da = d[np.arange(n), cell]
    point = start.copy()
    for _ in range(48):
        mid = (a + b) / 2
        point[:, c] = mid
        dm = fit.evaluate(h, point, names) - u
        left = np.sign(dm) == np.sign(da)
        a, da = np.where(left, mid, a), np.where(left, dm, da)
        b = np.where(left, b, mid)
    point[:, c] = (a + b) / 2
    point[~ok] = np.nan
    return point
