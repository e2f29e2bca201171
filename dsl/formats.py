"""Exports of an expression beyond Python: sympy, LaTeX, C and SMT-LIB.

Each comes from the operator rows (`Operator.sympy`, `Operator.c`, `Operator.z3`), so an operator's
forms stay in its one row.

- `to_sympy(node, dsl)`: a sympy expression over integer symbols with the DSL's total semantics
  (`Piecewise` where a guard is needed, e.g. `x // 0 == 0`); bitwise operators are the functions
  `BitAnd`, `BitOr`, `BitXor`, which print as infix operators in LaTeX.
- `to_latex(node, dsl)`: `sympy.latex` of that.
- `to_c(node, inputs, name, dsl)`: a C99 function over `int64_t` (and `bool`), preceded by the
  `ns_` helpers that give Python's floor division, modulo and shifts. It computes exactly what the
  Python export computes wherever no intermediate value leaves int64, which the verifier's
  fidelity check ensures on the training domain (a point that overflows counts as a disagreement).
- `to_smtlib(node, types, ranges, name, dsl)`: an SMT-LIB `define-fun` over bit-vectors wide
  enough that no sub-term wraps for inputs in `ranges` (docs/semantics.md).

Raises DSLError for an operator (of a user DSL) that lacks the form asked for.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

from dsl.ast import Const, Node, Var
from dsl.errors import DSLError
from dsl.language import DSL, check_depth, get_dsl
from dsl.types import BOOL, REAL

C_PRELUDE = """\
#include <stdbool.h>
#include <stdint.h>

/* Python's semantics, made total as in netsynth's int DSL: x // 0 == 0, x % 0 == x, and a
   negative shift count gives 0. */
static inline int64_t ns_floordiv(int64_t a, int64_t b) {
    if (b == 0) return 0;
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static inline int64_t ns_mod(int64_t a, int64_t b) {
    if (b == 0) return a;
    int64_t m = a % b;
    return (m != 0 && ((m < 0) != (b < 0))) ? m + b : m;
}
static inline int64_t ns_abs(int64_t a) { return a < 0 ? -a : a; }
static inline int64_t ns_min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t ns_max(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t ns_shl(int64_t a, int64_t n) {
    return (n < 0 || n > 63) ? 0 : (int64_t)((uint64_t)a << n);
}
static inline int64_t ns_shr(int64_t a, int64_t n) { return n < 0 ? 0 : a >> (n > 63 ? 63 : n); }
"""


def to_sympy(node: Node, *, dsl: DSL | None = None) -> Any:
    import sympy

    check_depth(node)
    language = dsl or get_dsl("int")
    symbols: dict[str, Any] = {}

    def build(n: Node) -> Any:
        if isinstance(n, Var):
            if n.name not in symbols:
                symbols[n.name] = sympy.Symbol(n.name, integer=True) if n.type not in (BOOL, REAL) \
                    else sympy.Symbol(n.name, real=True) if n.type == REAL else sympy.Symbol(n.name)
            return symbols[n.name]
        if isinstance(n, Const) and n.type == REAL:
            return _sympy_real(n.value)
        if isinstance(n, Const):
            return sympy.true if n.value is True else sympy.false if n.value is False \
                else sympy.Integer(n.value)
        row = _row(language, n.op, "sympy")
        return row.sympy(*[build(a) for a in n.args])

    return build(node)


def to_latex(node: Node, *, dsl: DSL | None = None) -> str:
    import sympy

    return sympy.latex(to_sympy(node, dsl=dsl))


def to_c(node: Node, inputs: Sequence[str], types: Mapping[str, Any], *, name: str = "f",
         dsl: DSL | None = None) -> str:
    check_depth(node)
    language = dsl or get_dsl("int")

    def build(n: Node) -> str:
        if isinstance(n, Var):
            return n.name
        if isinstance(n, Const) and n.type == REAL:
            return _c_real(n.value)
        if isinstance(n, Const):
            return ("true" if n.value else "false") if n.type == BOOL else _c_int(n.value)
        row = _row(language, n.op, "c")
        return row.c.format(*[build(a) for a in n.args])

    def c_type(t: Any) -> str:
        return "bool" if t == BOOL else "double" if t == REAL else "int64_t"

    params = ", ".join(f"{c_type(types[i])} {i}" for i in inputs) or "void"
    prelude = C_PRELUDE + ("#include <math.h>\n" if node.type == REAL or REAL in types.values()
                           else "")
    return f"{prelude}\n{c_type(node.type)} {name}({params}) {{\n    return {build(node)};\n}}\n"


def to_smtlib(node: Node, types: Mapping[str, Any], ranges: Mapping[str, tuple[int, int]], *,
              name: str = "f", dsl: DSL | None = None) -> str:
    from dsl.smt import bit_width, make_variables, to_z3

    language = dsl or get_dsl("int")
    int_ranges = {k: v for k, v in ranges.items() if types[k] != BOOL}
    width = bit_width([node], int_ranges, dsl=language)
    variables = make_variables(types, width)
    term = to_z3(node, variables, dsl=language, width=width)
    sort = lambda t: "Bool" if t == BOOL else f"(_ BitVec {width})"  # noqa: E731
    params = " ".join(f"({k} {sort(t)})" for k, t in types.items())
    return f"(define-fun {name} ({params}) {sort(node.type)}\n  {term.sexpr()})\n"


def _row(language: DSL, op: str, form: str) -> Any:
    row = language.operators[op]
    if getattr(row, form) is None:
        raise DSLError(f"operator {op!r} of DSL {language.name!r} has no {form} form; add "
                       f"`{form}=` to its row to export programs that use it")
    return row


def _sympy_real(value: float) -> Any:
    """A real literal for sympy: an exact rational when it is a simple one (0.5 is 1/2, 0.25 is
    1/4), else a float (2.37 prints as 2.37)."""
    import sympy

    from dsl.real import show_number

    exact = sympy.Rational(show_number(value))
    return exact if exact.q <= 16 else sympy.Float(show_number(value), 15)


def _c_real(value: float) -> str:
    text = repr(float(value))
    return f"({text})" if value < 0 else text


def _c_int(value: int) -> str:
    if value == -(1 << 63):
        return "INT64_MIN"
    return f"INT64_C({value})" if abs(value) > (1 << 31) - 1 else str(value)


@functools.cache
def _bitwise(symbol: str, name: str) -> Any:
    import sympy

    class Bitwise(sympy.Function):
        """An uninterpreted integer function for a bitwise operator, printed infix in LaTeX."""

        is_integer = True

        @classmethod
        def eval(cls, a: Any, b: Any) -> Any:
            if a.is_Integer and b.is_Integer:
                return sympy.Integer({"&": int.__and__, "|": int.__or__, "^": int.__xor__}[symbol](int(a), int(b)))
            return None

        def _latex(self, printer: Any) -> str:
            a, b = (printer._print(x) for x in self.args)
            op = {"&": r"\mathbin{\&}", "|": r"\mathbin{|}", "^": r"\oplus"}[symbol]
            return rf"\left({a} {op} {b}\right)"

    Bitwise.__name__ = Bitwise.__qualname__ = name
    return Bitwise


def BitAnd() -> Any:  # noqa: N802 (they name sympy functions)
    return _bitwise("&", "BitAnd")


def BitOr() -> Any:  # noqa: N802
    return _bitwise("|", "BitOr")


def BitXor() -> Any:  # noqa: N802
    return _bitwise("^", "BitXor")
