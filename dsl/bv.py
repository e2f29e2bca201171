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
    then the `int` DSL's Boolean connectives and an if-then-else."""
    W, M, H = width, (1 << width) - 1, 1 << (width - 1)
    # ---- the scalar forms: plain Python on W-bit values, compiled by numba for the kernels ------
    add = lambda a, b: (a + b) & M                                          # noqa: E731
    sub = lambda a, b: (a - b) & M                                          # noqa: E731
    mul = lambda a, b: (a * b) & M                                          # noqa: E731
    udiv = lambda a, b: a // b if b != 0 else M                             # noqa: E731
    urem = lambda a, b: a % b if b != 0 else a                              # noqa: E731
    shl = lambda a, n: (a << n) & M if n < W else 0                         # noqa: E731
    lshr = lambda a, n: a >> n if n < W else 0                              # noqa: E731
    ashr = lambda a, n: (((a ^ H) - H) >> min(n, W - 1)) & M                # noqa: E731
    rotl = lambda a, n: ((a << (n % W)) | (a >> (W - n % W))) & M           # noqa: E731
    rotr = lambda a, n: ((a >> (n % W)) | (a << (W - n % W))) & M           # noqa: E731
    slt = lambda a, b: (a ^ H) < (b ^ H)                                    # noqa: E731
    sle = lambda a, b: (a ^ H) <= (b ^ H)                                   # noqa: E731
    sgt = lambda a, b: (a ^ H) > (b ^ H)                                    # noqa: E731
    sge = lambda a, b: (a ^ H) >= (b ^ H)                                   # noqa: E731

    def sdiv(a, b):   # bvsdiv: the quotient of the magnitudes, negative iff the signs differ
        if b == 0:
            return 1 if a & H else M
        q = abs((a ^ H) - H) // abs((b ^ H) - H)
        return (-q if (a ^ b) & H else q) & M

    def srem(a, b):   # bvsrem: the remainder of the magnitudes, with the dividend's sign
        if b == 0:
            return a
        r = abs((a ^ H) - H) % abs((b ^ H) - H)
        return (-r if a & H else r) & M

    # ---- numpy: the same on arrays, and which points have an argument that is no W-bit value --
    def outside(*args) -> np.ndarray | None:
        flags = [(x < 0) | (x > M) for x in args if x.dtype != np.bool_]
        if not any(f.any() for f in flags):   # on the arguments, before they broadcast
            return None
        return functools.reduce(np.logical_or, flags)

    def vector(fn: Callable) -> Callable:
        return lambda *args: (fn(*args), outside(*args))

    def nonzero(b):
        return np.where(b == 0, 1, b)

    def np_sdiv(a, b):
        q = np.abs((a ^ H) - H) // np.abs((nonzero(b) ^ H) - H)
        q = np.where((a ^ b) & H, -q, q) & M
        return np.where(b == 0, np.where(a & H, 1, M), q)

    def np_srem(a, b):
        r = np.abs((a ^ H) - H) % np.abs((nonzero(b) ^ H) - H)
        return np.where(b == 0, a, np.where(a & H, -r, r) & M)

    def np_rotate(a, n, left: bool):
        k = n % W
        high, low = (a << k, a >> (W - k)) if left else (a << (W - k), a >> k)
        return (high | low) & M

    numpy = {
        "add": lambda a, b: (a + b) & M, "sub": lambda a, b: (a - b) & M,
        "mul": lambda a, b: (a * b) & M,
        "udiv": lambda a, b: np.where(b == 0, M, a // nonzero(b)),
        "urem": lambda a, b: np.where(b == 0, a, a % nonzero(b)),
        "sdiv": np_sdiv, "srem": np_srem, "negate": lambda a: -a & M, "invert": lambda a: a ^ M,
        "bitand": np.bitwise_and, "bitor": np.bitwise_or, "bitxor": np.bitwise_xor,
        "shl": lambda a, n: np.where(n < W, (a << np.minimum(n, W - 1)) & M, 0),
        "lshr": lambda a, n: np.where(n < W, a >> np.minimum(n, W - 1), 0),
        "ashr": lambda a, n: ((a ^ H) - H) >> np.minimum(n, W - 1) & M,
        "rotl": lambda a, n: np_rotate(a, n, True), "rotr": lambda a, n: np_rotate(a, n, False),
        "eq": np.equal, "ne": np.not_equal, "ult": np.less, "ule": np.less_equal,
        "ugt": np.greater, "uge": np.greater_equal,
        "slt": lambda a, b: (a ^ H) < (b ^ H), "sle": lambda a, b: (a ^ H) <= (b ^ H),
        "sgt": lambda a, b: (a ^ H) > (b ^ H), "sge": lambda a, b: (a ^ H) >= (b ^ H),
    }

    # ---- Z3: native W-bit terms inside, the caller's width outside --------------------------
    def z3row(fn: Callable) -> Callable:
        def build(*terms):
            z3 = z3mod()
            wide = terms[0].size()
            if wide < W:
                raise DSLError(f"{width}-bit operator given {wide}-bit vectors")
            narrow = [t if t.size() == W else z3.Extract(W - 1, 0, t) for t in terms]
            out = fn(z3, *narrow)
            return out if z3.is_bool(out) or wide == W else z3.ZeroExt(wide - W, out)
        return build

    z3 = {
        "add": lambda z, a, b: a + b, "sub": lambda z, a, b: a - b, "mul": lambda z, a, b: a * b,
        "udiv": lambda z, a, b: z.UDiv(a, b), "urem": lambda z, a, b: z.URem(a, b),
        "sdiv": lambda z, a, b: a / b, "srem": lambda z, a, b: z.SRem(a, b),   # bvsdiv, bvsrem
        "negate": lambda z, a: -a, "invert": lambda z, a: ~a,
        "bitand": lambda z, a, b: a & b, "bitor": lambda z, a, b: a | b,
        "bitxor": lambda z, a, b: a ^ b,
        "shl": lambda z, a, n: a << n, "lshr": lambda z, a, n: z.LShR(a, n),
        "ashr": lambda z, a, n: a >> n,                                        # bvashr
        "rotl": lambda z, a, n: z.RotateLeft(a, n), "rotr": lambda z, a, n: z.RotateRight(a, n),
        "eq": lambda z, a, b: a == b, "ne": lambda z, a, b: a != b,
        "ult": lambda z, a, b: z.ULT(a, b), "ule": lambda z, a, b: z.ULE(a, b),
        "ugt": lambda z, a, b: z.UGT(a, b), "uge": lambda z, a, b: z.UGE(a, b),
        "slt": lambda z, a, b: a < b, "sle": lambda z, a, b: a <= b,
        "sgt": lambda z, a, b: a > b, "sge": lambda z, a, b: a >= b,
    }

    # ---- sympy (LaTeX is printed from it) and C (over int64_t holding W-bit values) ---------
    modulo = lambda e: sympymod().Mod(e, 1 << W)                           # noqa: E731
    signed = lambda e: sympymod().Mod(e + H, 1 << W) - H                    # noqa: E731

    def sp_compare(name: str, wrap: Callable) -> Callable:
        base = _INT_ROWS[name].sympy
        return lambda a, b: base(wrap(a), wrap(b))

    def sp_shr(a, n):
        return sympymod().floor(a / 2**n)

    sympy = {
        "add": lambda a, b: modulo(a + b), "sub": lambda a, b: modulo(a - b),
        "mul": lambda a, b: modulo(a * b), "negate": lambda a: modulo(-a),
        "invert": lambda a: M - a, "shl": lambda a, n: modulo(a * 2**n),
        "lshr": sp_shr, "ashr": lambda a, n: modulo(sp_shr(signed(a), n)),
        **{name: _INT_ROWS[name].sympy for name in ("bitand", "bitor", "bitxor", "eq", "ne")},
        **{f"u{r}": sp_compare(r, lambda e: e) for r in ("lt", "le", "gt", "ge")},
        **{f"s{r}": sp_compare(r, signed) for r in ("lt", "le", "gt", "ge")},
    }
    for name, fn in (("udiv", udiv), ("urem", urem), ("sdiv", sdiv), ("srem", srem),
                     ("rotl", rotl), ("rotr", rotr)):
        sympy[name] = functools.partial(_sp_function, name, fn)

    m = f"0x{M:x}u"
    wrap = lambda e: f"((int64_t)(({e}) & {m}))"                            # noqa: E731
    sx = lambda i: f"(({{{i}}} ^ {H}) - {H})"                               # noqa: E731
    c = {
        "add": wrap("(uint64_t){0} + (uint64_t){1}"), "sub": wrap("(uint64_t){0} - (uint64_t){1}"),
        "mul": wrap("(uint64_t){0} * (uint64_t){1}"), "negate": wrap("0 - (uint64_t){0}"),
        "udiv": f"({{1}} == 0 ? {M} : {{0}} / {{1}})", "urem": "({1} == 0 ? {0} : {0} % {1})",
        "sdiv": f"({{1}} == 0 ? (({{0}} & {H}) ? 1 : {M}) : {wrap(f'(uint64_t)({sx(0)} / {sx(1)})')})",
        "srem": f"({{1}} == 0 ? {{0}} : {wrap(f'(uint64_t)({sx(0)} % {sx(1)})')})",
        "invert": f"({{0}} ^ {M})", "bitand": "({0} & {1})", "bitor": "({0} | {1})",
        "bitxor": "({0} ^ {1})",
        "shl": f"({{1}} >= {W} ? 0 : {wrap('(uint64_t){0} << {1}')})",
        "lshr": f"({{1}} >= {W} ? 0 : {{0}} >> {{1}})",
        "ashr": wrap(f"(uint64_t)({sx(0)} >> ({{1}} >= {W} ? {W - 1} : {{1}}))"),
        "rotl": wrap(f"((uint64_t){{0}} << ({{1}} % {W})) | ((uint64_t){{0}} >> ({W} - {{1}} % {W}))"),
        "rotr": wrap(f"((uint64_t){{0}} >> ({{1}} % {W})) | ((uint64_t){{0}} << ({W} - {{1}} % {W}))"),
        "eq": "({0} == {1})", "ne": "({0} != {1})",
        "ult": "({0} < {1})", "ule": "({0} <= {1})", "ugt": "({0} > {1})", "uge": "({0} >= {1})",
        **{f"s{r}": f"(({{0}} ^ {H}) {op} ({{1}} ^ {H}))"
           for r, op in (("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="))},
    }

    # ---- the rows ---------------------------------------------------------------------------
    def in_range(*intervals) -> bool:   # scalar_when: kernels only where every int is a value
        return all(0 <= lo and hi <= M for lo, hi in intervals)

    not_value = {   # overflow, for Boolean results (checked kernels); numba takes no *args
        1: lambda a: a < 0 or a > M,
        2: lambda a, b: a < 0 or a > M or b < 0 or b > M,
    }

    always = lambda args: True                                              # noqa: E731

    def row(name, arg_types, result, form, *, scalar, total=None, doc="", **extra) -> Operator:
        checks = ({"scalar_when": in_range, "bounds": lambda *_: (0, M)} if result == INT
                  else {"overflow": not_value[len(arg_types)]})
        return Operator(name, arg_types, result, vector(numpy[name]), **form,
                        total=total, needs_total=always if total else None, scalar=scalar,
                        z3=z3row(z3[name]), sympy=sympy[name], c=c[name], doc=doc,
                        **checks, **extra)

    def signed_compare(symbol: str) -> dict:    # their Python form puts operands under `^`
        return {**comparison(symbol), "arg_prec": (BITXOR, BITXOR)}

    return (
        # arithmetic modulo 2^W -------------------------------------------------------------------
        row("add", I2, INT, infix("+", ARITH), scalar=add, total=f"(({{0}} + {{1}}) & {M})",
            commutative=True),
        row("sub", I2, INT, infix("-", ARITH), scalar=sub, total=f"(({{0}} - {{1}}) & {M})"),
        row("mul", I2, INT, infix("*", TERM), scalar=mul, total=f"(({{0}} * {{1}}) & {M})",
            commutative=True),
        row("udiv", I2, INT, infix("/u", TERM), scalar=udiv,
            total=f"({{0}} // {{1}} if {{1}} else {M})", doc=f"unsigned division; x /u 0 == {M}"),
        row("urem", I2, INT, infix("%u", TERM), scalar=urem,
            total="({0} % {1} if {1} else {0})", doc="unsigned remainder; x %u 0 == x"),
        row("sdiv", I2, INT, infix("/s", TERM), scalar=sdiv,
            total=f"((abs(({{0}} ^ {H}) - {H}) // abs(({{1}} ^ {H}) - {H}) "
                  f"* (-1 if ({{0}} ^ {{1}}) & {H} else 1) & {M}) if {{1}} "
                  f"else (1 if {{0}} & {H} else {M}))",
            doc="signed division rounding toward zero (bvsdiv)"),
        row("srem", I2, INT, infix("%s", TERM), scalar=srem,
            total=f"((abs(({{0}} ^ {H}) - {H}) % abs(({{1}} ^ {H}) - {H}) "
                  f"* (-1 if {{0}} & {H} else 1) & {M}) if {{1}} else {{0}})",
            doc="signed remainder with the dividend's sign (bvsrem)"),
        row("negate", (INT,), INT, prefix("-", UNARY), scalar=lambda a: -a & M,
            total=f"(-{{0}} & {M})", doc="two's complement negation (bvneg)"),
        # bitwise -----------------------------------------------------------------------------------
        row("bitand", I2, INT, infix("&", BITAND), scalar=lambda a, b: a & b, commutative=True),
        row("bitor", I2, INT, infix("|", BITOR), scalar=lambda a, b: a | b, commutative=True),
        row("bitxor", I2, INT, infix("^", BITXOR), scalar=lambda a, b: a ^ b, commutative=True),
        row("invert", (INT,), INT, prefix("~", UNARY), scalar=lambda a: a ^ M,
            total=f"({{0}} ^ {M})"),
        # shifts and rotations --------------------------------------------------------------------
        row("shl", I2, INT, infix("<<", SHIFT), scalar=shl,
            total=f"(({{0}} << {{1}}) & {M} if 0 <= {{1}} < {W} else 0)",
            doc=f"left shift; a count of {W} or more gives 0"),
        row("lshr", I2, INT, infix(">>u", SHIFT), scalar=lshr,
            total="({0} >> {1} if {1} >= 0 else 0)",
            doc="logical right shift"),
        row("ashr", I2, INT, infix(">>s", SHIFT), scalar=ashr,
            total=f"((({{0}} ^ {H}) - {H} >> {{1}}) & {M} if {{1}} >= 0 else 0)",
            doc=f"arithmetic right shift; a count of {W} or more fills with the sign"),
        row("rotl", I2, INT, call("rotl", 2), scalar=rotl,
            total=f"(({{0}} << {{1}} % {W} | {{0}} >> {W} - {{1}} % {W}) & {M})",
            doc=f"rotate left by the count modulo {W}"),
        row("rotr", I2, INT, call("rotr", 2), scalar=rotr,
            total=f"(({{0}} >> {{1}} % {W} | {{0}} << {W} - {{1}} % {W}) & {M})",
            doc=f"rotate right by the count modulo {W}"),
        # comparisons -------------------------------------------------------------------------------
        row("eq", I2, BOOL, comparison("=="), scalar=lambda a, b: a == b, commutative=True),
        row("ne", I2, BOOL, comparison("!="), scalar=lambda a, b: a != b, commutative=True),
        row("ult", I2, BOOL, comparison("<u"), scalar=lambda a, b: a < b, total="({0} < {1})"),
        row("ule", I2, BOOL, comparison("<=u"), scalar=lambda a, b: a <= b,
            total="({0} <= {1})"),
        row("ugt", I2, BOOL, comparison(">u"), scalar=lambda a, b: a > b, total="({0} > {1})"),
        row("uge", I2, BOOL, comparison(">=u"), scalar=lambda a, b: a >= b,
            total="({0} >= {1})"),
        row("slt", I2, BOOL, signed_compare("<s"), scalar=slt,
            total=f"(({{0}} ^ {H}) < ({{1}} ^ {H}))"),
        row("sle", I2, BOOL, signed_compare("<=s"), scalar=sle,
            total=f"(({{0}} ^ {H}) <= ({{1}} ^ {H}))"),
        row("sgt", I2, BOOL, signed_compare(">s"), scalar=sgt,
            total=f"(({{0}} ^ {H}) > ({{1}} ^ {H}))"),
        row("sge", I2, BOOL, signed_compare(">=s"), scalar=sge,
            total=f"(({{0}} ^ {H}) >= ({{1}} ^ {H}))"),
        # Boolean connectives (no int arguments: the int DSL's rows) and if-then-else -----------
        *(_INT_ROWS[name] for name in ("and", "or", "not")),
        _ite(_INT_ROWS["ite"], in_range, M),
    )


def _ite(base: Operator, in_range: Callable, M: int) -> Operator:
    """`a if c else b` of the int DSL, but a branch taken that is no W-bit value is bad."""
    def numpy(a, c, b):
        out = np.where(c, a, b)
        bad = (out < 0) | (out > M) if out.dtype != np.bool_ else None
        return out, (bad if bad is not None and bad.any() else None)

    from dataclasses import replace

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


def _sp_function(name: str, fn: Callable, *args):
    return _function_class(name, fn)(*args)
