"""Solving one sub-problem from data: power laws, sparse polynomials, enumerated skeletons.

`solve(X, y, names, *, tol, deadline)` returns `Candidate`s (formula, relative error), best first.
Each solver works on arrays only (no oracle), so a sub-search can run as a Ray task.

- Power laws: y = C * prod x_i^a_i, fitted on logs, exponents snapped to halves.
- Sparse polynomials: least squares over monomials of degree <= 3, terms dropped while the error
  stays within the tolerance.
- Two variables: a sum or ratio of two small formulas fitted linearly (synth.real.basis).
- Skeletons: bottom-up enumeration (synth.real.enumerator) of formulas without constants, each
  judged by how well an affine map of it fits y or a transform of y (1/y, y^2, sqrt y, log y);
  the best few get their constants refitted and snapped.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np

from dsl.ast import Node, size
from synth.real import fit, terms
from synth.real.enumerator import enumerate_skeletons


@dataclass(frozen=True)
class Candidate:
    node: Node
    error: float          # RMSE relative to the RMS of y, on the data it was fitted to
    how: str = ""


def solve(X: np.ndarray, y: np.ndarray, names: Sequence[str], *, tol: float, deadline: float,
          constants: Sequence[float] = (), max_size: int = 9, seed: int = 0,
          quick: bool = True, spread: Callable | None = None, cancel=None) -> list[Candidate]:
    """`quick=False` skips the power law and polynomial fits (the caller has them); `spread`,
    when given, runs the skeleton search in parts (`spread(job, parts, cancel)`, see `skeleton_job`)."""
    found: list[Candidate] = []
    for solver in (power_law, polynomial) if quick else ():
        found.extend(solver(X, y, names, tol=tol, constants=constants))
    if X.shape[1] == 1 and not any(c.error <= tol for c in found):
        found.extend(templates(X, y, names, tol=tol, constants=constants, seed=seed))
    if X.shape[1] == 2 and not any(c.error <= tol and not _unsnapped(c.node) for c in found):
        from synth.real import basis   # a short sum or ratio of small formulas

        found.extend(basis.fits(X, y, names, tol=tol, constants=constants, seed=seed,
                                deadline=deadline))
    # A template passes with a constant that did not snap (a * tanh(1.0285 * x - 1.1) + b
    # follows a Gaussian's flank): skeletons may still find the law.
    if not any(c.error <= tol and not _unsnapped(c.node) for c in found) and time.monotonic() < deadline:
        if spread is not None:
            seconds = deadline - time.monotonic()
            parts = [dict(X=X, y=y, names=list(names), tol=tol, seconds=seconds, constants=list(constants),
                          max_size=max_size, seed=seed, transforms=group) for group in TRANSFORM_GROUPS]
            for part in spread(skeleton_job, parts, cancel):
                found.extend(part)
        else:
            found.extend(skeletons(X, y, names, tol=tol, deadline=deadline, constants=constants,
                                   max_size=max_size, seed=seed, cancel=cancel))
    found.sort(key=lambda c: (c.error > tol, fit.description_length(c.node), c.error))
    return found


def _unsnapped(node: Node) -> int:
    return sum(1 for v in fit.literals(node) if fit.literal_cost(v) >= 30)


def power_law(X, y, names, *, tol, constants=()) -> list[Candidate]:
    return _power_law(X, y, names, tol=tol, constants=constants) + \
        _shifted_power(X, y, names, tol=tol, constants=constants)


def _shifted_power(X, y, names, *, tol, constants=()) -> list[Candidate]:
    """One positive variable: C * x ** a + B, a in halves from -3 to 3 (C and B by least squares;
    a separated part carries the other part's value as an offset: -pi^2 / d^2 + const); for a
    positive y also sqrt(C * x ** a + B) (II.24.17 over its group a = c / (omega d):
    y d = sqrt(1 / a^2 - pi^2))."""
    if X.shape[1] != 1 or not np.all(X > 0):
        return []
    out = []
    for squared in (False, True) if np.all(y > 0) else (False,):
        target = y * y if squared else y
        best = None
        for half in range(-6, 7):
            if half == 0:
                continue
            shape = terms.monomial(names, [Fraction(half, 2)])
            v = fit.evaluate(shape, X, names)
            if not np.all(np.isfinite(v)):
                continue
            A = np.column_stack([v, np.ones(len(y))])
            (c, b), *_ = np.linalg.lstsq(A, target, rcond=None)
            node = terms.add(_scaled(shape, float(c)), terms.num(float(b)))
            if squared:
                node = terms.call("sqrt", node)
            err = fit.error(node, X, y, names)
            if best is None or err < best[1]:
                best = (node, err)
        if best is None or best[1] > tol:
            continue
        node, err = fit.snap(best[0], X, y, names, tol=tol, constants=constants)
        out.append(Candidate(node, err, "power law + constant" + (" (y^2)" if squared else "")))
    return out


def _power_law(X, y, names, *, tol, constants=()) -> list[Candidate]:
    if not (np.all(X > 0) and (np.all(y > 0) or np.all(y < 0))):
        return []
    A = np.column_stack([np.ones(len(y)), np.log(X)])
    coef, *_ = np.linalg.lstsq(A, np.log(np.abs(y)), rcond=None)
    exps = [Fraction(round(2 * a) / 2).limit_denominator(2) for a in coef[1:]]
    if any(abs(float(e) - a) > 0.15 or abs(e) > 6 for e, a in zip(exps, coef[1:])):
        return []
    shape = terms.monomial(names, exps)
    values = fit.evaluate(shape, X, names)
    if not np.all(np.isfinite(values)) or not np.any(values):
        return []
    c = float(np.dot(values, y) / np.dot(values, values))
    node = _scaled(shape, c)
    node, err = fit.snap(node, X, y, names, tol=tol, constants=constants)
    return [Candidate(node, err, "power law")]


def _scaled(shape: Node, c: float) -> Node:
    if c == 1:
        return shape
    lit = terms.num(c)
    if shape.op == "div" if hasattr(shape, "op") else False:
        top, bottom = shape.args
        return terms.div(terms.mul(lit, top), bottom)
    return terms.mul(lit, shape)


def polynomial(X, y, names, *, tol, constants=(), max_terms: int = 84) -> list[Candidate]:
    """Sparse polynomials of y, and of y^2 (the formula is then a square root)."""
    out = _polynomial(X, y, names, tol=tol, constants=constants, max_terms=max_terms)
    if not out and np.all(y > 0):
        inner = _polynomial(X, y ** 2, names, tol=tol, constants=constants, max_terms=max_terms)
        for c in inner:
            node = terms.call("sqrt", c.node)
            node, err = fit.snap(node, X, y, names, tol=tol, constants=constants)
            if err <= tol:
                out.append(Candidate(node, err, "polynomial (y^2)"))
    return out


def _polynomial(X, y, names, *, tol, constants=(), max_terms: int = 84) -> list[Candidate]:
    k = X.shape[1]
    degree = 3 if k <= 4 else 2
    powers = [p for d in range(degree + 1) for p in _exponents(k, d)]
    if len(powers) > max_terms or len(powers) >= len(y) // 2:
        return []
    A = np.column_stack([np.prod(X ** np.array(p), axis=1) for p in powers])
    scale = fit.spread(y)
    keep = list(range(len(powers)))

    def fit_terms(idx):
        coef, *_ = np.linalg.lstsq(A[:, idx], y, rcond=None)
        err = float(np.sqrt(np.mean((A[:, idx] @ coef - y) ** 2)) / scale)
        return coef, err

    coef, err = fit_terms(keep)
    if err > tol:
        return []
    while len(keep) > 1:
        trials = []
        for j in range(len(keep)):
            idx = keep[:j] + keep[j + 1:]
            c, e = fit_terms(idx)
            trials.append((e, j, c))
        e, j, c = min(trials, key=lambda t: t[0])
        if e > tol:
            break
        keep.pop(j)
        coef, err = c, e
    def build(coefs) -> Node:
        node = None
        for c, i in zip(coefs, keep):
            term = terms.monomial(names, [Fraction(p) for p in powers[i]]) if any(powers[i]) else None
            part = (terms.num(float(c)) if term is None else term if c == 1
                    else terms.mul(terms.num(float(c)), term))
            node = part if node is None else terms.add(node, part)
        return node

    node, err = fit.snap(build(coef), X, y, names, tol=tol, constants=constants)
    out = [Candidate(node, err, "polynomial")]
    if len(keep) >= 2:
        # The same terms as K * (lead + r * other ...): the ratios may be simple where the
        # coefficients are not (0.4291 * w0^2 - 0.4286 * w^2 is K * (w0^2 - w^2)).
        lead = int(np.argmax(np.abs(coef) * A[:, keep].std(axis=0)))
        ratios = coef / coef[lead]
        ratios[lead] = 1.0
        shared = terms.mul(terms.num(float(coef[lead])), build(ratios))
        shared, e2 = fit.snap(shared, X, y, names, tol=tol, constants=constants)
        if e2 <= tol:
            out.append(Candidate(shared, e2, "polynomial (common factor)"))
    return out


def _exponents(k: int, d: int):
    for combo in itertools.combinations_with_replacement(range(k), d):
        p = [0] * k
        for i in combo:
            p[i] += 1
        yield tuple(p)


#: Transforms of the target tried by the skeleton search: (name, forward, inverse builder).
TRANSFORMS = (
    ("y", lambda y: y, lambda e: e),
    ("1/y", lambda y: 1 / y, lambda e: terms.div(terms.num(1.0), e)),
    ("y^2", lambda y: y ** 2, lambda e: terms.call("sqrt", e)),
    ("sqrt y", lambda y: np.sqrt(y), lambda e: terms.power(e, 2)),
    ("log y", lambda y: np.log(y), lambda e: terms.call("exp", e)),
    ("1/y^2", lambda y: 1 / y ** 2, lambda e: terms.div(terms.num(1.0), terms.call("sqrt", e))),
    ("sin y", lambda y: np.sin(y), lambda e: terms.call("asin", e)),
    ("cos y", lambda y: np.cos(y), lambda e: terms.call("acos", e)),
    ("exp y", lambda y: np.exp(y), lambda e: terms.call("log", e)),
)
#: The power transforms: inverse(b * (1 + r e)) = scale(b) * inverse(1 + r e).
_SCALE = {"1/y": lambda b: 1 / b, "y^2": math.sqrt, "sqrt y": lambda b: b * b,
          "1/y^2": lambda b: 1 / math.sqrt(b)}


def _normalised(name: str, inverse, node: Node, a: float, b: float, values: np.ndarray) -> Node:
    """inverse(a e + b), written K * inverse(1 + r e) for a power transform when b matters: the
    factor K goes to the caller's refit, and r = a / b alone decides the form (it snaps to -1 in
    m_0 / sqrt(1 - (v / c) ** 2), where a and b themselves are no simple numbers)."""
    scale = _SCALE.get(name)
    if scale is None or abs(b) <= 1e-3 * abs(a) * float(np.sqrt(np.mean(values ** 2))) \
            or (b <= 0 and name in ("y^2", "1/y^2")):
        return inverse(terms.add(terms.mul(terms.num(a), node), terms.num(b)))
    r = a / b
    inner = terms.sub(terms.num(1.0), terms.mul(terms.num(-r), node)) if r < 0 else \
        terms.add(terms.num(1.0), terms.mul(terms.num(r), node))
    return terms.mul(terms.num(scale(b)), inverse(inner))


#: How the skeleton search is split into independent parts (Ray tasks when workers > 1).
TRANSFORM_GROUPS = (("y", "log y", "sin y", "cos y"), ("1/y", "y^2", "sqrt y", "1/y^2", "exp y"))
#: One-variable templates a * f(c * x + d) + b, fitted by scipy from a few starts.
TEMPLATES = ("sin", "cos", "exp", "log", "sqrt", "tan", "atan", "asin", "acos", "tanh", "cosh")


def skeletons(X, y, names, *, tol, deadline, constants=(), max_size=9, seed=0,
              keep: int = 8, transforms: Sequence[str] | None = None, cancel=None) -> list[Candidate]:
    """`transforms`: the names of the TRANSFORMS of y to fit (default all)."""
    targets = []
    for name, forward, inverse in TRANSFORMS:
        if transforms is not None and name not in transforms:
            continue
        with np.errstate(all="ignore"):
            t = forward(y)
        if np.all(np.isfinite(t)) and np.std(t) > 0:
            targets.append((name, (t - t.mean()) / t.std(), t, inverse))
    # The enumeration gets 60 % of the time left; fitting and snapping its best the rest.
    until = time.monotonic() + 0.6 * max(deadline - time.monotonic(), 0.0)
    best = enumerate_skeletons(X, names, [t for _, t, _, _ in targets], deadline=until,
                               max_size=max_size, keep=keep, stop_at=(tol / 4) ** 2, cancel=cancel)
    # Smallest first (a law beats the larger approximants that follow the network's error a
    # little better); only the best few by score get a nonlinear refit.
    refit = {id(b[2]) for b in sorted(best, key=lambda b: b[1])[:3]}
    best.sort(key=lambda b: (size(b[2]), b[1]))
    out: list[Candidate] = []
    for (ti, score, node, values) in best:
        if (time.monotonic() > deadline or (cancel is not None and cancel.is_set())) and out:
            break
        name, _, t, inverse = targets[ti]
        A = np.column_stack([values, np.ones(len(t))])
        (a, b), *_ = np.linalg.lstsq(A, t, rcond=None)
        if name == "log y":     # exp(a e + b) as exp(b) * exp(a e): exp(b) may be simple
            formula = terms.mul(terms.num(float(np.exp(b))),
                                terms.call("exp", terms.mul(terms.num(float(a)), node)))
        else:
            formula = _normalised(name, inverse, node, float(a), float(b), values)
        err = fit.error(formula, X, y, names)
        if not math.isfinite(err):
            continue
        if err > tol and id(node) in refit:
            formula, err = fit.refine(formula, X, y, names, seed=seed)
        if err > 3 * tol:               # not worth snapping: kept for the Pareto table only
            out.append(Candidate(formula, err, f"skeleton ({name})"))
            continue
        formula, err = fit.snap(formula, X, y, names, tol=tol, constants=constants)
        out.append(Candidate(formula, err, f"skeleton ({name})"))
    return out


def templates(X, y, names, *, tol, constants=(), seed=0) -> list[Candidate]:
    """a * f(c * x + d) + b for each one-argument function f, constants fitted jointly from a few
    starts (for each start of c and d, a and b by linear least squares; for the periodic
    functions, about one and two periods over the range). exp has no d (a takes it: a * exp(c x)
    + b) and log no c (b takes it: a * log(d +- x) + b), so that no two constants do one job."""
    from dsl.ast import App
    from dsl.real import literal
    from dsl.types import REAL

    x = terms.var(names[0])
    lo, hi = float(X[:, 0].min()), float(X[:, 0].max())
    width, mid = (hi - lo) or 1.0, (hi + lo) / 2

    def inner_of(f: str, c: float, d: float):
        if f == "exp":
            return App("mul", (literal(c), x), REAL)
        if f == "log":
            return App("add", (x, literal(d)), REAL) if c > 0 else App("sub", (literal(d), x), REAL)
        return App("add", (App("mul", (literal(c), x), REAL), literal(d)), REAL)

    out = []
    for f in TEMPLATES:
        if f in ("sin", "cos", "tan"):
            starts = [(c, -c * mid + d) for c in (1.0, 2 * np.pi / width, np.pi / width, 2.0)
                      for d in (0.0, 1.0)]
        elif f == "exp":
            starts = [(c / width, 0.0) for c in (1.0, -1.0, 3.0, -3.0)]
        elif f == "log":
            starts = [(1.0, -lo + 0.5 * width), (-1.0, hi + 0.5 * width), (1.0, -lo + 0.05 * width)]
        elif f in ("sqrt", "atan"):
            starts = [(c / width, -c * lo / width + d) for c, d in ((1.0, 0.5), (-1.0, 0.5), (3.0, 0.0))]
        elif f in ("tanh", "cosh"):         # through the origin (tanh(k x)), or from the range's start
            starts = [(c / max(abs(lo), abs(hi)), 0.0) for c in (0.5, 1.0, 3.0)] + \
                [(c / width, -c * lo / width) for c in (1.0, 3.0)]
        else:                               # asin, acos: the argument inside [-1, 1]
            starts = [(s * 1.8 / width, -s * 1.8 * mid / width) for s in (1.0, -1.0)]
        for c0, d0 in starts:
            inner = inner_of(f, c0, d0)
            g = fit.evaluate(App(f, (inner,), REAL), X, names)
            if not np.all(np.isfinite(g)) or np.ptp(g) == 0:
                continue
            (a0, b0), *_ = np.linalg.lstsq(np.column_stack([g, np.ones(len(g))]), y, rcond=None)
            start = App("add", (App("mul", (literal(float(a0)), App(f, (inner,), REAL)), REAL),
                                literal(float(b0))), REAL)
            node, err = fit.refine(start, X, y, names, starts=1, seed=seed, max_nfev=60)
            if err <= tol:
                node, err = fit.snap(node, X, y, names, tol=tol, constants=constants)
                out.append(Candidate(terms.tidy(node), err, f"template {f}"))
                break
    return out


def rational(X, y, names, *, tol, constants=()) -> list[Candidate]:
    """One variable: y = P(x) / (1 + Q(x)) with P, Q of degrees (0, 1), (1, 1), (0, 2) (three
    constants at most: with four, a rational follows exp(-0.61 t) within a network's error),
    fitted linearly (y = P(x) - y Q(x)), then refitted and snapped."""
    if X.shape[1] != 1:
        return []
    x = X[:, 0]
    xv = terms.var(names[0])
    out = []
    for p, q in ((0, 1), (1, 1), (0, 2)):
        A = np.column_stack([x ** i for i in range(p + 1)] + [-y * x ** j for j in range(1, q + 1)])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        top: Node = terms.num(float(coef[0]))
        for i in range(1, p + 1):
            top = terms.add(top, terms.mul(terms.num(float(coef[i])), terms.power(xv, i)))
        bottom: Node = terms.num(1.0)
        for j in range(1, q + 1):
            bottom = terms.add(bottom, terms.mul(terms.num(float(coef[p + j])), terms.power(xv, j)))
        node = terms.div(top, bottom)
        err = fit.error(node, X, y, names)
        if not math.isfinite(err) or err > 3 * tol:
            continue
        if err > tol:
            node, err = fit.refine(node, X, y, names, starts=1)
        if err <= tol:
            node, err = fit.snap(node, X, y, names, tol=tol, constants=constants)
            out.append(Candidate(node, err, f"rational [{p}/{q}]"))
    return out


def skeleton_job(part: dict) -> list[Candidate]:
    """One part of the skeleton search, on plain values (what a Ray task receives)."""
    deadline = time.monotonic() + part.pop("seconds")
    X, y, names = part.pop("X"), part.pop("y"), part.pop("names")
    return skeletons(X, y, names, deadline=deadline, **part)
