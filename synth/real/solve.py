"""The recursive solver: probes split a task into smaller ones, leaves are solved from data.

`Solver.solve(task)` returns a formula over the task's variables (or None): first the quick fits
(power law, sparse polynomial) on a sample of the task; then, with two or more variables, the
first symmetry found (a task with one variable fewer, its formula with the pair substituted back)
or the first separable split ({x_i} against the rest, products before sums; each side solved with
the other side held at the middle of its range, the two recombined with constants refitted);
last, the skeleton search on what is left of the budget.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from dsl.ast import Node
from synth.real import compose, fit, leaf, probes, terms
from synth.real.task import Task, joined, merged

log = logging.getLogger("netsynth.real")

#: The loosest relative tolerance a sub-task gets: the root's absolute error over a part whose
#: spread is small (1 / sqrt(1 - u^2) for u in [0.1, 0.67] spans 0.34 on a level near 1.2) is
#: a few per cent of that part's spread.
SUB_TOL_CAP = 0.05
#: When no formula is within the tolerance, those within this many tolerances of the closest
#: one's error compete by length.
NEAR_MISS = 0.5
#: Bits a formula gains each time its error halves, among those within the tolerance.
ERROR_BITS = 10.0
#: The largest skeletons searched while time is left.
LARGEST = 13
#: Seconds of small-skeleton search beside quick fits that already pass, on one or two variables.
QUICK_SKELETONS = 10.0


class Cancelled(Exception):
    pass


@dataclass
class Solver:
    noise: float                       # the root task's calibrated relative error
    scale: float                       # the spread (standard deviation) of the root's values
    deadline: float
    constants: Sequence[float] = ()
    seed: int = 0
    sample: int = 300
    cancel: object = None
    report: Callable[[str, str | None], None] = lambda phase, best: None
    # runs independent parts elsewhere (Ray) when given: spread(job, parts, cancel) -> results
    # (skeleton parts, synth/real/leaf.py; the two sides of a separable split, `branch_job`)
    spread: Callable | None = None
    branch_tasks: int = 0              # separable splits' sides solved as Ray tasks
    shipped_points: int = 0            # network points those tasks queried
    findings: list = field(default_factory=list)
    alternatives: list = field(default_factory=list)   # (node, error) at the root's leaf solve
    fresh: int = 0
    transformed: bool = False          # a transformed task's solver: no transform of a transform

    @property
    def tol(self) -> float:
        return max(2.5 * self.noise, 1.5e-3)

    @property
    def sigma(self) -> float:
        """The network's absolute error: what probes compare with."""
        return self.noise * self.scale

    def tol_for(self, y: np.ndarray) -> float:
        """A sub-task's relative tolerance: the root's absolute one over its own spread."""
        return float(np.clip(self.tol * self.scale / fit.spread(y), self.tol, SUB_TOL_CAP))

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()

    def solve(self, task: Task, depth: int = 0, context: str | None = None) -> Node | None:
        """`context`: "mul" or "add" when the formula is one side of a product or a sum, whose
        leading factor (and, for a sum, offset) is refitted when the sides are recombined: the
        length that compares candidates leaves those out (C / v^2 + B against 332 * exp(...))."""
        self.check()

        def bits(node: Node) -> float:
            return fit.description_length(_strip(node, offsets=context == "add") if context else node)

        def cost(c: leaf.Candidate) -> float:
            # Within the tolerance, errors still differ: ERROR_BITS per halving of the error
            # (1 / sqrt(tanh(log(sqrt(u))) / 9) at 0.0013 against a formula 1.5 bits shorter at
            # 0.0127).
            return bits(c.node) + ERROR_BITS * np.log2(max(c.error, tol / 100))

        rng = np.random.default_rng(self.seed + depth)
        X, y = task.sample(self.sample, rng)
        if not np.all(np.isfinite(y)):
            return None
        tol = self.tol_for(y)
        quick = leaf.power_law(X, y, task.names, tol=tol, constants=self.constants) + \
            leaf.polynomial(X, y, task.names, tol=tol, constants=self.constants) + \
            leaf.rational(X, y, task.names, tol=tol, constants=self.constants)
        # Tight: a fit is taken at once only within the root's tolerance and with at most one
        # constant that did not snap (a cubic follows any smooth curve with four free ones).
        good = [c for c in quick if c.error <= tol and _free_constants(c.node) <= 1]
        if depth == 0:
            self.alternatives.extend((c.node, c.how) for c in quick)
        if good and task.k <= 2 and time.monotonic() < self.deadline:
            # A quick fit's constants snap easily (a rational of degree (0, 2) follows
            # 1 / sqrt(1 - u^2) within a network's error): small skeletons compete by length.
            until = time.monotonic() + min(QUICK_SKELETONS, (self.deadline - time.monotonic()) / 4)
            good += [c for c in leaf.skeletons(X, y, task.names, tol=tol, deadline=until,
                                               constants=self.constants, max_size=5, seed=self.seed,
                                               cancel=self.cancel) if c.error <= tol]
        if good:
            for c in sorted(good, key=cost)[:5]:
                log.debug("%s  candidate %.1f bits, error %.3g: %s", "  " * depth, bits(c.node), c.error, _Shown(c.node))
            best = min(good, key=cost)
            log.debug("%s%s: quick fit %s (%s, error %.3g)", "  " * depth, task.names, _Shown(best.node), best.how, best.error)
            return best.node
        if np.ptp(y) <= 3 * self.sigma:  # constant here
            return terms.num(float(np.mean(y)))
        if task.k >= 2 and time.monotonic() < self.deadline:
            found = self._separable(task, depth, X, y) or self._symmetry(task, depth, context) \
                or self._transformed(task, depth, y) or self._homogeneous(task, depth, context) \
                or compose.split(self, task, depth, context)
            if found is not None:
                return found
        self.report("skeletons", None)
        left = self.deadline - time.monotonic()
        budget = time.monotonic() + max(left / (2 if depth else 1), 1.0)
        largest = 9 if task.k <= 3 else 7
        cands = leaf.solve(X, y, task.names, tol=tol, deadline=budget,
                           constants=self.constants, seed=self.seed, max_size=largest,
                           quick=False, spread=self.spread, cancel=self.cancel)
        # Time left and nothing within the tolerance: larger formulas (each level is sampled,
        # LEVEL_CAP formulas at most, so a larger size is a wider search, not an endless one).
        while not any(c.error <= tol for c in cands) and largest < LARGEST and \
                budget - time.monotonic() > 10:
            self.check()
            largest += 2
            cands += leaf.solve(X, y, task.names, tol=tol, deadline=budget, constants=self.constants,
                                seed=self.seed, max_size=largest, quick=False, spread=self.spread,
                                cancel=self.cancel)
        self.check()
        # Within the tolerance, the least cost (length, and error by ERROR_BITS); otherwise the
        # least cost among those within half a tolerance of the closest (asin(w) near w = 1,
        # where the network is least accurate, misses by a little more than a long formula that
        # follows the network's error there).
        cands = cands + quick
        finite = [c.error for c in cands if np.isfinite(c.error)]
        near = min(finite) + tol * NEAR_MISS if finite else tol
        cands = sorted(cands, key=lambda c: (c.error > near, cost(c) if c.error <= near else c.error))
        if depth == 0:
            self.alternatives.extend((c.node, c.how) for c in cands)
        if cands:
            log.debug("%s%s: leaf %s (%s, error %.3g, tol %.3g)", "  " * depth, task.names, _Shown(cands[0].node),
                      cands[0].how, cands[0].error, tol)
        return cands[0].node if cands else None

    # ---- symmetries ------------------------------------------------------------------------
    def _symmetry(self, task: Task, depth: int, context: str | None = None) -> Node | None:
        for i, j in itertools.combinations(range(task.k), 2):
            for kind in probes.PAIRS:
                self.check()
                for a, b in ((i, j),):
                    f = probes.symmetry(task, a, b, kind, noise=self.sigma, seed=self.seed)
                    if not f.present:
                        continue
                    self.findings.append(f)
                    log.debug("%s%s: %s", "  " * depth, task.names, f.describe())
                    self.fresh += 1
                    name = f"_u{self.fresh}"
                    sub = self.solve(_trimmed(merged(task, a, b, kind, name), task, a, b, kind),
                                     depth + 1, context)
                    if sub is None:
                        return None
                    return terms.substitute(sub, {name: joined(kind, task.names[a], task.names[b])})
        return None

    # ---- separability ----------------------------------------------------------------------
    def _separable(self, task: Task, depth: int, X: np.ndarray, y: np.ndarray) -> Node | None:
        for kind in ("mul", "add"):
            for i in range(task.k):
                self.check()
                f = probes.separable(task, [i], kind, noise=self.sigma, seed=self.seed)
                if not f.present:
                    continue
                self.findings.append(f)
                log.debug("%s%s: %s", "  " * depth, task.names, f.describe())
                rest = [c for c in range(task.k) if c != i]
                at = _anchor(task, X, y) if kind == "mul" else task.middle()
                g, h = self._sides([task.fixing([i], at, average=kind, seed=self.seed),
                                    task.fixing(rest, at, average=kind, seed=self.seed + 1)], depth + 1, kind)
                if g is None or h is None:
                    return None
                return self._combine(kind, g, h, X, y, task.names)
        return None

    def _homogeneous(self, task: Task, depth: int, context: str | None = None) -> Node | None:
        """f = x_j^p g(x_i / x_j, rest) (`probes.homogeneous`): the task over u = x_i / x_j and
        the rest, of f / x_j^p, is solved; its formula times x_j^p. A pair homogeneous one way is
        the other way too (with another g): the way whose g small skeletons follow more closely
        is taken (a Gaussian's density is sigma^-1 exp(-u^2 / 2) / sqrt(2 pi) with u = theta /
        sigma, and theta^-1 times a longer function of sigma / theta)."""
        for a, b in itertools.combinations(range(task.k), 2):
            ways = []
            for i, j in ((a, b), (b, a)):
                self.check()
                f, p = probes.homogeneous(task, i, j, noise=self.sigma, seed=self.seed)
                if f.present:
                    ways.append((i, j, p, f))
            if not ways:
                continue
            self.fresh += 1
            name = f"_u{self.fresh}"
            subs = [_trimmed(merged(task, i, j, "div", name, power=p), task, i, j, "div") for i, j, p, _ in ways]
            pick = 0 if len(ways) == 1 else int(np.argmin([self._closeness(t) for t in subs]))
            i, j, p, f = ways[pick]
            self.findings.append(f)
            log.debug("%s%s: %s", "  " * depth, task.names, f.describe())
            sub = self.solve(subs[pick], depth + 1, "mul")
            if sub is None:
                return None
            factor = terms.var(task.names[j]) if p == 1 else \
                terms.monomial([task.names[j]], [Fraction(p).limit_denominator(2)])
            return terms.mul(terms.substitute(sub, {name: joined("div", task.names[i], task.names[j])}), factor)
        return None

    def _closeness(self, task: Task, seconds: float = 4.0) -> float:
        """The relative error of the closest small skeleton (5 nodes) to the task's values."""
        X, y = task.sample(self.sample, np.random.default_rng(self.seed))
        if not np.all(np.isfinite(y)):
            return np.inf
        until = time.monotonic() + min(seconds, max(self.deadline - time.monotonic(), 0.0) / 8)
        found = leaf.skeletons(X, y, task.names, tol=self.tol_for(y), deadline=until, max_size=5,
                               seed=self.seed, cancel=self.cancel)
        return min((c.error for c in found), default=np.inf)

    def _sides(self, tasks: list[Task], depth: int, kind: str) -> list[Node | None]:
        """Each side of a separable split solved: in turn here, or side by side as Ray tasks
        (`branch_job`) when the solver has `spread`; each side has until the deadline."""
        if self.spread is None:
            first = self.solve(tasks[0], depth, kind)
            return [first, self.solve(tasks[1], depth, kind) if first is not None else None]
        self.report("branches", None)
        left = self.deadline - time.monotonic()
        settings = dict(noise=self.noise, scale=self.scale, constants=tuple(self.constants),
                        seed=self.seed, sample=self.sample)
        parts = [{"task": t, "depth": depth, "context": kind, "seconds": left,
                  "fresh": self.fresh + 1000 * (n + 1) * (depth + 1), "settings": settings}
                 for n, t in enumerate(tasks)]
        out = []
        for node, findings, tasks_run, points in self.spread(branch_job, parts, self.cancel):
            out.append(node)
            self.findings.extend(findings)
            self.branch_tasks += 1 + tasks_run
            self.shipped_points += points
        self.check()
        return out

    def _transformed(self, task: Task, depth: int, y: np.ndarray) -> Node | None:
        """1/y, y^2 or 1/y^2 a sum of a function of x_i and one of the rest (I.27.6: 1/y = 1/d1 +
        n/d2; II.24.17: y^2 = omega^2/c^2 - pi^2/d^2; v / sqrt(1 - v^2/c^2): 1/y^2 = 1/v^2 -
        1/c^2): the transformed task is solved, then inverted."""
        if self.transformed or depth > 6 or not (np.all(y > 0) or np.all(y < 0)):
            return None
        sign = 1.0 if y[0] > 0 else -1.0
        for name, fwd, inverse in (("1/y", lambda v: 1 / v, lambda e: terms.div(terms.num(sign), e)),
                                   ("y^2", lambda v: v * v,
                                    lambda e: terms.mul(terms.num(sign), terms.call("sqrt", e))),
                                   ("1/y^2", lambda v: 1 / (v * v),
                                    lambda e: terms.div(terms.num(sign), terms.call("sqrt", e)))):
            inner = Task(task.names, task.ranges, lambda Z, f=fwd: f(task.query(Z)))
            scale = fit.spread(fwd(y))
            for i in range(task.k):
                self.check()
                f = probes.separable(inner, [i], "add", noise=self.noise * scale * 2, seed=self.seed)
                if not f.present:
                    continue
                sub = Solver(noise=self.noise * 2, scale=scale, deadline=self.deadline,
                             constants=self.constants, seed=self.seed, cancel=self.cancel,
                             report=self.report, spread=self.spread, transformed=True)
                node = sub.solve(inner, depth + 1)
                if node is None:
                    return None
                self.findings.append(f)
                return inverse(node)
        return None

    def _combine(self, kind: str, g: Node, h: Node, X, y, names) -> Node | None:
        """g * h or g + h with constants refitted by linear least squares on the task's data (the
        points where both sides are defined: a side solved on a trimmed range may not be defined
        everywhere); None when the sides are defined at fewer than half of the points."""
        g, h = _strip(g, offsets=kind == "add"), _strip(h, offsets=kind == "add")
        vg, vh = fit.evaluate(g, X, names), fit.evaluate(h, X, names)
        ok = np.isfinite(vg) & np.isfinite(vh)
        if ok.sum() < len(y) / 2:
            return None
        X, y, vg, vh = X[ok], y[ok], vg[ok], vh[ok]
        if kind == "mul":
            v = vg * vh
            c = float(np.dot(v, y) / np.dot(v, v)) if np.dot(v, v) > 0 else np.nan
            if not np.isfinite(c):
                return None
            node = terms.mul(terms.num(c), terms.mul(g, h))
        else:
            A = np.column_stack([vg, vh, np.ones(len(y))])
            (a, b, c), *_ = np.linalg.lstsq(A, y, rcond=None)
            node = terms.add(terms.add(terms.mul(terms.num(float(a)), g),
                                       terms.mul(terms.num(float(b)), h)), terms.num(float(c)))
        node, _ = fit.snap(node, X, y, names, tol=self.tol_for(y), constants=self.constants)
        return node


def branch_job(part: dict) -> tuple[Node | None, list, int, int]:
    """A Ray task: one side of a separable split, solved by a solver of the caller's settings
    until the caller's deadline (its oracle was sent as its spec and model, `Oracle.__reduce__`);
    its formula, the probes' findings, the branch tasks it ran in turn and the network points it
    queried."""
    from oracle.core import shipped_points
    from synth.real import _ray_map

    before = shipped_points()
    solver = Solver(**part["settings"], deadline=time.monotonic() + part["seconds"],
                    fresh=part["fresh"], spread=_ray_map())
    node = solver.solve(part["task"], part["depth"], part["context"])
    return node, solver.findings, solver.branch_tasks, shipped_points() - before + solver.shipped_points


def _anchor(task: Task, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Where a product's sides are held while the other is solved: the middle of the box, unless
    f is small there (kappa * (T2 - T1) * A / d is 0 wherever T1 = T2, and a side held there is
    all noise); then the sample point nearest the middle among those where |f| is at least half
    its largest value in the inner part of the box."""
    mid = task.middle()
    lo = np.array([r[0] for r in task.ranges])
    width = np.array([r[1] - r[0] for r in task.ranges])
    unit = (X - lo) / width
    inner = np.all((unit > 0.15) & (unit < 0.85), axis=1)
    size = np.abs(y[inner]) if inner.any() else np.abs(y)
    big = size.max() if len(size) else 0.0
    at_mid = np.abs(task.query(mid[None, :]))[0]
    if big == 0 or at_mid >= 0.5 * big:
        return mid
    pool, values = (X[inner], size) if inner.any() else (X, size)
    ok = values >= 0.5 * big
    distance = np.linalg.norm((pool[ok] - mid) / width, axis=1)
    return pool[ok][int(np.argmin(distance))]


#: The share of the box left out at each end of a merged variable's range.
TRIM = 0.01


def _trimmed(sub: Task, task: Task, a: int, b: int, kind: str) -> Task:
    """The merged task over the central 98 % of its variable's values in the box: its ends are
    reached only at a corner (lambd / (d * n) = 1 at one point of I.30.5's box), where the level
    set is a point, nothing averages, and the network is least accurate."""
    import dataclasses

    rng = np.random.default_rng(0)
    lo = np.array([r[0] for r in task.ranges])
    hi = np.array([r[1] for r in task.ranges])
    X = lo + rng.random((4000, task.k)) * (hi - lo)
    with np.errstate(all="ignore"):
        u = {"sub": np.subtract, "add": np.add, "div": np.divide, "mul": np.multiply}[kind](X[:, a], X[:, b])
    u = u[np.isfinite(u)]
    i = a if a < b else a - 1
    if len(u) < 100:
        return sub
    low, high = np.quantile(u, [TRIM, 1 - TRIM])
    ranges = list(sub.ranges)
    ranges[i] = (max(ranges[i][0], float(low)), min(ranges[i][1], float(high)))
    return dataclasses.replace(sub, ranges=tuple(ranges))


class _Shown:
    """A formula shown as DSL text only when a log line is written."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def __str__(self) -> str:
        from dsl.language import get_dsl

        return get_dsl("real").show(self.node)


def _strip(node: Node, offsets: bool = True) -> Node:
    """A formula without its leading constant factor or (with `offsets`) its additive constant:
    they are refitted. A product keeps its factors' offsets: beta * (1 + alpha * cos(theta))."""
    from dsl.ast import App, Const

    while isinstance(node, App):
        if node.op == "mul" and isinstance(node.args[0], Const):
            node = node.args[1]
        elif node.op == "div" and isinstance(node.args[0], App) and node.args[0].op == "mul" \
                and isinstance(node.args[0].args[0], Const):
            node = App("div", (node.args[0].args[1], node.args[1]), node.type)
        elif offsets and node.op in ("add", "sub") and isinstance(node.args[1], Const):
            node = node.args[0]
        elif node.op == "neg":
            node = node.args[0]
        else:
            break
    return node


def _free_constants(node: Node) -> int:
    return sum(1 for v in fit.literals(node) if fit.literal_cost(v) >= 30)
