"""Operator rows of the built-in `int` DSL (grammar: dsl/int.lark).

Semantics are Python's on unbounded integers, made total (docs/semantics.md):
  x // 0 == 0 and x % 0 == x (so x == (x // y) * y + x % y still holds);
  a negative shift count gives 0 (Python raises); a huge left shift is a huge number (numpy flags it
  as overflow), a huge right shift gives 0 or -1 as in Python.
numpy works on int64 and marks as `bad` every point whose true value does not fit; the enumerator
discards such candidates and the verifier reports them. Z3 terms are over two's-complement
bit-vectors whose width `dsl.smt.bit_width` derives from the `bounds` column, so they never wrap.
"""

from __future__ import annotations

import math

import numpy as np

from dsl.ops import (
    AND, ARITH, BITAND, BITOR, BITXOR, INT64_MIN, NOT, OR, SHIFT, TERM, TERNARY, UNARY,
    Operator, bitwise_bounds, call, comparison, corners, infix, lifted, magnitude, prefix,
    sympymod, z3mod,
)
from dsl.ast import Const
from dsl.types import BOOL, INT, T

I2, B2 = (INT, INT), (BOOL, BOOL)


# ---- numpy semantics with exact int64 overflow detection ---------------------------------------

def _add(a, b):
    r = a + b
    return r, ((a ^ r) & (b ^ r)) < 0          # overflow iff both operands' signs differ from r's


def _sub(a, b):
    r = a - b
    return r, ((a ^ b) & (a ^ r)) < 0


def _mul(a, b):
    r = a * b
    # The float product is within a relative 2^-52 of the true one; the threshold sits below 2^63
    # by more than that, so no true overflow is missed (a few huge exact products are also flagged).
    return r, np.abs(a.astype(np.float64) * b) >= 9.2e18


def _floordiv(a, b):
    zero = b == 0
    with np.errstate(divide="ignore", over="ignore"):
        if zero.any():
            r = np.where(zero, 0, np.floor_divide(a, np.where(zero, 1, b)))
        else:   # the common case, without the full-size temporaries of np.where
            r = np.floor_divide(a, b)
    minus_one = b == -1
    if minus_one.any() and (a == INT64_MIN).any():
        return r, (a == INT64_MIN) & minus_one
    return r, None


def _mod(a, b):
    zero = b == 0
    with np.errstate(divide="ignore"):
        if zero.any():
            return np.where(zero, a, np.remainder(a, np.where(zero, 1, b))), None
        return np.remainder(a, b), None


def _lshift(a, n):
    # Flags are worked out on the arguments (often much smaller than the broadcast result), and
    # the rare cases (negative or huge counts) cost full-size passes only when they occur.
    k = np.clip(n, 0, 63)
    r = np.left_shift(a, k)
    lost = np.right_shift(r, k) != a
    if (n > 63).any():
        lost |= (n > 63) & (a != 0)
    negative = n < 0                    # counted as 0 above, so never flagged
    if negative.any():
        r = np.where(negative, 0, r)
    return r, lost


def _rshift(a, n):
    # Shifting an int64 right by 63 already gives Python's answer (0 or -1) for any larger count.
    return np.where(n < 0, 0, np.right_shift(a, np.clip(n, 0, 63))), None


# ---- scalar forms (the enumerator's compiled kernels; see Operator.scalar) ----------------

#: Below this magnitude every int is a float64 and floor(fl(a / b)) == a // b: the quotient is at
#: least 1/|b| away from the next integer, more than the rounding error |a / b| * 2^-53. A float
#: division vectorizes; an int64 division does not, and costs ten times more.
FLOAT_EXACT = 1 << 52


def _float_exact(a, b) -> bool:
    return max(map(abs, (*a, *b))) < FLOAT_EXACT


def _scalar_floordiv(a, b):
    return 0 if b == 0 else math.floor(a / b)


def _scalar_mod(a, b):
    return a if b == 0 else a - b * math.floor(a / b)


def _scalar_lshift(a, n):
    return 0 if n < 0 or n > 63 else a << n


def _lshift_overflow(a, n):
    return (a != 0 and n > 63) or (0 <= n <= 63 and (a << n) >> n != a)


def _scalar_rshift(a, n):
    # Shifting an int64 right by 63 already gives Python's answer (0 or -1) for any larger count.
    return 0 if n < 0 else a >> min(n, 63)


def _neg(a):
    return -a, a == INT64_MIN


def _abs(a):
    return np.abs(a), a == INT64_MIN


def _ite(a, c, b):
    return np.where(c, a, b), None


# ---- lazy operators: a bad value in a branch Python never evaluates does not matter ----------

def _ite_bad(values, bads):
    _, c, _ = values
    return np.where(c, bads[0], bads[2]) | bads[1]


def _and_bad(values, bads):
    return bads[0] | (values[0] & bads[1])


def _or_bad(values, bads):
    return bads[0] | (~values[0] & bads[1])


# ---- Z3 terms over signed bit-vectors ----------------------------------------------------------

def _z3_floordiv(a, b):
    z3 = z3mod()
    m = z3.SRem(a, b)
    floor_mod = z3.If(z3.And(m != 0, (m < 0) != (b < 0)), m + b, m)  # sign of the divisor
    return z3.If(b == 0, 0, (a - floor_mod) / b)                     # exact division


def _z3_mod(a, b):
    z3 = z3mod()
    m = z3.SRem(a, b)
    return z3.If(b == 0, a, z3.If(z3.And(m != 0, (m < 0) != (b < 0)), m + b, m))


def _z3_if(c, a, b):
    return z3mod().If(c, a, b)


# ---- sympy forms (LaTeX is printed from these) -----------------------------------------------

def _sp(name: str):
    """A builder calling the sympy function `name` (sympy is imported on first use)."""
    return lambda *args: getattr(sympymod(), name)(*args)


def _condition(relation):
    """A comparison as a plain Boolean: one whose sides are Piecewise (an int `ite`) is unfolded
    into And/Or over the branches, as sympy (1.14) mis-simplifies Piecewise inside conditions."""
    sp = sympymod()
    folded = sp.piecewise_fold(relation)
    if not isinstance(folded, sp.Piecewise):
        return folded
    terms, earlier = [], sp.false
    for value, when in folded.args:
        terms.append(sp.And(when, sp.Not(earlier), value))
        earlier = sp.Or(earlier, when)
    return sp.Or(*terms)


def _compare(name: str):
    return lambda a, b: _condition(getattr(sympymod(), name)(a, b))


def _sp_floordiv(a, b):
    sp = sympymod()
    if b.is_zero:                       # a literal 0 (or an expression sympy folds to one)
        return sp.Integer(0)
    if b.is_zero is False:              # known non-zero: no guard
        return sp.floor(a / b)
    return sp.Piecewise((0, _condition(sp.Eq(b, 0))), (sp.floor(a / b), True))


def _sp_mod(a, b):
    sp = sympymod()
    if b.is_zero:
        return a
    if b.is_zero is False:
        return sp.Mod(a, b)
    return sp.Piecewise((a, _condition(sp.Eq(b, 0))), (sp.Mod(a, b), True))


def _sp_shift(left: bool):
    def build(a, n):
        sp = sympymod()
        shifted = a * 2**n if left else sp.floor(a / 2**n)
        return sp.Piecewise((0, _condition(sp.Lt(n, 0))), (shifted, True))
    return build


def _sp_ite(a, c, b):
    sp = sympymod()
    def boolean(e) -> bool:     # int inputs are Symbols too (a Symbol is a sympy Boolean)
        return isinstance(e, sp.logic.boolalg.Boolean) and not (isinstance(e, sp.Symbol) and e.is_integer)

    if boolean(a) or boolean(b):
        return sp.ITE(c, a, b)                      # Booleans: sympy's own if-then-else
    return sp.Piecewise((a, c), (b, True))


def _sp_bitwise(name: str):
    def build(a, b):
        from dsl import formats          # its sympy functions subclass sympy's, loaded on use

        return getattr(formats, name)()(a, b)
    return build


# ---- which exported forms need a guard --------------------------------------------------------

def _unless_nonzero_literal(args):
    return not (isinstance(args[1], Const) and args[1].value != 0)


def _unless_nonnegative_literal(args):
    return not (isinstance(args[1], Const) and args[1].value >= 0)


#: Left-shift counts above this are bounded as if they were this: the bound stays far beyond any
#: machine word and any width Z3 is given (dsl.smt.MAX_WIDTH), without building a 2^60-bit int.
SHIFT_CAP = 1 << 13


def _shift_bounds(a, n):
    top = min(max(n[1], 0), SHIFT_CAP)
    lo, hi = min(0, a[0], a[0] << top), max(0, a[1], a[1] << top)
    return lo, hi


OPERATORS = [
    # arithmetic ----------------------------------------------------------------------------------
    Operator("add", I2, INT, _add, **infix("+", ARITH), commutative=True,
             sympy=lambda a, b: a + b, c="({0} + {1})",
             scalar=lambda a, b: a + b,
             z3=lambda a, b: a + b, bounds=lambda a, b: (a[0] + b[0], a[1] + b[1])),
    Operator("sub", I2, INT, _sub, **infix("-", ARITH), scalar=lambda a, b: a - b,
             sympy=lambda a, b: a - b, c="({0} - {1})",
             z3=lambda a, b: a - b, bounds=lambda a, b: (a[0] - b[1], a[1] - b[0])),
    Operator("mul", I2, INT, _mul, **infix("*", TERM), commutative=True,
             sympy=lambda a, b: a * b, c="({0} * {1})",
             scalar=lambda a, b: a * b,
             z3=lambda a, b: a * b, bounds=lambda a, b: corners(lambda x, y: x * y, a, b)),
    Operator("floordiv", I2, INT, _floordiv, **infix("//", TERM),
             sympy=_sp_floordiv, c="ns_floordiv({0}, {1})",
             total="({0} // {1} if {1} else 0)", needs_total=_unless_nonzero_literal,
             scalar=_scalar_floordiv, scalar_when=_float_exact,
             z3=_z3_floordiv, bounds=lambda a, b: (-magnitude(a), magnitude(a)),
             doc="floor division; x // 0 == 0"),
    Operator("mod", I2, INT, _mod, **infix("%", TERM),
             sympy=_sp_mod, c="ns_mod({0}, {1})",
             total="({0} % {1} if {1} else {0})", needs_total=_unless_nonzero_literal,
             scalar=_scalar_mod, scalar_when=_float_exact,
             z3=_z3_mod, bounds=lambda a, b: (-max(magnitude(a), magnitude(b)),
                                              max(magnitude(a), magnitude(b))),
             doc="modulo with the sign of the divisor; x % 0 == x"),
    Operator("neg", (INT,), INT, _neg, **prefix("-", UNARY), scalar=lambda a: -a,
             sympy=lambda a: -a, c="(-{0})",
             z3=lambda a: -a, bounds=lambda a: (-a[1], -a[0])),
    Operator("abs", (INT,), INT, _abs, **call("abs", 1), scalar=lambda a: abs(a),
             sympy=_sp("Abs"), c="ns_abs({0})",
             z3=lambda a: z3mod().If(a < 0, -a, a),
             bounds=lambda a: (0 if a[0] <= 0 <= a[1] else min(abs(a[0]), abs(a[1])),
                               magnitude(a))),
    Operator("min", I2, INT, lifted(np.minimum), **call("min", 2), commutative=True,
             sympy=_sp("Min"), c="ns_min({0}, {1})",
             scalar=lambda a, b: min(a, b),
             z3=lambda a, b: z3mod().If(a <= b, a, b),
             bounds=lambda a, b: (min(a[0], b[0]), min(a[1], b[1]))),
    Operator("max", I2, INT, lifted(np.maximum), **call("max", 2), commutative=True,
             sympy=_sp("Max"), c="ns_max({0}, {1})",
             scalar=lambda a, b: max(a, b),
             z3=lambda a, b: z3mod().If(a >= b, a, b),
             bounds=lambda a, b: (max(a[0], b[0]), max(a[1], b[1]))),
    # bitwise (two's complement with infinite sign extension, as Python) -----------------------
    Operator("bitand", I2, INT, lifted(np.bitwise_and), **infix("&", BITAND), commutative=True,
             sympy=_sp_bitwise("BitAnd"), c="({0} & {1})",
             scalar=lambda a, b: a & b, z3=lambda a, b: a & b, bounds=bitwise_bounds),
    Operator("bitor", I2, INT, lifted(np.bitwise_or), **infix("|", BITOR), commutative=True,
             sympy=_sp_bitwise("BitOr"), c="({0} | {1})",
             scalar=lambda a, b: a | b, z3=lambda a, b: a | b, bounds=bitwise_bounds),
    Operator("bitxor", I2, INT, lifted(np.bitwise_xor), **infix("^", BITXOR), commutative=True,
             sympy=_sp_bitwise("BitXor"), c="({0} ^ {1})",
             scalar=lambda a, b: a ^ b, z3=lambda a, b: a ^ b, bounds=bitwise_bounds),
    Operator("invert", (INT,), INT, lifted(np.invert), **prefix("~", UNARY), scalar=lambda a: ~a,
             sympy=lambda a: -a - 1, c="(~{0})",
             z3=lambda a: ~a, bounds=lambda a: (~a[1], ~a[0])),
    Operator("lshift", I2, INT, _lshift, **infix("<<", SHIFT),
             sympy=_sp_shift(True), c="ns_shl({0}, {1})",
             total="({0} << {1} if {1} >= 0 else 0)", needs_total=_unless_nonnegative_literal,
             scalar=_scalar_lshift, overflow=_lshift_overflow,
             z3=lambda a, n: z3mod().If(n < 0, 0, a << n), bounds=_shift_bounds,
             doc="left shift; a negative count gives 0"),
    Operator("rshift", I2, INT, _rshift, **infix(">>", SHIFT),
             sympy=_sp_shift(False), c="ns_shr({0}, {1})",
             total="({0} >> {1} if {1} >= 0 else 0)", needs_total=_unless_nonnegative_literal,
             scalar=_scalar_rshift,
             z3=lambda a, n: z3mod().If(n < 0, 0, a >> n),
             bounds=lambda a, n: (min(a[0], 0), max(a[1], 0)),
             doc="arithmetic right shift; a negative count gives 0"),
    # comparisons ---------------------------------------------------------------------------------
    Operator("eq", I2, BOOL, lifted(np.equal), **comparison("=="), commutative=True,
             sympy=_compare("Eq"), c="({0} == {1})",
             scalar=lambda a, b: a == b, z3=lambda a, b: a == b),
    Operator("ne", I2, BOOL, lifted(np.not_equal), **comparison("!="), commutative=True,
             sympy=_compare("Ne"), c="({0} != {1})",
             scalar=lambda a, b: a != b, z3=lambda a, b: a != b),
    Operator("lt", I2, BOOL, lifted(np.less), **comparison("<"), scalar=lambda a, b: a < b,
             sympy=_compare("Lt"), c="({0} < {1})",
             z3=lambda a, b: a < b),
    Operator("le", I2, BOOL, lifted(np.less_equal), **comparison("<="),
             sympy=_compare("Le"), c="({0} <= {1})",
             scalar=lambda a, b: a <= b, z3=lambda a, b: a <= b),
    Operator("gt", I2, BOOL, lifted(np.greater), **comparison(">"), scalar=lambda a, b: a > b,
             sympy=_compare("Gt"), c="({0} > {1})",
             z3=lambda a, b: a > b),
    Operator("ge", I2, BOOL, lifted(np.greater_equal), **comparison(">="),
             sympy=_compare("Ge"), c="({0} >= {1})",
             scalar=lambda a, b: a >= b, z3=lambda a, b: a >= b),
    # Boolean connectives -------------------------------------------------------------------------
    Operator("and", B2, BOOL, lifted(np.logical_and), **infix("and", AND), commutative=True,
             sympy=_sp("And"), c="({0} && {1})",
             propagate=_and_bad, scalar=lambda a, b: a and b, z3=lambda a, b: z3mod().And(a, b)),
    Operator("or", B2, BOOL, lifted(np.logical_or), **infix("or", OR), commutative=True,
             sympy=_sp("Or"), c="({0} || {1})",
             propagate=_or_bad, scalar=lambda a, b: a or b, z3=lambda a, b: z3mod().Or(a, b)),
    Operator("not", (BOOL,), BOOL, lifted(np.logical_not), template="not {0}", prec=NOT,
             sympy=_sp("Not"), c="(!{0})",
             arg_prec=(NOT,), scalar=lambda a: not a,
             z3=lambda a: z3mod().Not(a)),
    # conditional: `a if c else b`, arguments in text order --------------------------------------
    Operator("ite", (T, BOOL, T), T, _ite, template="{0} if {1} else {2}", prec=TERNARY,
             sympy=_sp_ite, c="({1} ? {0} : {2})",
             arg_prec=(TERNARY + 1, TERNARY + 1, TERNARY), propagate=_ite_bad,
             scalar=lambda a, c, b: a if c else b,
             z3=lambda a, c, b: _z3_if(c, a, b),
             bounds=lambda a, c, b: (min(a[0], b[0]), max(a[1], b[1]))),
]
