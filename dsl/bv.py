"""Operator rows of the built-in bit-vector DSLs `bv8`, `bv16` and `bv32` (grammar: dsl/bv.lark).

A value of `bvW` is an unsigned W-bit int, 0 ... 2^W - 1, held in the int64 arrays the enumerator
already compares; `s`-suffixed operators read it as two's complement. Arithmetic wraps modulo 2^W
and every operator is total, with SMT-LIB's meaning (docs/semantics.md, "The bit-vector DSLs"):
`x /u 0 == 2^W - 1`, `x %u 0 == x`, `/s` and `%s` as `bvsdiv` and `bvsrem`, shift counts of W or
more give 0 (`<<`, `>>u`) or the sign fill (`>>s`), rotations take the count modulo W.

Each row computes W-bit values in every back-end: numpy masks to W bits (no int64 overflow
for W <= 32); the Python export masks where Python's ints would leave the range (and, given ints
that are no W-bit value, still returns an int: shift counts below 0 give 0); the Z3 term
works on W-bit vectors natively: it reads the low W bits of its arguments, whatever their width,
and zero-extends its result back, so the verifier's vectors (sized by `dsl.smt.bit_width` from
the rows' `bounds`, [0, 2^W - 1]: W + 3 bits) hold the same unsigned values. A literal must be a
W-bit value (`BitVectorDSL.parse` refuses others); an operator applied to an int outside
[0, 2^W - 1] (a literal the search's pool offers, such as -1 or 2^W) marks the point `bad`, as
int64 overflow does in the `int` DSL, so the search discards such candidates.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Callable, Mapping

import numpy as np

from dsl.ast import App, Const, Node
from dsl.errors import DSLError
from dsl.int import OPERATORS as INT_OPERATORS
from dsl.language import DSL
from dsl.ops import (
    ARITH, BITAND, BITOR, BITXOR, SHIFT, TERM, UNARY, Operator, call, comparison, infix, prefix,
    sympymod, z3mod,
)
from dsl.types import BOOL, INT, Type

#: The widths of the built-ins, each a DSL named `bv<W>` (values of W <= 32 bits keep every
#: intermediate numpy result within int64, products excepted, which wrap modulo 2^64 harmlessly).
WIDTHS = (8, 16, 32)
I2 = (INT, INT)
_INT_ROWS = {row.name: row for row in INT_OPERATORS}


class BitVectorDSL(DSL):
    """The DSL `bv<width>`: a `DSL` whose `parse` also refuses literals outside [0, 2^width)."""

    def __init__(self, name: str, grammar: str, operators, *, width: int,
                 source: str = "<grammar>") -> None:
        super().__init__(name, grammar, operators, source=source)
        self.width = width

    def parse(self, text: str, variables: Mapping[str, Type]) -> Node:
        """As `DSL.parse`; DSLError also for a literal that is not a `width`-bit value."""
        node = super().parse(text, variables)
        top = (1 << self.width) - 1
        stack = [node]
        while stack:        # no recursion: parse has already bounded the depth, but cheaply so
            n = stack.pop()
            if isinstance(n, App):
                stack.extend(n.args)
            elif isinstance(n, Const) and n.type == INT and not 0 <= n.value <= top:
                raise DSLError(f"literal {n.value} in {text!r} is not a {self.name} value: "
                               f"expected an int in [0, {top}] (write {n.value % (top + 1)} "
                               f"for its value modulo 2^{self.width})")
        return node


def language(name: str, grammar: str, *, source: str) -> BitVectorDSL:
    """The built-in `name` ("bv8", "bv16" or "bv32"); dsl.language loads built-ins through it."""
    width = int(name.removeprefix("bv"))
    if width not in WIDTHS:
        raise DSLError(f"dsl: no built-in bit-vector DSL {name!r}; expected one of "
                       f"{[f'bv{w}' for w in WIDTHS]}")
    return BitVectorDSL(name, grammar, operators(width), width=width, source=source)


@functools.cache
def operators(width: int) -> tuple[Operator, ...]:
    """The rows of `bv<width>`: arithmetic, division, bitwise, shifts and rotations, comparisons,
    then the `int` DSL's Boolean connectives and an if-then-else.

    Each row holds the operator's forms side by side: `numpy` (arrays), `scalar` (one value,
    plain Python that numba compiles; the numpy form where one expression serves both), `total`
    (the exported Python), `z3` (given the z3 module and W-bit terms), `sympy` and `c`."""
    W, M, H = width, (1 << width) - 1, 1 << (width - 1)
    f = _Forms(W)

    def row(name, arg_types, result, form, *, numpy, scalar, z3, sympy, c, total=None, doc="",
            **extra) -> Operator:
        checks = ({"scalar_when": f.in_range, "bounds": lambda *_: (0, M)} if result == INT
                  else {"overflow": f.not_value[len(arg_types)]})
        return Operator(name, arg_types, result, f.vector(numpy), **form, total=total,
                        needs_total=_always if total else None, scalar=scalar,
                        z3=f.z3row(z3), sympy=sympy, c=c, doc=doc, **checks, **extra)

    def unsigned(name: str, symbol: str, op, python: str):
        return row(name, I2, BOOL, comparison(symbol), numpy=op, scalar=op,
                   z3=lambda z, a, b: getattr(z, name.upper())(a, b),
                   sympy=_INT_ROWS[name[1:]].sympy, c=f"({{0}} {python} {{1}})",
                   total=f"({{0}} {python} {{1}})")

    def signed(name: str, symbol: str, op, python: str):
        # The Python and C forms put the operands under `^`: operands need more than `|`.
        return row(name, I2, BOOL, {**comparison(symbol), "arg_prec": (BITXOR, BITXOR)},
                   numpy=lambda a, b: op(a ^ H, b ^ H), scalar=f.signed_scalar[name],
                   z3=lambda z, a, b: op(a, b),       # Z3's <, <=, >, >= are signed
                   sympy=lambda a, b: _INT_ROWS[name[1:]].sympy(f.sp_signed(a), f.sp_signed(b)),
                   c=f"(({{0}} ^ {H}) {python} ({{1}} ^ {H}))",
                   total=f"(({{0}} ^ {H}) {python} ({{1}} ^ {H}))")

    return (
        # arithmetic modulo 2^W --------------------------------------------------------------------
        row("add", I2, INT, infix("+", ARITH), commutative=True,
            numpy=f.add, scalar=f.add, z3=lambda z, a, b: a + b,
            sympy=lambda a, b: f.sp_mod(a + b), c=f.c_wrap("(uint64_t){0} + (uint64_t){1}"),
            total=f"(({{0}} + {{1}}) & {M})"),
        row("sub", I2, INT, infix("-", ARITH),
            numpy=f.sub, scalar=f.sub, z3=lambda z, a, b: a - b,
            sympy=lambda a, b: f.sp_mod(a - b), c=f.c_wrap("(uint64_t){0} - (uint64_t){1}"),
            total=f"(({{0}} - {{1}}) & {M})"),
        row("mul", I2, INT, infix("*", TERM), commutative=True,
            numpy=f.mul, scalar=f.mul, z3=lambda z, a, b: a * b,
            sympy=lambda a, b: f.sp_mod(a * b), c=f.c_wrap("(uint64_t){0} * (uint64_t){1}"),
            total=f"(({{0}} * {{1}}) & {M})"),
        row("udiv", I2, INT, infix("/u", TERM), doc=f"unsigned division; x /u 0 == {M}",
            numpy=lambda a, b: np.where(b == 0, M, a // _nonzero(b)), scalar=f.udiv,
            z3=lambda z, a, b: z.UDiv(a, b), sympy=f.sp_function("udiv", f.udiv),
            c=f"({{1}} == 0 ? {M} : {{0}} / {{1}})", total=f"({{0}} // {{1}} if {{1}} else {M})"),
        row("urem", I2, INT, infix("%u", TERM), doc="unsigned remainder; x %u 0 == x",
            numpy=lambda a, b: np.where(b == 0, a, a % _nonzero(b)), scalar=f.urem,
            z3=lambda z, a, b: z.URem(a, b), sympy=f.sp_function("urem", f.urem),
            c="({1} == 0 ? {0} : {0} % {1})", total="({0} % {1} if {1} else {0})"),
        row("sdiv", I2, INT, infix("/s", TERM), doc="signed division toward zero (bvsdiv)",
            numpy=f.np_sdiv, scalar=f.sdiv, z3=lambda z, a, b: a / b,       # Z3's / is bvsdiv
            sympy=f.sp_function("sdiv", f.sdiv),
            c=f"({{1}} == 0 ? (({{0}} & {H}) ? 1 : {M}) : "
              f"{f.c_wrap(f'(uint64_t)({f.c_signed(0)} / {f.c_signed(1)})')})",
            total=f"((abs(({{0}} ^ {H}) - {H}) // abs(({{1}} ^ {H}) - {H}) "
                  f"* (-1 if ({{0}} ^ {{1}}) & {H} else 1) & {M}) if {{1}} "
                  f"else (1 if {{0}} & {H} else {M}))"),
        row("srem", I2, INT, infix("%s", TERM), doc="signed remainder, the dividend's sign (bvsrem)",
            numpy=f.np_srem, scalar=f.srem, z3=lambda z, a, b: z.SRem(a, b),
            sympy=f.sp_function("srem", f.srem),
            c=f"({{1}} == 0 ? {{0}} : {f.c_wrap(f'(uint64_t)({f.c_signed(0)} % {f.c_signed(1)})')})",
            total=f"((abs(({{0}} ^ {H}) - {H}) % abs(({{1}} ^ {H}) - {H}) "
                  f"* (-1 if {{0}} & {H} else 1) & {M}) if {{1}} else {{0}})"),
        row("negate", (INT,), INT, prefix("-", UNARY), doc="two's complement negation (bvneg)",
            numpy=f.negate, scalar=f.negate, z3=lambda z, a: -a,
            sympy=lambda a: f.sp_mod(-a), c=f.c_wrap("0 - (uint64_t){0}"),
            total=f"(-{{0}} & {M})"),
        # bitwise (W-bit operands give W-bit results: Python's own operators) --------------------
        row("bitand", I2, INT, infix("&", BITAND), commutative=True,
            numpy=np.bitwise_and, scalar=lambda a, b: a & b, z3=lambda z, a, b: a & b,
            sympy=_INT_ROWS["bitand"].sympy, c="({0} & {1})"),
        row("bitor", I2, INT, infix("|", BITOR), commutative=True,
            numpy=np.bitwise_or, scalar=lambda a, b: a | b, z3=lambda z, a, b: a | b,
            sympy=_INT_ROWS["bitor"].sympy, c="({0} | {1})"),
        row("bitxor", I2, INT, infix("^", BITXOR), commutative=True,
            numpy=np.bitwise_xor, scalar=lambda a, b: a ^ b, z3=lambda z, a, b: a ^ b,
            sympy=_INT_ROWS["bitxor"].sympy, c="({0} ^ {1})"),
        row("invert", (INT,), INT, prefix("~", UNARY),
            numpy=f.invert, scalar=f.invert, z3=lambda z, a: ~a,
            sympy=lambda a: M - a, c=f"({{0}} ^ {M})", total=f"({{0}} ^ {M})"),
        # shifts and rotations (counts are W-bit values too) -------------------------------------
        row("shl", I2, INT, infix("<<", SHIFT), doc=f"left shift; a count of {W} or more gives 0",
            numpy=lambda a, n: np.where(n < W, (a << np.minimum(n, W - 1)) & M, 0),
            scalar=f.shl, z3=lambda z, a, n: a << n, sympy=lambda a, n: f.sp_mod(a * 2**n),
            c=f"({{1}} >= {W} ? 0 : {f.c_wrap('(uint64_t){0} << {1}')})",
            total=f"(({{0}} << {{1}}) & {M} if 0 <= {{1}} < {W} else 0)"),
        row("lshr", I2, INT, infix(">>u", SHIFT), doc="logical right shift",
            numpy=lambda a, n: np.where(n < W, a >> np.minimum(n, W - 1), 0),
            scalar=f.lshr, z3=lambda z, a, n: z.LShR(a, n), sympy=_sp_shr,
            c=f"({{1}} >= {W} ? 0 : {{0}} >> {{1}})", total="({0} >> {1} if {1} >= 0 else 0)"),
        row("ashr", I2, INT, infix(">>s", SHIFT),
            doc=f"arithmetic right shift; a count of {W} or more fills with the sign",
            numpy=f.ashr, scalar=f.ashr_scalar, z3=lambda z, a, n: a >> n,       # Z3's >> is bvashr
            sympy=lambda a, n: f.sp_mod(_sp_shr(f.sp_signed(a), n)),
            c=f.c_wrap(f"(uint64_t)({f.c_signed(0)} >> ({{1}} >= {W} ? {W - 1} : {{1}}))"),
            total=f"((({{0}} ^ {H}) - {H} >> {{1}}) & {M} if {{1}} >= 0 else 0)"),
        row("rotl", I2, INT, call("rotl", 2), doc=f"rotate left by the count modulo {W}",
            numpy=f.rotl, scalar=f.rotl, z3=lambda z, a, n: z.RotateLeft(a, n),
            sympy=f.sp_function("rotl", f.rotl),
            c=f.c_wrap(f"((uint64_t){{0}} << ({{1}} % {W})) | ((uint64_t){{0}} >> ({W} - {{1}} % {W}))"),
            total=f"(({{0}} << {{1}} % {W} | {{0}} >> {W} - {{1}} % {W}) & {M})"),
        row("rotr", I2, INT, call("rotr", 2), doc=f"rotate right by the count modulo {W}",
            numpy=f.rotr, scalar=f.rotr, z3=lambda z, a, n: z.RotateRight(a, n),
            sympy=f.sp_function("rotr", f.rotr),
            c=f.c_wrap(f"((uint64_t){{0}} >> ({{1}} % {W})) | ((uint64_t){{0}} << ({W} - {{1}} % {W}))"),
            total=f"(({{0}} >> {{1}} % {W} | {{0}} << {W} - {{1}} % {W}) & {M})"),
        # comparisons --------------------------------------------------------------------------------
        row("eq", I2, BOOL, comparison("=="), commutative=True,
            numpy=np.equal, scalar=lambda a, b: a == b, z3=lambda z, a, b: a == b,
            sympy=_INT_ROWS["eq"].sympy, c="({0} == {1})"),
        row("ne", I2, BOOL, comparison("!="), commutative=True,
            numpy=np.not_equal, scalar=lambda a, b: a != b, z3=lambda z, a, b: a != b,
            sympy=_INT_ROWS["ne"].sympy, c="({0} != {1})"),
        unsigned("ult", "<u", lambda a, b: a < b, "<"),
        unsigned("ule", "<=u", lambda a, b: a <= b, "<="),
        unsigned("ugt", ">u", lambda a, b: a > b, ">"),
        unsigned("uge", ">=u", lambda a, b: a >= b, ">="),
        signed("slt", "<s", lambda a, b: a < b, "<"),
        signed("sle", "<=s", lambda a, b: a <= b, "<="),
        signed("sgt", ">s", lambda a, b: a > b, ">"),
        signed("sge", ">=s", lambda a, b: a >= b, ">="),
        # Boolean connectives (no int arguments: the int DSL's rows) and if-then-else -----------
        *(_INT_ROWS[name] for name in ("and", "or", "not")),
        _ite(_INT_ROWS["ite"], f.in_range, M),
    )


class _Forms:
    """What the rows of `bv<W>` share: W-bit helpers for each back-end. The scalar forms are
    closures over ints only, so numba compiles them; most also serve numpy unchanged."""

    def __init__(self, W: int) -> None:
        M, H = (1 << W) - 1, 1 << (W - 1)
        self.add = lambda a, b: (a + b) & M
        self.sub = lambda a, b: (a - b) & M
        self.mul = lambda a, b: (a * b) & M                  # int64 wraps: the low W bits hold
        self.negate = lambda a: -a & M
        self.invert = lambda a: a ^ M
        self.udiv = lambda a, b: a // b if b != 0 else M
        self.urem = lambda a, b: a % b if b != 0 else a
        self.shl = lambda a, n: (a << n) & M if n < W else 0
        self.lshr = lambda a, n: a >> n if n < W else 0
        self.ashr = lambda a, n: ((a ^ H) - H) >> np.minimum(n, W - 1) & M
        self.ashr_scalar = lambda a, n: ((a ^ H) - H) >> min(n, W - 1) & M
        # A count of 0 shifts the other half by W: 0 for W-bit values (W <= 32 < 64).
        self.rotl = lambda a, n: ((a << n % W) | (a >> (W - n % W))) & M
        self.rotr = lambda a, n: ((a >> n % W) | (a << (W - n % W))) & M
        self.signed_scalar = {                  # numba compiles no call to another closure
            "slt": lambda a, b: (a ^ H) < (b ^ H), "sle": lambda a, b: (a ^ H) <= (b ^ H),
            "sgt": lambda a, b: (a ^ H) > (b ^ H), "sge": lambda a, b: (a ^ H) >= (b ^ H),
        }

        def sdiv(a, b):   # bvsdiv: the quotient of the magnitudes, negative iff signs differ
            if b == 0:
                return 1 if a & H else M
            q = abs((a ^ H) - H) // abs((b ^ H) - H)
            return (-q if (a ^ b) & H else q) & M

        def srem(a, b):   # bvsrem: the remainder of the magnitudes, with the dividend's sign
            if b == 0:
                return a
            r = abs((a ^ H) - H) % abs((b ^ H) - H)
            return (-r if a & H else r) & M

        def np_sdiv(a, b):
            q = np.abs((a ^ H) - H) // np.abs((_nonzero(b) ^ H) - H)
            q = np.where((a ^ b) & H, -q, q) & M
            return np.where(b == 0, np.where(a & H, 1, M), q)

        def np_srem(a, b):
            r = np.abs((a ^ H) - H) % np.abs((_nonzero(b) ^ H) - H)
            return np.where(b == 0, a, np.where(a & H, -r, r) & M)

        self.sdiv, self.srem, self.np_sdiv, self.np_srem = sdiv, srem, np_sdiv, np_srem

        # Kernels run an int result's scalar form only on blocks of W-bit values; a Boolean
        # result's checks each point (its `overflow`).
        self.in_range = lambda *intervals: all(0 <= lo and hi <= M for lo, hi in intervals)
        self.not_value = {1: lambda a: a < 0 or a > M,
                          2: lambda a, b: a < 0 or a > M or b < 0 or b > M}
        self.W, self.M, self.H = W, M, H

    def vector(self, fn: Callable) -> Callable:
        """A numpy form returning (values, which points had an argument that is no W-bit
        value), the check made on the arguments before they broadcast."""
        M = self.M

        def apply(*args):
            flags = [(x < 0) | (x > M) for x in args if x.dtype != np.bool_]
            bad = functools.reduce(np.logical_or, flags) if any(g.any() for g in flags) else None
            return fn(*args), bad
        return apply

    def z3row(self, fn: Callable) -> Callable:
        """Z3 terms: the low W bits of each argument, `fn` on W-bit vectors, the result
        zero-extended back to the arguments' width (Booleans as they are)."""
        W = self.W

        def build(*terms):
            z3 = z3mod()
            wide = terms[0].size()
            if wide < W:
                raise DSLError(f"{W}-bit operator given {wide}-bit vectors")
            out = fn(z3, *(t if t.size() == W else z3.Extract(W - 1, 0, t) for t in terms))
            return out if z3.is_bool(out) or wide == W else z3.ZeroExt(wide - W, out)
        return build

    def sp_mod(self, e):
        # Not sympy's Mod, whose simplifications go wrong on nested ones (sympy 1.14 makes
        # Mod(2*Mod(x, 128), 256) into 2*Mod(Mod(x, 128)**2, 128)): a function of its own that
        # evaluates on integers only, printed `\bmod 2^W`.
        return _modulo_class(self.W)(e)

    def sp_signed(self, e):
        """The two's-complement reading of a W-bit value, as an integer expression."""
        return self.sp_mod(e + self.H) - self.H

    def sp_function(self, name: str, fn: Callable) -> Callable:
        return functools.partial(_sp_function, name, fn)

    def c_wrap(self, e: str) -> str:
        """C: an unsigned expression's low W bits, as int64_t."""
        return f"((int64_t)(({e}) & 0x{self.M:x}u))"

    def c_signed(self, i: int) -> str:
        return f"(({{{i}}} ^ {self.H}) - {self.H})"


def _always(args) -> bool:
    return True


def _nonzero(b):
    return np.where(b == 0, 1, b)


def _sp_shr(a, n):
    return sympymod().floor(a / 2**n)


def _ite(base: Operator, in_range: Callable, M: int) -> Operator:
    """`a if c else b` of the int DSL, but a branch taken that is no W-bit value is bad."""
    def numpy(a, c, b):
        out = np.where(c, a, b)
        bad = (out < 0) | (out > M) if out.dtype != np.bool_ else None
        return out, (bad if bad is not None and bad.any() else None)

    return replace(base, numpy=numpy, bounds=lambda a, c, b: (0, M),
                   scalar_when=lambda a, c, b: in_range(a, b))


@functools.cache
def _function_class(name: str, fn: Callable):
    """A sympy function `name` that evaluates on integers with `fn` and prints as an operator."""
    sp = sympymod()

    def eval_(cls, *args):
        if all(a.is_Integer for a in args):
            return sp.Integer(fn(*(int(a) for a in args)))
        return None

    def latex(self, printer):
        return rf"\operatorname{{{name}}}\left({', '.join(printer._print(a) for a in self.args)}\right)"

    return type(name, (sp.Function,), {"is_integer": True, "eval": classmethod(eval_),
                                       "_latex": latex})


@functools.cache
def _modulo_class(W: int):
    """e modulo 2^W as a sympy function (see _Forms.sp_mod)."""
    sp = sympymod()

    def eval_(cls, e):
        return sp.Integer(int(e) % (1 << W)) if e.is_Integer else None

    def latex(self, printer):
        return rf"\left({printer._print(self.args[0])}\right) \bmod {1 << W}"

    return type(f"mod{W}", (sp.Function,), {"is_integer": True, "eval": classmethod(eval_),
                                            "_latex": latex})


def _sp_function(name: str, fn: Callable, *args):
    return _function_class(name, fn)(*args)
