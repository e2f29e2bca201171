"""Real formulas in a comparison: when two networks' formulas are one law, and their constants.

- `skeleton(program)`: the formula in sympy's canonical form with its constants abstracted
  (`$0`, `$1`... in sympy's traversal order), and the constants. sympy orders sums and products
  and writes `a / exp(c * t)` as `a * exp(-c * t)`; `exp(c * t + k)` is split into `exp(k) *
  exp(c * t)`, and every constant subexpression (`45 / 19`, `0.8 * exp(k)`, `4 * pi`) and the
  constant factors of a product or terms of a sum are folded into one constant, so formulas the
  search wrote differently share a skeleton when they are one shape. Integers (exponents, a
  coefficient of 1 or -1) belong to the skeleton.
- `prover(common, tolerances, names)`: the relation of two formulas on the shared box, for
  `compare_group.group`. Proved equal (the verifier's sympy, then Z3 over the reals, then a
  numeric hunt: `verifier.real.prove`) is one group. Otherwise two formulas of one skeleton are
  one law when they differ by no more than the networks' own error (the real family's
  tolerance) in relative RMS over the shared box, and nowhere by more than 5 times it: a numeric
  check, said so in the proof's reason, never called proved. Formulas of different skeletons
  not proved equal stay apart: a counterexample when they differ beyond that error, else UNKNOWN.
- `constants(program, members, ...)`: the group's skeleton and, per member, its formula's
  constants and the skeleton's constants fitted to the network itself (scipy least squares).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from dsl.program import Expression
from verifier.equivalence import Counterexample, Equivalence, Verdict

POINTS = 20_000                 # points of the shared box the numeric check uses
DEFAULT_TOLERANCE = 0.005       # relative RMS, when a network's report gives no estimate
PEAK = 5.0                      # nowhere further apart than this many times the tolerance


@dataclass(frozen=True)
class Skeleton:
    key: Any                        # the sympy expression, its constants the symbols `params`
    params: tuple[Any, ...]         # sympy symbols $0, $1...
    values: tuple[float, ...]       # this formula's constants, in the order of `params`
    inputs: tuple[str, ...]

    @property
    def text(self) -> str:
        return str(self.key)

    def evaluate(self, columns: Mapping[str, np.ndarray], values: Sequence[float]) -> np.ndarray:
        """The skeleton with `values` for its constants, at the points of `columns` (NaN where
        undefined), by sympy's numpy printer."""
        import sympy

        f = sympy.lambdify([*(sympy.Symbol(n) for n in self.inputs), *self.params], self.key,
                           modules="numpy")
        n = len(next(iter(columns.values())))
        with np.errstate(all="ignore"):
            out = np.asarray(f(*(np.asarray(columns[k], np.float64) for k in self.inputs),
                               *values), np.float64)
        return np.broadcast_to(out, (n,)).astype(np.float64)


def skeleton(program: Expression) -> Skeleton:
    """`program`'s skeleton (see the module doc)."""
    import sympy

    expr = sympy.sympify(program.to_sympy())
    plain = {s: sympy.Symbol(s.name) for s in expr.free_symbols}
    expr = sympy.expand(expr.xreplace(plain), mul=False, multinomial=False, power_base=False,
                        log=False, power_exp=True)       # exp(c * t + k): exp(k) * exp(c * t)
    values: list[float] = []
    params: list[Any] = []

    def constant(c: Any) -> Any:
        if c.is_Integer:
            return c
        values.append(float(c))
        params.append(sympy.Symbol(f"${len(params)}"))
        return params[-1]

    def walk(e: Any) -> Any:
        if not e.free_symbols:           # a constant subexpression (45 / 19, 0.8 * exp(k), pi)
            return constant(e)
        if not e.args:
            return e
        if e.is_Mul or e.is_Add:         # its constant factors or terms, folded into one
            fixed = [a for a in e.args if not a.free_symbols]
            rest = [walk(a) for a in e.args if a.free_symbols]
            if fixed:
                c = (sympy.Mul if e.is_Mul else sympy.Add)(*fixed)
                if c != (1 if e.is_Mul else 0):
                    rest.insert(0, constant(c))
            return rest[0] if len(rest) == 1 else e.func(*rest, evaluate=False)
        return e.func(*(walk(a) for a in e.args), evaluate=False)

    key = walk(expr)
    # Number the constants in the order the skeleton is read ($0 first).
    import re

    seen = [int(m) for m in re.findall(r"\$(\d+)", str(key))]
    order = list(dict.fromkeys(seen)) + [i for i in range(len(params)) if i not in seen]
    renamed = [sympy.Symbol(f"${k}") for k in range(len(params))]
    key = key.xreplace({params[old]: renamed[new] for new, old in enumerate(order)})
    return Skeleton(key, tuple(renamed), tuple(values[old] for old in order),
                    tuple(program.inputs))


def _same(a: Skeleton | None, b: Skeleton | None) -> bool:
    return a is not None and b is not None and len(a.params) == len(b.params) and (
        a.key == b.key or str(a.key) == str(b.key))


def _skeleton(program: Expression) -> Skeleton | None:
    """`skeleton(program)`, or None for a formula sympy cannot read (a rule's `ite`...)."""
    try:
        return skeleton(program)
    except (TypeError, ValueError, AttributeError, RecursionError):
        return None


def prover(common: Any, tolerances: Mapping[str, float], names: Sequence[str], *,
           timeout_ms: int = 10_000, seed: int = 0) -> Callable[[int, int, Any, Any], Equivalence]:
    """A `prove(k, j, p, q)` for `group`: networks k and j's formulas p and q on `common`'s box.
    `tolerances[name]` is each network's error estimate (relative RMS)."""
    from oracle import sampling
    from verifier import real

    columns = sampling.sample(common, POINTS, seed=seed + 7)

    def prove(k: int, j: int, p: Expression, q: Expression) -> Equivalence:
        if p.node == q.node:
            return Equivalence(Verdict.EQUIVALENT, reason="the same formula")
        exact = real.prove(p, q, common, timeout_ms=timeout_ms, seed=seed)
        if exact.verdict is Verdict.EQUIVALENT:
            return exact
        with np.errstate(all="ignore"):
            a, b = p.evaluate(columns), q.evaluate(columns)
            bad = a.bad | b.bad | ~np.isfinite(a.values) | ~np.isfinite(b.values)
            diff = np.where(bad, np.inf, np.abs(a.values - b.values))
            scale = float(np.std(b.values[~bad])) if (~bad).sum() > 1 else 0.0
            rms = float(np.sqrt(np.mean(diff[~bad] ** 2))) / scale \
                if scale > 0 and (~bad).any() else float("inf")
            peak = float(np.max(diff)) / scale if scale > 0 else float("inf")
        allowed = max(tolerances.get(names[k], DEFAULT_TOLERANCE),
                      tolerances.get(names[j], DEFAULT_TOLERANCE))
        close = rms <= allowed and peak <= PEAK * allowed and not (a.bad != b.bad).any()
        same = _same(_skeleton(p), _skeleton(q))
        if close and same:
            return Equivalence(Verdict.EQUIVALENT, reason=(
                f"one skeleton, constants fitted apart: the formulas differ by {rms:.2g} relative "
                f"RMS and at most {peak:.2g} over {len(diff):,} points of the shared box, within "
                f"the networks' own error ({allowed:.2g}) (a numeric check, not a proof)"))
        if close:
            return Equivalence(Verdict.UNKNOWN, reason=(
                f"different formulas not proved equal ({exact.reason or exact.verdict}), yet "
                f"within the networks' own error on the shared box ({rms:.2g} relative RMS): "
                f"kept apart"))
        worst = int(np.argmax(np.where(np.isfinite(diff), diff, np.finfo(float).max)))
        point = tuple((n, float(c[worst])) for n, c in columns.items())
        why = (f"they differ by {rms:.2g} relative RMS on the shared box" if rms > allowed else
               f"they differ by up to {peak:.2g} (relative to the output's spread)" if
               peak > PEAK * allowed else "one is undefined where the other is not")
        return Equivalence(Verdict.COUNTEREXAMPLE, Counterexample(
            point, _value(a, worst), _value(b, worst)), reason=(
            f"{why}, beyond the networks' own error ({allowed:.2g}); the point shown is where "
            f"they differ most" + ("" if same else "; their skeletons differ")))

    return prove


def constants(program: Expression | None, members: Sequence[str],
              programs: Mapping[str, Expression | None], oracles: Mapping[str, Any], *,
              seed: int = 0, points: int = 4000) -> tuple[str | None, tuple[tuple[str, Any], ...]]:
    """The group's skeleton (text) and, per member, {"formula": its own formula's constants in the
    skeleton's order (its formula's text when its skeleton differs, None when it has none),
    "network": the skeleton's constants fitted to the network itself (scipy least squares from
    the group's constants, on `points` of its own box), "error": that fit's relative RMS}."""
    from oracle import sampling

    shape = _skeleton(program) if program is not None else None
    if shape is None:
        return None, ()
    rows = []
    for name in members:
        own, oracle = programs.get(name), oracles[name]
        formula: Any = None
        if own is not None:
            its = _skeleton(own)
            formula = list(its.values) if _same(its, shape) else own.show()
        columns = sampling.sample(oracle.spec, points, seed=seed)
        y = np.asarray(oracle.query(columns), np.float64)
        fitted, error = fit(shape, columns, y)
        rows.append((name, {"formula": formula, "network": fitted, "error": error}))
    return shape.text, tuple(rows)


def fit(shape: Skeleton, columns: Mapping[str, np.ndarray], y: np.ndarray) -> tuple[list[float], float]:
    """The skeleton's constants that best fit `y` (scipy's least squares from the formula's own
    constants), and the relative RMS error (to y's spread) there."""
    from scipy.optimize import least_squares

    spread = float(np.std(y)) or 1.0

    def residual(theta: np.ndarray) -> np.ndarray:
        r = (shape.evaluate(columns, theta) - y) / spread
        return np.where(np.isfinite(r), r, 1e3)

    start = np.asarray(shape.values, np.float64)
    if not len(start):
        return [], float(np.sqrt(np.mean(residual(start) ** 2)))
    try:
        theta = least_squares(residual, start, method="lm", max_nfev=200 * (len(start) + 1)).x
    except (ValueError, FloatingPointError):
        theta = start
    return [float(v) for v in theta], float(np.sqrt(np.mean(residual(theta) ** 2)))


def _value(evaluation: Any, k: int) -> float | None:
    return None if evaluation.bad[k] else float(evaluation.values[k])
