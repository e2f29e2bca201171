"""Z3 terms for programs, over bit-vectors sized so that they never wrap.

Soundness: Python ints are unbounded; a W-bit two's-complement bit-vector computes exactly the same
+, -, *, //, %, &, |, ^, ~, <<, >> and comparisons as long as every intermediate value fits W bits
(bitwise operators on Python ints act on an infinite sign extension, which W bits represent exactly
when the value fits). `bit_width` derives, from the inputs' ranges, an interval for every
sub-program with the operators' `bounds` functions (interval arithmetic, sound by construction),
and picks W two bits above the widest, so no term over inputs in range can wrap. Statements proved
about these bit-vectors therefore hold for the Python program on every input in range.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from dsl.ast import Const, Node, Var
from dsl.errors import Z3EncodingError
from dsl.language import DSL, check_depth, get_dsl
from dsl.ops import signed_bits
from dsl.types import BOOL, INT

MAX_WIDTH = 4096


def interval(node: Node, ranges: Mapping[str, tuple[int, int]], *, dsl: DSL | None = None,
             seen: list | None = None) -> tuple[int, int] | None:
    """An interval holding every value of `node` for inputs in `ranges` (None for bools).

    Every int sub-interval met is appended to `seen` when given. Raises DSLError for a program
    nested deeper than MAX_DEPTH.
    """
    check_depth(node)
    return _interval(node, ranges, dsl or get_dsl("int"), seen)


def _interval(node: Node, ranges: Mapping[str, tuple[int, int]], dsl: DSL,
              seen: list | None) -> tuple[int, int] | None:
    if isinstance(node, Var):
        out = tuple(ranges[node.name]) if node.type == INT else None
    elif isinstance(node, Const):
        out = (int(node.value), int(node.value)) if node.type == INT else None
    else:
        args = []
        for arg in node.args:  # a loop, not a comprehension: one frame per level
            args.append(_interval(arg, ranges, dsl, seen))
        row = dsl.operators[node.op]
        out = row.bounds(*args) if node.type == INT else None
    if out is not None and seen is not None:
        seen.append(out)
    return out


def bit_width(nodes: Iterable[Node], ranges: Mapping[str, tuple[int, int]], *,
              dsl: DSL | None = None) -> int:
    """A bit-vector width in which no sub-term of `nodes` can wrap for inputs in `ranges`."""
    seen: list = [tuple(r) for r in ranges.values()]
    for node in nodes:
        interval(node, ranges, dsl=dsl, seen=seen)
    width = max((signed_bits(lo, hi) for lo, hi in seen), default=1) + 2
    if width > MAX_WIDTH:
        raise Z3EncodingError(f"the program's values need {width}-bit vectors over these ranges "
                              f"(more than {MAX_WIDTH}); cannot encode it for Z3 soundly")
    return max(width, 4)


def make_variables(types: Mapping[str, Any], width: int, *, ctx: Any = None) -> dict[str, Any]:
    """One Z3 constant per input: a `width`-bit vector for ints, a Bool for bools.

    `ctx` is the `z3.Context` to build them in (None: Z3's default context).
    """
    import z3

    return {name: z3.Bool(name, ctx) if t == BOOL else z3.BitVec(name, width, ctx)
            for name, t in types.items()}


def to_z3(node: Node, variables: Mapping[str, Any], *, dsl: DSL | None = None,
          width: int | None = None, ctx: Any = None) -> Any:
    """The Z3 term of `node`; `variables` maps input names to Z3 constants (see make_variables).

    Literals are `width`-bit vectors (default: the width of the int variables, else 64), built in
    `ctx` (default: the variables' context, else Z3's default context). Operator rows combine terms
    with Z3's overloaded operators and `If`/`And`, which stay in their arguments' context. Raises
    DSLError for a program nested deeper than MAX_DEPTH.
    """
    import z3

    check_depth(node)
    dsl = dsl or get_dsl("int")
    if width is None:
        width = next((v.size() for v in variables.values() if z3.is_bv(v)), 64)
    if ctx is None:
        ctx = next((v.ctx for v in variables.values()), None)
    return _term(node, variables, dsl, width, ctx)


def _term(node: Node, variables: Mapping[str, Any], dsl: DSL, width: int, ctx: Any) -> Any:
    import z3

    if isinstance(node, Var):
        return variables[node.name]
    if isinstance(node, Const):
        if node.type == BOOL:
            return z3.BoolVal(node.value, ctx)
        return z3.BitVecVal(node.value, width, ctx)
    args = []
    for arg in node.args:  # a loop, not a comprehension: one frame per level
        args.append(_term(arg, variables, dsl, width, ctx))
    return dsl.operators[node.op].z3(*args)


def value_of(term: Any) -> int | bool:
    """A Python value from a Z3 numeral (bit-vectors read as signed)."""
    import z3

    if z3.is_bv_value(term):
        return term.as_signed_long()
    if z3.is_true(term) or z3.is_false(term):
        return bool(z3.is_true(term))
    raise Z3EncodingError(f"expected a Z3 numeral, got {term}")
