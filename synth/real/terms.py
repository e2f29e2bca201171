"""Building real formulas: the few constructors the search uses, with light simplification."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Mapping, Sequence

from dsl.ast import App, Const, Node, Var
from dsl.real import literal
from dsl.types import BOOL, INT, REAL


def var(name: str) -> Var:
    return Var(name, REAL)


def _pi() -> Node:
    return App("pi", (), REAL)


#: The constants snapping uses (synth.real.fit.FACTORS), as formulas: a literal that is a small
#: rational times one of them prints as one (`2 * pi`, `pi / 4`, `4 * pi ** 2`, `1 / sqrt(2 * pi)`),
#: so that sympy sees pi, not a float near it.
#: (factor, the largest numerator and denominator, formula): pi's multiples as before; the
#: others only with small ones (fit.literal_cost charges them as such; 43 / 19 / pi^2 stays a
#: float, a free constant).
SYMBOLIC = (
    (math.pi, 64, _pi),
    (math.pi ** 2, 4, lambda: App("pow", (_pi(), Const(2, INT)), REAL)),
    (math.sqrt(2 * math.pi), 4, lambda: App("sqrt", (App("mul", (literal(2.0), _pi()), REAL),), REAL)),
    (math.sqrt(math.pi), 4, lambda: App("sqrt", (_pi(),), REAL)),
    (math.sqrt(2), 4, lambda: App("sqrt", (literal(2.0),), REAL)),
)


def num(value: float) -> Node:
    """A literal; a small rational times pi, pi^2, sqrt(2 pi), sqrt(pi) or sqrt(2), or over one,
    prints as such (`2 * pi`, `pi / 4`, `1 / pi / 2`, `4 * pi ** 2`)."""
    if value and Fraction(value).limit_denominator(64) != Fraction(value):
        for factor, largest, build in SYMBOLIC:
            for inverse in (False, True):
                base = 1 / factor if inverse else factor
                q = Fraction(value / base).limit_denominator(largest)
                if not q or abs(q.numerator) > largest or abs(float(q) * base - value) > 1e-12 * abs(value):
                    continue
                if inverse:     # p / q / K
                    core = App("div", (literal(float(q.numerator)), build()), REAL)
                else:           # p * K / q
                    core = build() if q.numerator == 1 else App("mul", (literal(float(q.numerator)), build()), REAL)
                return App("div", (core, literal(float(q.denominator))), REAL) if q.denominator != 1 else core
    return literal(value)


def _is(node: Node, value: float) -> bool:
    return isinstance(node, Const) and node.type == REAL and node.value == value


def add(a: Node, b: Node) -> Node:
    if _is(a, 0):
        return b
    if _is(b, 0):
        return a
    if isinstance(b, Const) and b.type == REAL and b.value < 0:
        return App("sub", (a, literal(-b.value)), REAL)
    if isinstance(b, App) and b.op == "mul" and isinstance(b.args[0], Const) and b.args[0].type == REAL \
            and b.args[0].value < 0:           # a + -c * x reads a - c * x
        return App("sub", (a, mul(literal(-b.args[0].value), b.args[1])), REAL)
    if isinstance(b, App) and b.op == "neg":
        return App("sub", (a, b.args[0]), REAL)
    if isinstance(b, App) and b.op == "div" and isinstance(b.args[0], App) and b.args[0].op == "neg":
        return App("sub", (a, App("div", (b.args[0].args[0], b.args[1]), REAL)), REAL)
    return App("add", (a, b), REAL)


def sub(a: Node, b: Node) -> Node:
    if _is(b, 0):
        return a
    if _is(a, 0):
        return neg(b)
    return App("sub", (a, b), REAL)


def mul(a: Node, b: Node) -> Node:
    if _is(a, 1):
        return b
    if _is(b, 1):
        return a
    if _is(a, -1):
        return neg(b)
    return App("mul", (a, b), REAL)


def div(a: Node, b: Node) -> Node:
    if _is(b, 1):
        return a
    return App("div", (a, b), REAL)


def neg(a: Node) -> Node:
    if isinstance(a, Const) and a.type == REAL:
        return literal(-a.value)
    return App("neg", (a,), REAL)


def power(a: Node, n: int) -> Node:
    if n == 1:
        return a
    return App("pow", (a, Const(int(n), INT)), REAL)


def call(op: str, a: Node) -> Node:
    return App(op, (a,), REAL)


def monomial(names: Sequence[str], exponents: Sequence[Fraction]) -> Node:
    """prod x_i ** e_i with exponents in halves: numerator / denominator, sqrt for halves."""
    top: list[Node] = []
    bottom: list[Node] = []
    for name, e in zip(names, exponents):
        if e == 0:
            continue
        whole = abs(e).numerator // abs(e).denominator if abs(e).denominator == 1 else None
        if whole is not None:
            term = power(var(name), whole)
        elif abs(e).denominator == 2:
            k = abs(e).numerator
            term = call("sqrt", var(name)) if k == 1 else call("sqrt", power(var(name), k))
        else:
            raise ValueError(f"exponent {e} is not a multiple of 1/2")
        (top if e > 0 else bottom).append(term)
    num_node: Node = _product(top) if top else literal(1.0)
    if not bottom:
        return num_node
    return div(num_node, _product(bottom))


def _product(terms: list[Node]) -> Node:
    out = terms[0]
    for t in terms[1:]:
        out = mul(out, t)
    return out


def tidy(node: Node) -> Node:
    """Rebuild bottom-up through the constructors above (drops `+ 0`, `* 1`, ...); literals that
    are rational multiples of pi print as such."""
    if isinstance(node, Const) and node.type == REAL:
        return num(float(node.value))
    if not isinstance(node, App):
        return node
    args = tuple(tidy(a) for a in node.args)
    if node.op == "mul" and (_is(args[0], 0) or _is(args[1], 0)):
        return literal(0.0)
    build = {"add": add, "sub": sub, "mul": mul, "div": div, "neg": neg}.get(node.op)
    if build is not None:
        return build(*args)
    if node.op == "pow":
        return power(args[0], args[1].value)
    return App(node.op, args, node.type)


def substitute(node: Node, mapping: Mapping[str, Node]) -> Node:
    if isinstance(node, Var):
        return mapping.get(node.name, node)
    if isinstance(node, App):
        return App(node.op, tuple(substitute(a, mapping) for a in node.args), node.type)
    return node


__all__ = ["var", "num", "add", "sub", "mul", "div", "neg", "power", "call", "monomial",
           "substitute", "BOOL"]
