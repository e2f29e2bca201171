"""Operator rows of the `clamp` test DSL (grammar: clamp.lark): the int rows plus one new row.

`clamp(v, lo, hi)` is `min(max(v, lo), hi)`, so it is `hi` when `lo > hi`. Its DSL spelling is not
Python, so the exported (import-free) Python form is given as `total`, used everywhere
(`needs_total` always true); the DSL printer keeps the `clamp(...)` spelling so that programs parse
back.

Why not `gcd`, which the issue suggests: its Python form needs a loop or `math.gcd` (an exported
program must be a single import-free expression), and its Z3 term would be an unrolled Euclid
loop; both would be a stretch. `clamp` has an exact expression form in Python and in Z3.
"""

from __future__ import annotations

import numpy as np

from dsl.int import OPERATORS as INT_OPERATORS
from dsl.ops import Operator, call, lifted, z3mod
from dsl.types import INT


def _numpy(v, lo, hi):
    return np.minimum(np.maximum(v, lo), hi)


def _z3(v, lo, hi):
    z3 = z3mod()
    raised = z3.If(v >= lo, v, lo)
    return z3.If(raised <= hi, raised, hi)


def _bounds(v, lo, hi):
    # max(v, lo) lies in [max(v.lo, lo.lo), max(v.hi, lo.hi)]; min with hi likewise.
    return min(max(v[0], lo[0]), hi[0]), min(max(v[1], lo[1]), hi[1])


OPERATORS = [
    *INT_OPERATORS,
    Operator("clamp", (INT, INT, INT), INT, lifted(_numpy), **call("clamp", 3),
             total="min(max({0}, {1}), {2})", needs_total=lambda args: True,
             scalar=lambda v, lo, hi: min(max(v, lo), hi),
             z3=_z3, bounds=_bounds, doc="clamp(v, lo, hi) == min(max(v, lo), hi)"),
]
