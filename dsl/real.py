"""The built-in `real` DSL (grammar: dsl/real.lark): formulas over float64 inputs.

Semantics are IEEE float64 made total: a point outside an operator's domain (`sqrt` of a
negative, `log` of 0, `x / 0`, an overflow) gives NaN there and marks the point bad; nothing
raises. One row per operator holds its numpy form, its DSL text (`template`), its Python form
(`total`: numpy calls, so the exported function is vectorised and never raises), its sympy form
(from which LaTeX is printed), its C form (over `double`, `<math.h>`) and, where one exists, its Z3
form over the reals (polynomial and rational operators, comparisons, `abs`, `ite`); the others
raise Z3EncodingError, which a verifier reports as "unknown".

Literals are real (`2`, `0.5`, `6.674e-11`); `pi` is the constant; `x ** n` takes an integer
exponent; `$0`, `$1`... are parameters, constants a search fits (a `Var` named `$i`: its values
come from the environment like an input's). Decision rules use `a if c else b` with `<`, `<=`,
`>`, `>=`, `and`, `or`, `not`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from dsl.ast import App, Const, Node, Var
from dsl.errors import DSLError, Z3EncodingError
from dsl.language import DSL, check_depth
from dsl.ops import (
    AND, ARITH, ATOM, NOT, OR, TERM, TERNARY, UNARY, Operator, call, comparison, infix, prefix,
    sympymod, z3mod,
)
from dsl.types import BOOL, INT, REAL, T

#: The parser's own aliases in this DSL, beside the shared ones.
OWN_ALIASES = frozenset({"real_lit", "param"})
R1, R2 = (REAL,), (REAL, REAL)


class RealDSL(DSL):
    """The `real` DSL: literals are real constants, `$i` a parameter, `-2.5` one literal.

    Its exported Python calls numpy as `np`: `python_prelude` is the import a standalone copy
    needs (and the name the compiled function must see)."""

    python_prelude = "import numpy as np"

    def _check_aliases(self) -> None:
        saved = [(r, r.alias) for r in self._parser.rules if r.alias in OWN_ALIASES]
        for rule, _ in saved:
            rule.alias = "var"          # checked as a reserved alias, then restored
        try:
            super()._check_aliases()
        finally:
            for rule, alias in saved:
                rule.alias = alias

    def app(self, op: str, *args: Node) -> Node:
        if op == "neg" and len(args) == 1 and isinstance(args[0], Const) and args[0].type == REAL:
            return Const(-args[0].value, REAL)
        return super().app(op, *args)

    def _convert(self, tree, text: str, variables: Mapping[str, Any]) -> Node:
        kind = tree.data
        if kind == "real_lit":
            return literal(float(tree.children[0]))
        if kind == "param":
            return parameter(int(tree.children[0]))
        if kind == "neg" and getattr(tree.children[0], "data", None) == "real_lit":
            return literal(-float(tree.children[0].children[0]))
        return super()._convert(tree, text, variables)

    def _show(self, node: Node, *, total: bool) -> tuple[str, int]:
        if isinstance(node, Const) and node.type == REAL:
            text = show_number(node.value)
            return text, (UNARY if node.value < 0 or text.startswith("-") else ATOM)
        if total and isinstance(node, App) and node.op in self.operators:
            row = self.operators[node.op]
            if row.total and row.needs_total is _always:
                parts = [self._show(a, total=True)[0] for a in node.args]
                return row.total.format(*parts), ATOM
        return super()._show(node, total=total)


def literal(value: float) -> Const:
    """A real literal; DSLError unless finite."""
    value = float(value)
    if not math.isfinite(value):
        raise DSLError(f"real literal: expected a finite number, got {value!r}")
    return Const(value + 0.0, REAL)     # + 0.0: no negative zero


def parameter(index: int) -> Var:
    """The parameter `$index`, a constant to be fitted (its values come from the environment)."""
    return Var(f"${index}", REAL)


def is_parameter(node: Node) -> bool:
    return isinstance(node, Var) and node.name.startswith("$")


def show_number(value: float) -> str:
    """The shortest text that reads back as `value`; integral values without `.0`."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


# ---- numpy forms: float64, NaN (and a bad mark) wherever the value is not finite ----------------

def _real(fn: Callable[..., np.ndarray]) -> Callable:
    def apply(*xs):
        with np.errstate(all="ignore"):
            out = np.asarray(fn(*(np.asarray(x, dtype=np.float64) for x in xs)), dtype=np.float64)
        bad = ~np.isfinite(out)
        if not bad.any():
            return out, None
        return np.where(bad, np.nan, out), bad
    return apply


def _power(a, n):
    return np.float_power(a, n)


def _compare(fn: Callable) -> Callable:
    return lambda a, b: (fn(a, b), None)


def _ite(a, c, b):
    return np.where(c, a, b), None


def _ite_bad(values, bads):
    _, c, _ = values
    return np.where(c, bads[0], bads[2]) | bads[1]


def _and_bad(values, bads):
    return bads[0] | (values[0] & bads[1])


def _or_bad(values, bads):
    return bads[0] | (~values[0] & bads[1])


# ---- other forms ------------------------------------------------------------------------------

def _always(args) -> bool:
    return True


def _unless_nonzero_literal(args) -> bool:
    return not (isinstance(args[1], Const) and args[1].value != 0)


def _sp(name: str) -> Callable:
    return lambda *args: getattr(sympymod(), name)(*args)


def _sp_ite(a, c, b):
    return sympymod().Piecewise((a, c), (b, True))


def _z3_power(a, n):
    z3 = z3mod()
    k = int(z3.simplify(n).as_long()) if z3.is_int_value(z3.simplify(n)) else None
    if k is None:
        raise Z3EncodingError("x ** n: Z3 needs a literal integer exponent")
    if k == 0:
        return z3.RealVal(1)
    term = a
    for _ in range(abs(k) - 1):
        term = term * a
    return term if k > 0 else 1 / term


def _no_z3(name: str) -> Callable:
    def build(*terms):
        raise Z3EncodingError(f"operator {name!r} has no Z3 form over the reals (transcendental); "
                              f"equivalence involving it is decided by sympy or left unknown")
    return build


def _unary(name: str, np_fn: Callable, sp_name: str, c_name: str, doc: str) -> Operator:
    return Operator(name, R1, REAL, _real(np_fn), **call(name, 1), total=f"np.{np_fn.__name__}({{0}})",
                    needs_total=_always, sympy=_sp(sp_name), c=f"{c_name}({{0}})",
                    z3=_no_z3(name), doc=doc)


OPERATORS = [
    # arithmetic --------------------------------------------------------------------------------
    Operator("add", R2, REAL, _real(np.add), **infix("+", ARITH), commutative=True,
             sympy=lambda a, b: a + b, c="({0} + {1})", z3=lambda a, b: a + b),
    Operator("sub", R2, REAL, _real(np.subtract), **infix("-", ARITH),
             sympy=lambda a, b: a - b, c="({0} - {1})", z3=lambda a, b: a - b),
    Operator("mul", R2, REAL, _real(np.multiply), **infix("*", TERM), commutative=True,
             sympy=lambda a, b: a * b, c="({0} * {1})", z3=lambda a, b: a * b),
    Operator("div", R2, REAL, _real(np.divide), **infix("/", TERM),
             total="np.divide({0}, {1})", needs_total=_unless_nonzero_literal,
             sympy=lambda a, b: a / b, c="({0} / {1})", z3=lambda a, b: a / b,
             doc="division; x / 0 is NaN (a bad point)"),
    Operator("neg", R1, REAL, _real(np.negative), **prefix("-", UNARY),
             sympy=lambda a: -a, c="(-{0})", z3=lambda a: -a),
    Operator("pow", (REAL, INT), REAL, _real(_power), template="{0} ** {1}", prec=UNARY,
             arg_prec=(ATOM, UNARY), total="np.float_power({0}, {1})", needs_total=_always,
             sympy=lambda a, n: a ** n, c="pow({0}, {1})", z3=_z3_power,
             doc="integer power; 0 ** -1 is NaN"),
    Operator("pi", (), REAL, _real(lambda: np.float64(np.pi)), template="pi", prec=ATOM,
             arg_prec=(), total="np.pi", needs_total=_always, sympy=lambda: sympymod().pi,
             c="3.14159265358979323846", z3=_no_z3("pi")),
    # functions ---------------------------------------------------------------------------------
    _unary("sqrt", np.sqrt, "sqrt", "sqrt", "square root; NaN below 0"),
    _unary("exp", np.exp, "exp", "exp", "exponential; NaN where it overflows"),
    _unary("log", np.log, "log", "log", "natural logarithm; NaN at 0 and below"),
    _unary("sin", np.sin, "sin", "sin", "sine (radians)"),
    _unary("cos", np.cos, "cos", "cos", "cosine (radians)"),
    _unary("tan", np.tan, "tan", "tan", "tangent (radians)"),
    _unary("asin", np.arcsin, "asin", "asin", "arc sine; NaN outside [-1, 1]"),
    _unary("acos", np.arccos, "acos", "acos", "arc cosine; NaN outside [-1, 1]"),
    _unary("atan", np.arctan, "atan", "atan", "arc tangent"),
    _unary("sinh", np.sinh, "sinh", "sinh", "hyperbolic sine; NaN where it overflows"),
    _unary("cosh", np.cosh, "cosh", "cosh", "hyperbolic cosine; NaN where it overflows"),
    _unary("tanh", np.tanh, "tanh", "tanh", "hyperbolic tangent"),
    Operator("abs", R1, REAL, _real(np.abs), **call("abs", 1), sympy=_sp("Abs"), c="fabs({0})",
             z3=lambda a: z3mod().If(a < 0, -a, a)),
    # comparisons and connectives (decision rules) ---------------------------------------------
    Operator("lt", R2, BOOL, _compare(np.less), **comparison("<"), sympy=_sp("Lt"),
             c="({0} < {1})", z3=lambda a, b: a < b),
    Operator("le", R2, BOOL, _compare(np.less_equal), **comparison("<="), sympy=_sp("Le"),
             c="({0} <= {1})", z3=lambda a, b: a <= b),
    Operator("gt", R2, BOOL, _compare(np.greater), **comparison(">"), sympy=_sp("Gt"),
             c="({0} > {1})", z3=lambda a, b: a > b),
    Operator("ge", R2, BOOL, _compare(np.greater_equal), **comparison(">="), sympy=_sp("Ge"),
             c="({0} >= {1})", z3=lambda a, b: a >= b),
    Operator("and", (BOOL, BOOL), BOOL, _compare(np.logical_and), **infix("and", AND),
             commutative=True, total="np.logical_and({0}, {1})", needs_total=_always,
             propagate=_and_bad, sympy=_sp("And"), c="({0} && {1})",
             z3=lambda a, b: z3mod().And(a, b)),
    Operator("or", (BOOL, BOOL), BOOL, _compare(np.logical_or), **infix("or", OR),
             commutative=True, total="np.logical_or({0}, {1})", needs_total=_always,
             propagate=_or_bad, sympy=_sp("Or"), c="({0} || {1})",
             z3=lambda a, b: z3mod().Or(a, b)),
    Operator("not", (BOOL,), BOOL, lambda a: (np.logical_not(a), None), template="not {0}",
             prec=NOT, arg_prec=(NOT,), total="np.logical_not({0})", needs_total=_always,
             sympy=_sp("Not"), c="(!{0})", z3=lambda a: z3mod().Not(a)),
    Operator("ite", (T, BOOL, T), T, _ite, template="{0} if {1} else {2}", prec=TERNARY,
             arg_prec=(TERNARY + 1, TERNARY + 1, TERNARY), total="np.where({1}, {0}, {2})",
             needs_total=_always, propagate=_ite_bad, sympy=_sp_ite, c="({1} ? {0} : {2})",
             z3=lambda a, c, b: z3mod().If(c, a, b)),
]


def language(name: str, grammar: str, *, source: str) -> RealDSL:
    """The `real` DSL (dsl.language builds built-ins through this when a module defines it)."""
    return RealDSL(name, grammar, OPERATORS, source=source)


def to_z3_real(node: Node, variables: Mapping[str, Any], *, dsl: DSL) -> Any:
    """The Z3 term over the reals of a real program (`variables`: name -> z3 Real term); literals
    are the rationals they print as. Raises Z3EncodingError for an operator without a Z3 form."""
    z3 = z3mod()
    check_depth(node)

    def build(n: Node) -> Any:
        if isinstance(n, Var):
            if n.name not in variables:
                raise Z3EncodingError(f"no Z3 term for {n.name!r}")
            return variables[n.name]
        if isinstance(n, Const):
            if n.type == INT:
                return z3.IntVal(n.value)
            if n.type == BOOL:
                return z3.BoolVal(n.value)
            return z3.RealVal(show_number(n.value))
        return dsl.operators[n.op].z3(*[build(a) for a in n.args])

    return build(node)
