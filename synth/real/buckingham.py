"""Buckingham pi in exact rationals: the algebra of the real family's dimensional analysis.

`bases(names, dims, out, limit=3) -> list[Analysis]` (and `analyse`, the first of them): the
exponents p making y / prod x^p dimensionless (integers before halves, then fewest variables,
then smallest exponents; every p as simple is kept in `scalings`), and bases of m = k - rank dimensionless groups of the inputs,
each group with a dependent variable that no other group has (the reduced echelon basis for a
choice of those variables), the simplest first (fewest variables, smallest integer exponents:
v / c, not c^2 / v^2). sympy's exact matrices; no floats. synth/real/units.py searches with them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

from dsl.ast import Node
from synth.real import terms

Vector = tuple[Fraction, ...]


@dataclass(frozen=True)
class Analysis:
    p: Vector                           # y / prod x^p is dimensionless
    groups: tuple[Vector, ...]          # each prod x^e is dimensionless (integer exponents)
    dependent: tuple[int, ...]          # each group's variable that no other group has (its
    #                                     exponent is nonzero: the query solves the group for it)
    scalings: tuple[Vector, ...] = ()   # every p as simple as `p` (`scaled` picks by the data)

    @property
    def m(self) -> int:
        return len(self.groups)


def analyse(names: Sequence[str], dims: Sequence[Sequence[Fraction]],
            out: Sequence[Fraction]) -> Analysis | None:
    """`dims[i]`: input i's exponents over the base units; `out`: the output's. The simplest
    basis (see `bases`)."""
    found = bases(names, dims, out, limit=1)
    return found[0] if found else None


def bases(names: Sequence[str], dims: Sequence[Sequence[Fraction]], out: Sequence[Fraction], *,
          limit: int = 3) -> list[Analysis]:
    """Up to `limit` different bases of groups, simplest first (x / (c t) and u / c, then
    u t / x and u / c: the law may separate over one and not the other); [] when y's dimension
    is no product of the inputs'."""
    import sympy

    k = len(names)
    D = sympy.Matrix([[sympy.Rational(d.numerator, d.denominator) for d in col] for col in dims]).T
    target = sympy.Matrix([sympy.Rational(Fraction(v).numerator, Fraction(v).denominator) for v in out])
    rank = D.rank()
    scalings = _output_exponents(D, target, k, rank)
    if scalings is None:
        return []
    p = scalings[0]
    m = k - rank
    found: dict[frozenset, tuple] = {}
    for free in itertools.combinations(range(k), m):
        pivots = [c for c in range(k) if c not in free]
        M = D[:, pivots]
        if M.rank() < rank:
            continue
        groups = []
        for f in free:
            b = (M.T * M).inv() * M.T * (-D[:, f]) if pivots else sympy.Matrix([])
            e = [Fraction(0)] * k
            e[f] = Fraction(1)
            for c, v in zip(pivots, b):
                e[c] = Fraction(int(sympy.fraction(v)[0]), int(sympy.fraction(v)[1]))
            groups.append(_integral(e, f))
        cost = sum(10 * sum(1 for v in g if v) + sum(abs(v) for v in g) for g in groups)
        key = frozenset(frozenset((c, abs(v)) for c, v in enumerate(g) if v) for g in groups)
        if key not in found or cost < found[key][0]:
            found[key] = (cost, len(found), tuple(groups), free)
    ranked = sorted(found.values(), key=lambda t: (t[0], t[1]))
    return [Analysis(p, groups, free, tuple(scalings)) for _, _, groups, free in ranked[:limit]]


def _output_exponents(D, target, k: int, rank: int) -> list[Vector] | None:
    """The simplest p with D p = target: integer exponents before halves before other fractions
    (kappa T1 A / d, not kappa T1 sqrt(A)), then the fewest variables, then the smallest sum of
    |p_i|; all those as simple (m v^2 and m c^2 for an energy). None when there is no p."""
    import sympy

    if rank == 0 or all(v == 0 for v in target):
        return [tuple(Fraction(0) for _ in range(k))] if all(v == 0 for v in target) else None
    found = []
    for size in range(1, rank + 1):
        for subset in itertools.combinations(range(k), size):
            M = D[:, list(subset)]
            if M.rank() < size:
                continue
            x = (M.T * M).inv() * M.T * target
            if M * x != target:
                continue
            p = [Fraction(0)] * k
            for c, v in zip(subset, x):
                num, den = sympy.fraction(v)
                p[c] = Fraction(int(num), int(den))
            found.append(tuple(p))
    if not found:
        return None

    def key(p: Vector) -> tuple:
        worst = max(v.denominator for v in p)
        return (0 if worst == 1 else 1 if worst == 2 else 2, sum(1 for v in p if v), sum(abs(v) for v in p))
    found = list(dict.fromkeys(found))   # a subset may give a p with zeros that a smaller one gave
    best = min(map(key, found))
    return [p for p in found if key(p) == best]


def _integral(e: list[Fraction], dependent: int) -> Vector:
    """The group scaled to coprime integers with its dependent variable's exponent positive
    (`_oriented` may turn it over)."""
    lcm = math.lcm(*(v.denominator for v in e))
    ints = [int(v * lcm) for v in e]
    g = math.gcd(*ints)
    sign = 1 if ints[dependent] > 0 else -1
    return tuple(Fraction(sign * v // g) for v in ints)


def monomial(names: Sequence[str], exponents: Sequence[Fraction]) -> Node:
    return terms.monomial(names, exponents)


def describe(a: Analysis, names: Sequence[str], output: str = "y") -> str:
    def shown(e: Sequence[Fraction]) -> str:
        from dsl.language import get_dsl

        return get_dsl("real").show(monomial(names, e))

    scaled = f"{output} / ({shown(a.p)})" if any(a.p) else output
    if not a.groups:
        return f"dimensional analysis: {scaled} is dimensionless and no group of the inputs is: " \
               f"{output} = C * {shown(a.p)}"
    return f"dimensional analysis: {scaled} depends on {', '.join(shown(g) for g in a.groups)}"
