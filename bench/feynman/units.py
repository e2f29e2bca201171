"""The Feynman equations' SI units (units.json) and the check that every law is dimensionally
consistent with them.

    .venv/bin/python bench/feynman/units.py          # checks all 120; exit status 1 on a mismatch

`dimension(expr, units)` walks the sympy formula with exact rationals: a sum's terms must share one
dimension, a product adds exponents, a power with a rational exponent scales them, and the
argument of exp, log, sin, asin, tanh, ... must be dimensionless. `spec_units(eq)` gives the
`units` to add to an equation's spec (bench/feynman/run.py).
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
UNITS = HERE / "units.json"
BASE = ("m", "kg", "s", "A", "K", "mol", "cd")


class Inconsistent(Exception):
    pass


def table() -> dict:
    return {k: v for k, v in json.loads(UNITS.read_text()).items() if not k.startswith("_")}


def _vector(units: dict) -> tuple[Fraction, ...]:
    return tuple(Fraction(units.get(b, 0)).limit_denominator(12) for b in BASE)


def dimension(expr, units: dict[str, dict]) -> tuple[Fraction, ...]:
    """The dimension of a sympy expression given its symbols' units; Inconsistent when a sum
    mixes dimensions or a function's argument has one."""
    import sympy

    zero = tuple(Fraction(0) for _ in BASE)
    if expr.is_Symbol:
        return _vector(units[expr.name])
    if expr.is_Number or expr is sympy.pi or expr.is_NumberSymbol:
        return zero
    if expr.is_Add:
        dims = {dimension(a, units) for a in expr.args}
        if len(dims) != 1:
            raise Inconsistent(f"a sum of terms of different dimensions: {expr}")
        return dims.pop()
    if expr.is_Mul:
        total = zero
        for a in expr.args:
            total = tuple(x + y for x, y in zip(total, dimension(a, units)))
        return total
    if expr.is_Pow:
        base, exp = expr.args
        if exp.is_Rational:
            return tuple(x * Fraction(int(exp.p), int(exp.q)) for x in dimension(base, units))
        if dimension(base, units) != zero or dimension(exp, units) != zero:
            raise Inconsistent(f"a power with a symbolic exponent of a dimensioned base: {expr}")
        return zero
    if isinstance(expr, sympy.Function):
        for a in expr.args:
            if dimension(a, units) != zero:
                raise Inconsistent(f"{expr.func.__name__} of a dimensioned argument: {expr}")
        return zero
    raise Inconsistent(f"cannot read the dimension of {expr!r}")


def check(eq, entry: dict) -> str | None:
    """None when the law's two sides have the same dimension, else why not."""
    missing = sorted(set(eq.names) - set(entry["inputs"]))
    extra = sorted(set(entry["inputs"]) - set(eq.names))
    if missing or extra:
        return f"variables missing {missing}, unknown {extra}"
    try:
        got = dimension(eq.sympy(), entry["inputs"])
    except Inconsistent as e:
        return str(e)
    want = _vector(entry["output"])
    if got != want:
        show = lambda v: {b: str(x) for b, x in zip(BASE, v) if x}  # noqa: E731
        return f"the law has dimension {show(got)}, the output is given {show(want)}"
    return None


def spec_units(eq) -> tuple[list[dict], dict]:
    """The units of the equation's inputs (in its order) and of its output."""
    entry = table()[eq.id]
    return [dict(entry["inputs"][n]) for n in eq.names], dict(entry["output"])


def main() -> int:
    sys.path.insert(0, str(HERE))
    from equations import load

    units = table()
    bad = 0
    equations = load()
    for eq in equations:
        why = "no entry in units.json" if eq.id not in units else check(eq, units[eq.id])
        if why:
            bad += 1
            print(f"{eq.id:10s} {why}")
    print(f"{len(equations) - bad} of {len(equations)} equations dimensionally consistent")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
