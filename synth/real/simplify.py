"""Tidy a found formula with sympy and read it back into the `real` DSL.

The recombined formulas of separable splits carry constants that cancel (`c * (a + k) - c * k`);
sympy's simplification removes them. `from_sympy` reads a sympy expression over the inputs back
into an AST of the `real` DSL (rational constants as literals or quotients of literals, pi as
`pi`, integer powers as `**`, halves as `sqrt`). The simplified formula replaces the original
only when it agrees with it numerically and is no longer.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from dsl.ast import Node
from synth.real import fit, terms

FUNCTIONS = {"sin": "sin", "cos": "cos", "tan": "tan", "exp": "exp", "log": "log",
             "asin": "asin", "acos": "acos", "atan": "atan",
             "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "Abs": "abs"}


def from_sympy(expr: Any) -> Node:
    """A sympy expression -> a `real` DSL node; ValueError for what the DSL cannot express."""
    import sympy

    if expr.is_Symbol:
        return terms.var(expr.name)
    if expr is sympy.pi:
        return terms.num(math.pi)
    if expr.is_Rational:
        p, q = int(expr.p), int(expr.q)
        return terms.num(float(p)) if q == 1 else terms.div(terms.num(float(p)), terms.num(float(q)))
    if expr.is_Number:
        value = float(expr)
        q = Fraction(value).limit_denominator(1000)
        if q != 0 and abs(float(q) - value) <= 1e-12 * abs(value):
            return from_sympy(sympy.Rational(q.numerator, q.denominator))
        return terms.num(value)
    if expr.is_Add:
        args = sorted(expr.args, key=lambda a: (a.is_Number, sympy.default_sort_key(a)))
        out = from_sympy(args[0])
        for a in args[1:]:
            coeff, rest = a.as_coeff_Mul()
            if coeff < 0:
                out = terms.sub(out, from_sympy(-a))
            else:
                out = terms.add(out, from_sympy(a))
        return out
    if expr.is_Mul:
        top, bottom = [], []
        for a in expr.args:
            if a.is_Pow and a.exp.is_Number and a.exp < 0:
                bottom.append(sympy.Pow(a.base, -a.exp))
            elif a.is_Rational and a.q != 1:
                if a.p != 1:
                    top.append(sympy.Integer(a.p))
                bottom.append(sympy.Integer(a.q))
            else:
                top.append(a)
        if top and top[0] == -1:
            rest = sympy.Mul(*top[1:]) / sympy.Mul(*bottom)
            return terms.neg(from_sympy(rest))
        numer = _product([from_sympy(a) for a in top]) if top else terms.num(1.0)
        if not bottom:
            return numer
        return terms.div(numer, _product([from_sympy(a) for a in bottom]))
    if expr.is_Pow:
        base, e = expr.args
        if e.is_Integer:
            n = int(e)
            if n < 0:
                return terms.div(terms.num(1.0), from_sympy(sympy.Pow(base, -n)))
            return terms.power(from_sympy(base), n)
        if e.is_Rational and e.q == 2:
            inner = terms.call("sqrt", from_sympy(base))
            n = int(e.p)
            if n < 0:
                return terms.div(terms.num(1.0), terms.power(inner, -n))
            return terms.power(inner, n)
        raise ValueError(f"power {e} is not an integer or a half")
    name = type(expr).__name__
    if name in FUNCTIONS and len(expr.args) == 1:
        return terms.call(FUNCTIONS[name], from_sympy(expr.args[0]))
    raise ValueError(f"cannot express {name} in the real DSL")


def _product(nodes: list[Node]) -> Node:
    out = nodes[0]
    for n in nodes[1:]:
        out = terms.mul(out, n)
    return out


#: Formulas larger than this (nodes) are left as they are: sympy's simplification of a
#: polynomial of dozens of terms over nine variables takes minutes (I.9.18 ran 90 s past its
#: budget), and such a formula is an approximant, not a law to tidy.
SIMPLIFY_LIMIT = 60


def simplify(node: Node, X: np.ndarray, names: Sequence[str]) -> Node:
    """sympy's simplification of `node` when it has the same values at X and is no longer (and
    `node` has at most SIMPLIFY_LIMIT nodes)."""
    import sympy

    from dsl.ast import size

    if size(node) > SIMPLIFY_LIMIT:
        return node

    from dsl.formats import to_sympy
    from dsl.language import get_dsl

    try:
        expr = to_sympy(node, dsl=get_dsl("real"))
        simpler = from_sympy(sympy.simplify(sympy.factor_terms(expr)))
    except (ValueError, TypeError, AttributeError, RecursionError, sympy.SympifyError):
        return node
    a, b = fit.evaluate(node, X, names), fit.evaluate(simpler, X, names)
    if not (np.all(np.isfinite(b)) and np.allclose(a, b, rtol=1e-9, atol=1e-12 * (np.max(np.abs(a)) + 1))):
        return node
    return simpler if fit.description_length(simpler) <= fit.description_length(node) else node


def resnap_factor(node: Node, X: np.ndarray, y: np.ndarray, names: Sequence[str], *,
                  tol: float) -> Node:
    """A product's whole constant factor (numbers and powers of pi together, wherever they sit
    in the formula) refitted by least squares and snapped as one constant: separate splits leave
    pieces such as `1883 / 2400 / pi ** 2` that are one simple constant together."""

    from dsl.ast import size
    from dsl.formats import to_sympy
    from dsl.language import get_dsl

    if size(node) > SIMPLIFY_LIMIT:
        return node
    try:
        expr = to_sympy(node, dsl=get_dsl("real"))
        if not expr.is_Mul:
            return node
        factor, rest = expr.as_independent(*expr.free_symbols, as_Add=False)
        if factor == 1 or not rest.free_symbols:
            return node
        shape = from_sympy(rest)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return node
    v = fit.evaluate(shape, X, names)
    if not np.all(np.isfinite(v)) or not np.any(v):
        return node
    k = float(np.dot(v, y) / np.dot(v, v))
    base = fit.error(node, X, y, names)
    limit = base + max(0.15 * base, tol / 5)
    passed = []                 # (bits, error, formula): values about as simple, the best fit
    for candidate, bits in [*fit.simple_values(k), (k, 30.0)]:
        if passed and bits > passed[0][0] + fit.CLOSE_BITS:
            break
        if abs(candidate - k) > 0.05 * abs(k):
            continue
        trial = terms.mul(terms.num(candidate), shape)
        e = fit.error(trial, X, y, names)
        if e <= limit:
            passed.append((bits, e, trial))
    if not passed:
        return node
    _, e, trial = fit.clearly_better(passed)
    shorter = fit.description_length(trial) - fit.description_length(node)
    return trial if shorter < 0 or (shorter <= fit.CLOSE_BITS and e <= fit.CLEARLY * base) else node
