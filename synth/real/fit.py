"""Constants: fitting them to data and snapping them to simple values.

- `evaluate(node, X, names)`: a real program's values at the rows of X (NaN where undefined).
- `refine(node, X, y, names)`: every free real literal of `node` becomes a parameter, fitted jointly
  by scipy's least squares from the literals' current values (and a few other starts); the
  literals are replaced by the fitted values.
- `snap(node, X, y, names, tol)`: each literal in turn is replaced by the simplest nearby value (a
  small rational, a rational multiple of pi or 1/pi, a spec constant) when the fit stays as good.

Exponents of `x ** n` are integers and never fitted.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from dsl.ast import App, Const, Node, Var
from dsl.evaluate import evaluate as dsl_evaluate
from dsl.language import get_dsl
from dsl.real import literal
from dsl.types import INT, REAL

DSL = "real"


def real_dsl():
    return get_dsl(DSL)


def evaluate(node: Node, X: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Values of `node` at the rows of X (columns named `names`); NaN where not finite."""
    env = {n: X[:, i] for i, n in enumerate(names)}
    result = dsl_evaluate(node, env, dsl=real_dsl())
    values = result.values.astype(np.float64)
    values[result.bad] = np.nan
    return values


def error(node: Node, X: np.ndarray, y: np.ndarray, names: Sequence[str]) -> float:
    """RMSE of `node` against y, relative to y's standard deviation (its RMS if y is constant),
    as the networks' training error is measured; inf if any point is undefined."""
    p = evaluate(node, X, names)
    if not np.all(np.isfinite(p)):
        return math.inf
    return float(np.sqrt(np.mean((p - y) ** 2)) / spread(y))


def spread(y: np.ndarray) -> float:
    return float(np.std(y)) or float(np.sqrt(np.mean(y ** 2))) or 1.0


def literals(node: Node) -> list[float]:
    """The real literals of `node`, in a fixed (pre-order) order."""
    out: list[float] = []

    def walk(n: Node) -> None:
        if isinstance(n, Const) and n.type == REAL:
            out.append(float(n.value))
        elif isinstance(n, App):
            for a in n.args:
                walk(a)
    walk(node)
    return out


def with_literals(node: Node, values: Sequence[float]) -> Node:
    """`node` with its real literals replaced, in `literals` order."""
    it = iter(values)

    def walk(n: Node) -> Node:
        if isinstance(n, Const) and n.type == REAL:
            return literal(next(it))
        if isinstance(n, App):
            return App(n.op, tuple(walk(a) for a in n.args), n.type)
        return n
    return walk(node)


def refine(node: Node, X: np.ndarray, y: np.ndarray, names: Sequence[str], *,
           starts: int = 3, seed: int = 0, max_nfev: int = 100) -> tuple[Node, float]:
    """Fit every real literal jointly (least squares, relative to y's RMS); return the best node
    and its relative error."""
    from scipy.optimize import least_squares

    x0 = np.array(literals(node))
    best = (node, error(node, X, y, names))
    if x0.size == 0:
        return best
    scale = spread(y)
    env = {n: X[:, i] for i, n in enumerate(names)}
    params = [Var(f"$fit{i}", REAL) for i in range(x0.size)]
    skeleton = with_literal_nodes(node, params)
    dsl = real_dsl()

    def residual(theta: np.ndarray) -> np.ndarray:
        local = dict(env)
        for p, t in zip(params, theta):
            local[p.name] = np.full(len(y), t)
        r = dsl_evaluate(skeleton, local, dsl=dsl)
        out = (r.values - y) / scale
        out[r.bad | ~np.isfinite(out)] = 1e3
        return out

    rng = np.random.default_rng(seed)
    tries = [x0] + [x0 * rng.choice([-2.0, -1.0, 0.5, 2.0], size=x0.size) + rng.normal(0, 0.1, x0.size)
                    for _ in range(starts - 1)]
    for start in tries:
        try:
            fit = least_squares(residual, start, method="lm" if x0.size <= len(y) else "trf",
                                max_nfev=max_nfev * (x0.size + 1))
        except (ValueError, FloatingPointError):
            continue
        if not np.all(np.isfinite(fit.x)):
            continue
        candidate = with_literals(node, fit.x)
        e = error(candidate, X, y, names)
        if e < best[1]:
            best = (candidate, e)
    return best


def with_literal_nodes(node: Node, replacements: Sequence[Node]) -> Node:
    it = iter(replacements)

    def walk(n: Node) -> Node:
        if isinstance(n, Const) and n.type == REAL:
            return next(it)
        if isinstance(n, App):
            return App(n.op, tuple(walk(a) for a in n.args), n.type)
        return n
    return walk(node)


# ---- snapping ---------------------------------------------------------------------------------

#: (factor, extra bits): a snapped constant is a small rational times one of these.
FACTORS = ((1.0, 0.0), (math.pi, 2.0), (1 / math.pi, 2.5), (math.pi ** 2, 3.0),
           (1 / math.pi ** 2, 3.5), (math.sqrt(math.pi), 4.0), (1 / math.sqrt(math.pi), 4.0),
           (math.sqrt(2 * math.pi), 4.0), (1 / math.sqrt(2 * math.pi), 4.0),
           (math.sqrt(2), 3.0), (1 / math.sqrt(2), 3.5))


#: Snapped values whose description lengths are within this many bits of the simplest one that
#: fits count as about as simple, and one of them replaces the simplest when it fits the data
#: clearly better (CLEARLY: its error at most this share of the simplest's): 45/19 (9.8 bits) and
#: 2.37 (10) are both near a fitted 2.3700, and 2.37's error is a quarter of 45/19's. A smaller
#: gain is the network's own noise, which a slightly different constant always fits a little
#: better (1.02 against 1 in II.11.28).
CLOSE_BITS = 1.5
CLEARLY = 0.5


def clearly_better(passed: list[tuple[float, float, Any]]) -> tuple[float, float, Any]:
    """Of (bits, error, formula) candidates in order of bits, the simplest, unless a later one's
    error is at most CLEARLY times the one held."""
    best = passed[0]
    for candidate in passed[1:]:
        if candidate[1] <= CLEARLY * best[1]:
            best = candidate
    return best


def simple_values(value: float, constants: Sequence[float] = (), *, max_den: int = 24) -> list[tuple[float, float]]:
    """Simple values near `value`, simplest first, as (value, description length in bits): small
    rationals, rationals times pi, pi^2, 1/pi, 1/pi^2, and the spec's constants."""
    out: list[tuple[float, float]] = []
    for factor, extra in FACTORS:
        q = Fraction(value / factor).limit_denominator(max_den)
        if q == 0 or abs(q.numerator) > 1000:
            continue
        cost = extra + math.log2(1 + abs(q.numerator)) + math.log2(q.denominator)
        out.append((float(q) * factor, cost))
    for digits in (1, 2, 3):                # short decimals: 0.61, 2.4 (about 3.3 bits a digit)
        d = float(f"{value:.{digits - 1}e}")
        if d:
            out.append((d, 3.0 * digits + 1.0))
    for c in constants:
        if c:
            out.append((float(c), 2.0))
    out.sort(key=lambda t: t[1])
    return out


def snap(node: Node, X: np.ndarray, y: np.ndarray, names: Sequence[str], *, tol: float,
         constants: Sequence[float] = (), refits: int = 3) -> tuple[Node, float]:
    """Replace literals, one at a time, by the simplest nearby value (0, a small rational, a
    rational multiple of pi, 1/pi, sqrt(pi), sqrt(2 pi), sqrt 2, or a spec constant) whose error
    stays within the unsnapped formula's error plus max(15 %, tol / 5) of it; where the plain
    replacement misses that, the literals not yet snapped are refitted with it held (for the
    `refits` simplest candidates: a frequency snapped to 1 moves the phase that goes with it).
    Two passes (a literal may snap once another has); the ones left keep their fitted values."""
    err0 = error(node, X, y, names)
    if not math.isfinite(err0):
        return node, err0
    limit = err0 + max(0.15 * err0, tol / 5)
    current, err = node, err0
    held: set[int] = set()
    count = len(literals(node))
    for _ in range(2):
        changed = False
        # smallest first: an offset that is 0 goes before the constants it would move
        for i in sorted(range(count), key=lambda k: abs(literals(current)[k])):
            values = literals(current)
            v = values[i]
            if i in held or v == 0 or _is_simple(v):
                held.add(i)
                continue
            tried, passed = 0, []
            for candidate, cost in [(0.0, 0.0), *simple_values(v, constants)]:
                if passed and cost > passed[0][0] + CLOSE_BITS:
                    break
                if candidate and abs(candidate - v) > 0.05 * abs(v):
                    continue
                if candidate == v:          # already this simple value: it is a contender
                    passed.append((cost, error(current, X, y, names), current))
                    break
                trial = with_literals(current, [*values[:i], candidate, *values[i + 1:]])
                e = error(trial, X, y, names)
                if e > limit and tried < refits and len(held | {i}) < count <= 8:
                    tried += 1
                    trial, e = refine_free(trial, held | {i}, X, y, names)
                if e <= limit:
                    passed.append((cost, e, trial))
            if passed:
                _, e, best = clearly_better(passed)
                if best is not current:     # kept as it is: free to snap in the next pass
                    current, err, changed = best, e, True
                    held.add(i)
        if not changed:
            break
    from synth.real.terms import tidy

    current = tidy(current)
    return current, error(current, X, y, names)


def refine_free(node: Node, held: set[int], X: np.ndarray, y: np.ndarray, names: Sequence[str],
                *, max_nfev: int = 30) -> tuple[Node, float]:
    """Refit the literals of `node` whose indices are not in `held` (least squares from their
    current values), the held ones fixed."""
    from scipy.optimize import least_squares

    values = literals(node)
    free = [k for k in range(len(values)) if k not in held]
    if not free:
        return node, error(node, X, y, names)
    scale = spread(y)
    env = {n: X[:, i] for i, n in enumerate(names)}
    params = {k: Var(f"$fit{k}", REAL) for k in free}
    skeleton = with_literal_nodes(node, [params[k] if k in params else literal(v)
                                         for k, v in enumerate(values)])
    dsl = real_dsl()

    def residual(theta: np.ndarray) -> np.ndarray:
        local = dict(env)
        for k, t in zip(free, theta):
            local[params[k].name] = np.full(len(y), t)
        r = dsl_evaluate(skeleton, local, dsl=dsl)
        out = (r.values - y) / scale
        out[r.bad | ~np.isfinite(out)] = 1e3
        return out

    try:
        result = least_squares(residual, np.array([values[k] for k in free]),
                               method="lm" if len(free) <= len(y) else "trf",
                               max_nfev=max_nfev * (len(free) + 1))
    except (ValueError, FloatingPointError):
        return node, error(node, X, y, names)
    if not np.all(np.isfinite(result.x)):
        return node, error(node, X, y, names)
    out = list(values)
    for k, t in zip(free, result.x):
        out[k] = float(t)
    candidate = with_literals(node, out)
    return candidate, error(candidate, X, y, names)


def _is_simple(v: float) -> bool:
    return v == int(v) and abs(v) <= 10


def literal_cost(v: float) -> float:
    """Bits to describe a literal (AI Feynman 2.0): integers log2(1 + |n|), rationals numerator and
    denominator, multiples of pi a little more, any other float 30 bits."""
    if v == int(v) and abs(v) < 1e6:
        return math.log2(1 + abs(v))
    q = Fraction(v).limit_denominator(1000)
    if abs(float(q) - v) <= 1e-12 * abs(v):
        return math.log2(1 + abs(q.numerator)) + math.log2(q.denominator)
    # pi^2, 4 pi^2, 1 / (2 pi), 1 / sqrt(2 pi): what snapping charged for it, not a free float's
    # 30 bits; only with a small numerator and denominator (a template's constants snapped to
    # 43 / 19 / pi^2 and 7 sqrt(2 pi) / 17 are still free ones)
    for factor, extra in FACTORS[1:]:
        q = Fraction(v / factor).limit_denominator(4)
        if q and abs(q.numerator) <= 4 and abs(float(q) * factor - v) <= 1e-12 * abs(v):
            return extra + math.log2(1 + abs(q.numerator)) + math.log2(q.denominator)
    return 30.0


#: Functions whose composition is rare in laws (exp(-cos(tan(u))) follows a network's error as
#: well as 1 / sqrt(1 - u^2) does); each one applied inside another costs NESTED bits more.
TRANSCENDENTAL = frozenset({"exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
                            "cosh", "tanh"})
NESTED = 8.0


def description_length(node: Node) -> float:
    """Bits of a formula: log2(#symbols) per node plus the bits of each literal, plus NESTED for
    each transcendental function inside another."""
    bits = 0.0
    symbols = math.log2(24)

    def walk(n: Node, inside: bool) -> None:
        nonlocal bits
        if isinstance(n, Const) and n.type == REAL:
            bits += literal_cost(float(n.value))
        elif isinstance(n, Const) and n.type == INT:
            bits += math.log2(1 + abs(n.value))
        else:
            bits += symbols
            if isinstance(n, App):
                here = n.op in TRANSCENDENTAL
                if here and inside:
                    bits += NESTED
                for a in n.args:
                    walk(a, inside or here)
    walk(node, False)
    return bits
