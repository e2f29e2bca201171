"""The operator row: everything netsynth knows about one operator, in one place.

A DSL is a lark grammar plus a table of `Operator` rows; the alias of each grammar alternative is
the `name` of its row. A row holds the operator's types, its vectorized numpy semantics, its
Python source form (and a total form where Python would raise), its Z3 term and its interval
transfer function. Adding an operator is one grammar line plus one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from dsl.types import Type

#: Python operator precedence, lowest first (the printer's single source of truth).
TERNARY, OR, AND, NOT, COMPARE, BITOR, BITXOR, BITAND, SHIFT, ARITH, TERM, UNARY, ATOM = range(13)

INT64_MIN = np.iinfo(np.int64).min
INT64_MAX = np.iinfo(np.int64).max

NumpyFn = Callable[..., "tuple[np.ndarray, Optional[np.ndarray]]"]
Interval = tuple[int, int]


@dataclass(frozen=True)
class Operator:
    """One operator of a DSL.

    `numpy(*arrays)` broadcasts its arguments and returns `(values, bad)`, where `bad` marks the
    points whose true (unbounded) value does not fit the array representation, or is None when the
    operator cannot overflow. `propagate(values, bads)`, when given, says which points of the result
    depend on a bad argument (lazy operators such as `a if c else b`); by default any bad argument
    makes the point bad. `template` is the Python form with `{0}`, `{1}`... for the arguments,
    `prec` its precedence and `arg_prec` the least precedence each argument may have without
    parentheses. `total` is a form that is defined where `template` would raise, used by
    `to_python` when `needs_total(args)` says the plain form could raise. `z3(*terms)` builds the Z3
    term over bit-vectors (ints) and Booleans. `bounds(*intervals)` gives an interval holding every
    result when the arguments lie in the given intervals (int results only), which sizes the
    bit-vectors soundly. `scalar(*values)`, when given, is the operator on single values (ints
    or Booleans) in plain Python that numba can compile, without overflow checks: the enumerator's
    compiled kernels (synth/int_engine/kernels.py) use it for a Boolean result everywhere, and for an int
    result where `bounds` shows that no overflow is possible and `scalar_when(*intervals)` (if
    given) holds for the arguments' intervals. `overflow(*values)`, when given, says whether the
    true value at one point does not fit int64; `scalar` is then exact wherever it is False, and
    kernels may run anywhere, checking every point. `sympy(*exprs)` builds the operator over sympy
    expressions (integer symbols; the total semantics, with `Piecewise` where a guard is needed),
    from which LaTeX is printed; `c` is its C form over `int64_t` and `bool`, fully parenthesised,
    `{0}`, `{1}`... for the arguments, using the `ns_` helpers of `dsl.formats.C_PRELUDE` where
    C's own operators differ from Python's (floor division, modulo, shifts).
    """

    name: str
    arg_types: tuple[Type, ...]
    result_type: Type
    numpy: NumpyFn
    template: str
    prec: int
    arg_prec: tuple[int, ...]
    z3: Callable[..., Any]
    bounds: Optional[Callable[..., Interval]] = None
    total: Optional[str] = None
    needs_total: Optional[Callable[[tuple], bool]] = None
    propagate: Optional[Callable[[tuple, tuple], np.ndarray]] = None
    scalar: Optional[Callable[..., Any]] = None
    scalar_when: Optional[Callable[..., bool]] = None
    overflow: Optional[Callable[..., bool]] = None
    sympy: Optional[Callable[..., Any]] = None
    c: Optional[str] = None
    commutative: bool = False
    doc: str = ""

    @property
    def arity(self) -> int:
        return len(self.arg_types)


def infix(symbol: str, prec: int) -> dict:
    """Left-associative binary operator: `a - b - c` is `(a - b) - c`."""
    return {"template": f"{{0}} {symbol} {{1}}", "prec": prec, "arg_prec": (prec, prec + 1)}


def comparison(symbol: str) -> dict:
    """Comparisons do not chain in netsynth: both sides bind tighter."""
    return {"template": f"{{0}} {symbol} {{1}}", "prec": COMPARE, "arg_prec": (COMPARE + 1,) * 2}


def prefix(symbol: str, prec: int) -> dict:
    return {"template": f"{symbol}{{0}}", "prec": prec, "arg_prec": (prec,)}


def call(function: str, arity: int) -> dict:
    args = ", ".join(f"{{{i}}}" for i in range(arity))
    return {"template": f"{function}({args})", "prec": ATOM, "arg_prec": (TERNARY,) * arity}


def lifted(fn: Callable[..., np.ndarray]) -> NumpyFn:
    """Numpy semantics for an operator that cannot overflow."""
    return lambda *xs: (fn(*xs), None)


def z3mod() -> Any:
    """The z3 module, imported on first use so that `import dsl` stays cheap."""
    import z3

    return z3


def sympymod() -> Any:
    """The sympy module, imported on first use so that `import dsl` stays cheap."""
    import sympy

    return sympy


# ---- interval helpers ---------------------------------------------------------------------------

def signed_bits(lo: int, hi: int) -> int:
    """Smallest n such that every value in [lo, hi] fits an n-bit two's-complement word."""
    return max(lo.bit_length() if lo >= 0 else (~lo).bit_length(),
               hi.bit_length() if hi >= 0 else (~hi).bit_length()) + 1


def bitwise_bounds(a: Interval, b: Interval) -> Interval:
    # Both arguments fit n-bit two's complement, so does any bitwise combination of them.
    n = max(signed_bits(*a), signed_bits(*b))
    return -(1 << (n - 1)), (1 << (n - 1)) - 1


def corners(fn: Callable[[int, int], int], a: Interval, b: Interval) -> Interval:
    values = [fn(x, y) for x in a for y in b]
    return min(values), max(values)


def magnitude(a: Interval) -> int:
    return max(abs(a[0]), abs(a[1]))
