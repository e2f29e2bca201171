"""Dimensional analysis (Buckingham pi) for the real family, when the spec gives every input and
the output SI units (oracle/units.py).

`solve(spec, root, solver, X, y) -> (formula or None, notes)`, within `SHARE` of the solver's
remaining time: the bases of dimensionless groups (synth/real/buckingham.py, exact rationals),
of the equally simple scalings p the one leaving y / prod x^p the least spread, each group turned
to be at most 1 in the box (v / c), with two or more groups the bases over which a probe finds a
split first; then the reduced problem of each basis in turn until one is within the tolerance.

`reduced(task, analysis, names=...) -> Task` is the problem y / prod x^p = g(pi_1..pi_m) over m
variables: a point of pi-space is mapped back to network inputs inside the training box (random
settings of the other variables, each group solved for its dependent variable, settings with an
input out of range dropped; a linear program in log space when no random one fits) and the
network's answers, divided by prod x^p, are averaged over up to `SETTINGS` settings. Its ranges
are where every point is reachable. `recombine` substitutes the groups back and multiplies by
prod x^p.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from dsl.ast import Node
from synth.real import terms
from synth.real.buckingham import Analysis, Vector, analyse, bases, describe, monomial
from synth.real.task import Task

__all__ = ["Analysis", "analyse", "bases", "describe", "reduced", "recombine", "applies", "solve"]

#: Settings of the free variables averaged per point of pi-space (as `task.merged` does).
SETTINGS = 5
#: Random settings tried per point; those keeping every input in range are used.
CANDIDATES = 96
#: The share of the box's group values left out at each end of a group's range.
TRIM = 0.02
#: Points per axis of the grid that checks a rectangle of two or more groups (at most
#: GRID_POINTS in all).
GRID, GRID_POINTS = 15, 400
#: The share of the solver's remaining time the reduced problem gets.
SHARE = 0.6
#: Bases of two or more groups compared by probes, and how many of them are searched.
CANDIDATE_BASES, TRIED_BASES = 8, 2


def _values(X: np.ndarray, e: Sequence[Fraction]) -> np.ndarray:
    out = np.ones(len(X))
    for c, v in enumerate(e):
        if v:
            out = out * X[:, c] ** float(v)
    return out


def fresh_names(taken: Sequence[str], m: int) -> tuple[str, ...]:
    for prefix in ("pi", "_pi", "_dim"):
        out = tuple(f"{prefix}{j}" for j in range(m))
        if not set(out) & set(taken):
            return out
    raise ValueError(f"no free names for {m} groups among {list(taken)}")


def reduced(task: Task, a: Analysis, *, names: Sequence[str] | None = None, seed: int = 0) -> Task:
    """The task over the groups (see the module's docstring); its query sends the network only
    points inside `task`'s box."""
    lo = np.array([r[0] for r in task.ranges])
    hi = np.array([r[1] for r in task.ranges])
    k = task.k
    free = [c for c in range(k) if c not in a.dependent]

    def settings(P: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(n, CANDIDATES, k) inputs and whether each is inside the box."""
        n = len(P)
        X = lo + rng.random((n, CANDIDATES, k)) * (hi - lo)
        with np.errstate(all="ignore"):
            for j, (g, d) in enumerate(zip(a.groups, a.dependent)):
                rest = np.ones((n, CANDIDATES))
                for c in free:
                    if g[c]:
                        rest = rest * X[:, :, c] ** float(g[c])
                X[:, :, d] = (P[:, j:j + 1] / rest) ** (1.0 / float(g[d]))
            ok = np.all((X >= lo) & (X <= hi), axis=2)
        return X, ok

    def query(P: np.ndarray) -> np.ndarray:
        P = np.asarray(P, np.float64)
        rng = np.random.default_rng(seed)
        X, ok = settings(P, rng)
        n = len(P)
        # the first SETTINGS valid candidates of each point; a point with none takes the
        # candidate nearest the box (in log space), clipped into it
        rank = np.cumsum(ok, axis=1)
        use = ok & (rank <= SETTINGS)
        for i in np.flatnonzero(~ok.any(axis=1)):
            # no random setting fits: the one of a linear program in log space (the setting
            # farthest inside the box); a point of pi-space the box cannot reach at all gets
            # the nearest clipped into the box
            found = _setting(P[i], a, lo, hi, free)
            X[i, 0] = np.clip(X[i, 0] if found is None else found, lo, hi)
            use[i, 0] = True
        rows = X[use]
        values = task.query(rows) / _values(rows, a.p)
        total = np.zeros(n)
        np.add.at(total, np.nonzero(use)[0], values)
        return total / use.sum(axis=1)

    names = tuple(names) if names is not None else fresh_names(task.names, a.m)
    ranges = _ranges(task, a, settings)
    return Task(names, ranges, query)


def _setting(pi: np.ndarray, a: Analysis, lo: np.ndarray, hi: np.ndarray,
             free: list[int]) -> np.ndarray | None:
    """Inputs with the groups' values `pi` inside the box, by a linear program in the logs of
    the free variables that maximises the least margin to the box's faces (None when the box
    has no such point)."""
    from scipy.optimize import linprog

    r = len(free)
    llo, lhi = np.log(lo), np.log(hi)
    rows, bounds = [], []
    for c_pos, c in enumerate(free):        # llo_c <= z_c <= lhi_c
        e = np.zeros(r)
        e[c_pos] = 1.0
        rows += [(e, lhi[c]), (-e, -llo[c])]
    for j, (g, d) in enumerate(zip(a.groups, a.dependent)):
        # log x_d = (log pi_j - sum g_c z_c) / g_d, within [llo_d, lhi_d]
        e = -np.array([float(g[c]) for c in free]) / float(g[d])
        base = np.log(pi[j]) / float(g[d])
        rows += [(e, lhi[d] - base), (-e, base - llo[d])]
    A = np.array([np.append(e, 1.0) for e, _ in rows])
    b = np.array([v for _, v in rows])
    bounds = [(None, None)] * r + [(None, 10.0)]
    res = linprog(np.append(np.zeros(r), -1.0), A_ub=A, b_ub=b, bounds=bounds, method="highs")
    if res.status != 0 or res.x[-1] < -1e-12:
        return None
    x = np.zeros(len(lo))
    z = res.x[:r]
    for c_pos, c in enumerate(free):
        x[c] = math.exp(z[c_pos])
    for j, (g, d) in enumerate(zip(a.groups, a.dependent)):
        rest = sum(float(g[c]) * z[c_pos] for c_pos, c in enumerate(free))
        x[d] = math.exp((math.log(pi[j]) - rest) / float(g[d]))
    return x


def _ranges(task: Task, a: Analysis, settings) -> tuple[tuple[float, float], ...]:
    """Each group's central values over the box (2 % left out at each end); for two or more
    groups, the rectangle of those is narrowed face by face until every point of a grid over it
    has a setting inside the box (the groups' values the box reaches are not a rectangle: u t / x
    and u / c of I.15.3x's box reach [0.2, 0.8] x [0.1, 0.67], not all of [0.1, 0.8] x [0.05, 0.67])."""
    rng = np.random.default_rng(0)
    lo = np.array([r[0] for r in task.ranges])
    hi = np.array([r[1] for r in task.ranges])
    X = lo + rng.random((4000, task.k)) * (hi - lo)
    P = np.column_stack([_values(X, g) for g in a.groups])
    low, high = np.quantile(P, [TRIM, 1 - TRIM], axis=0)
    if a.m == 1:
        return ((float(low[0]), float(high[0])),)
    size = max(3, min(GRID, int(round(GRID_POINTS ** (1 / a.m)))))
    axes = [np.linspace(l_, h_, size) for l_, h_ in zip(low, high)]
    grid = np.array(list(itertools.product(*axes)))
    _, ok = settings(grid, rng)
    free = [c for c in range(task.k) if c not in a.dependent]
    good = np.array([ok[i].any() or _setting(grid[i], a, lo, hi, free) is not None
                     for i in range(len(grid))]).reshape((size,) * a.m)
    box = [[0, size - 1] for _ in range(a.m)]      # index ranges kept along each axis
    while True:
        part = good[tuple(slice(b0, b1 + 1) for b0, b1 in box)]
        if part.all():
            break
        # drop the face with the largest share of unreachable points
        worst, face = -1.0, None
        for d in range(a.m):
            if box[d][1] - box[d][0] < 2:
                continue
            for end, at in ((0, 0), (1, -1)):
                share = 1 - np.take(part, at, axis=d).mean()
                if share > worst:
                    worst, face = share, (d, end)
        if face is None:
            break
        d, end = face
        box[d][end] += 1 if end == 0 else -1
    return tuple((float(axes[d][box[d][0]]), float(axes[d][box[d][1]])) for d in range(a.m))


def recombine(node: Node, a: Analysis, names: Sequence[str], group_names: Sequence[str]) -> Node:
    """g(pi) with the groups substituted back, times prod x^p."""
    whole = terms.substitute(node, {n: monomial(names, g) for n, g in zip(group_names, a.groups)})
    return terms.mul(whole, monomial(names, a.p)) if any(a.p) else whole


def applies(spec: Any) -> bool:
    """Every input and the output have units, and every input range is positive."""
    from oracle.units import all_units

    return all_units(spec) and all(i.lo > 0 for i in spec.inputs)


def solve(spec: Any, root: Task, solver: Any, X: np.ndarray, y: np.ndarray) -> tuple[Node | None, list[str]]:
    """The recombined formula of the reduced problem (None when there is none or no reduction),
    and notes for the report. The reduced search gets `SHARE` of the solver's remaining time."""
    from oracle.units import exponents
    from synth.real import fit

    names = root.names
    found = bases(names, [exponents(i.units) for i in spec.inputs], exponents(spec.output.units),
                  limit=CANDIDATE_BASES)
    found = [_oriented(root, _scaled(b, X, y)) for b in found]
    a = found[0] if found else None
    if a is None:
        return None, ["dimensional analysis: the output's units are no product of the inputs' "
                      "(the units are inconsistent); not used"]
    if any(v.denominator > 2 for v in a.p) or a.m == root.k:
        why = "no group reduces the inputs" if a.m == root.k else "the output's exponents are not halves"
        return None, [f"{describe(a, names)} ({why}; not used)"]
    notes = [describe(a, names)]
    if a.m == 0:
        scale = _values(X, a.p)
        c = float(np.dot(scale, y) / np.dot(scale, scale))
        return terms.mul(terms.num(c), monomial(names, a.p)), notes
    until = time.monotonic() + SHARE * max(solver.deadline - time.monotonic(), 0.0)
    found = _ranked(root, found, solver)[:TRIED_BASES]
    notes = [describe(found[0], names)]
    best, best_err = None, math.inf
    for n, basis in enumerate(found):
        if n:
            notes.append(f"{describe(basis, names)} (the basis before missed the tolerance)")
        deadline = time.monotonic() + (until - time.monotonic()) / (len(found) - n)
        node = _solve_reduced(root, basis, solver, deadline)
        err = fit.error(node, X, y, names) if node is not None else math.inf
        if err < best_err:
            best, best_err = node, err
        if best_err <= solver.tol or time.monotonic() >= until:
            break
    return best, notes


def _scaled(a: Analysis, X: np.ndarray, y: np.ndarray) -> Analysis:
    """Of the equally simple p, the one for which y / prod x^p varies least over the data (m c^2
    for m c^2 / sqrt(1 - v^2/c^2): what is left is between 1 and 1.35, where over m v^2 it
    spans 2 to 100)."""
    if len(a.scalings) < 2:
        return a

    def spread(p: Vector) -> float:
        with np.errstate(all="ignore"):
            r = np.log(np.abs(y / _values(X, p)))
        r = r[np.isfinite(r)]
        return float(np.std(r)) if len(r) else math.inf
    return dataclasses.replace(a, p=min(a.scalings, key=spread))


def _oriented(root: Task, a: Analysis) -> Analysis:
    """Each group turned so that its typical value in the box is at most 1 (u / c, not c / u;
    u t / x where x is larger than u t): the search's forms (sqrt(1 - u^2), 1 - u) are written
    for such values."""
    rng = np.random.default_rng(1)
    lo = np.array([r[0] for r in root.ranges])
    hi = np.array([r[1] for r in root.ranges])
    X = lo + rng.random((500, root.k)) * (hi - lo)
    groups = tuple(tuple(-v for v in g) if np.median(_values(X, g)) > 1 else g for g in a.groups)
    return dataclasses.replace(a, groups=groups)


def _carried(root: Task, a: Analysis, solver: Any) -> float:
    """The root's scale carried over to g = y / prod x^p: the network's absolute error on g
    (noise * scale) is the root's divided by prod x^p (its RMS over the box) and by the square
    root of SETTINGS for the average, as a sub-task of a split keeps the root's error: the
    reduced problem's tolerances follow from it."""
    rng = np.random.default_rng(2)
    lo = np.array([r[0] for r in root.ranges])
    hi = np.array([r[1] for r in root.ranges])
    X = lo + rng.random((400, root.k)) * (hi - lo)
    return solver.scale * float(np.sqrt(np.mean(_values(X, a.p) ** -2.0))) / math.sqrt(SETTINGS)


def _ranked(root: Task, found: list[Analysis], solver: Any) -> list[Analysis]:
    """Bases of two or more groups, those over which the reduced problem separates (a product
    or a sum of a function of one group and one of the rest: (1 - u t / x) / sqrt(1 - (u/c)^2)
    over u t / x and u / c, not over x / (c t) and u / c) first, then the simplest."""
    from synth.real import probes

    if len(found) < 2 or found[0].m < 2:
        return found
    scored = []
    for n, a in enumerate(found):
        task = reduced(root, a, seed=solver.seed)
        _, y = task.sample(100, np.random.default_rng(solver.seed))
        if not np.all(np.isfinite(y)):
            continue
        sigma = solver.noise * _carried(root, a, solver)
        tests = [probes.separable(task, [j], kind, noise=sigma, seed=solver.seed)
                 for kind in ("mul", "add") for j in range(a.m)]
        scored.append((not any(t.present for t in tests), n, a))
    return [a for *_, a in sorted(scored, key=lambda t: t[:2])] or found


def _solve_reduced(root: Task, a: Analysis, solver: Any, deadline: float) -> Node | None:
    """The formula over the inputs from the reduced problem of basis `a`, searched until
    `deadline` (None when it is not finite or the search finds nothing)."""

    names = root.names
    group_names = fresh_names(names, a.m)
    task = reduced(root, a, names=group_names, seed=solver.seed)
    rng = np.random.default_rng(solver.seed + 777)
    Xr, yr = task.sample(400, rng)
    if not np.all(np.isfinite(yr)):
        return None
    sub = dataclasses.replace(solver, scale=_carried(root, a, solver), deadline=deadline, findings=[],
                              alternatives=[], fresh=0)
    node = sub.solve(task)
    solver.findings.extend(sub.findings)
    solver.alternatives.extend((recombine(n, a, names, group_names), f"{how}, dimensional analysis")
                               for n, how in sub.alternatives)
    return recombine(node, a, names, group_names) if node is not None else None
