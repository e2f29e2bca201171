"""numpy source of an `int` DSL expression, for the vectorised export of stateful programs.

Each operator of dsl/int.py has one template here that computes the same total semantics over
int64 arrays (x // 0 == 0, x % 0 == x, negative shift counts give 0); tests/test_stateful.py
checks with Hypothesis that this source, the exported Python and `dsl.evaluate` agree.
"""

from __future__ import annotations

from dsl.ast import Const, Node, Var
from dsl.errors import DSLError

TEMPLATES = {
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})",
    "floordiv": "np.where({1} == 0, 0, np.floor_divide({0}, np.where({1} == 0, 1, {1})))",
    "mod": "np.where({1} == 0, {0}, np.remainder({0}, np.where({1} == 0, 1, {1})))",
    "neg": "(-{0})", "invert": "(~{0})", "abs": "np.abs({0})",
    "min": "np.minimum({0}, {1})", "max": "np.maximum({0}, {1})",
    "eq": "({0} == {1})", "ne": "({0} != {1})", "lt": "({0} < {1})", "le": "({0} <= {1})",
    "gt": "({0} > {1})", "ge": "({0} >= {1})",
    "and": "np.logical_and({0}, {1})", "or": "np.logical_or({0}, {1})", "not": "np.logical_not({0})",
    "ite": "np.where({1}, {0}, {2})",
    "bitand": "({0} & {1})", "bitor": "({0} | {1})", "bitxor": "({0} ^ {1})",
    "lshift": "np.where({1} < 0, 0, np.left_shift({0}, np.clip({1}, 0, 63)))",
    "rshift": "np.where({1} < 0, 0, np.right_shift({0}, np.clip({1}, 0, 63)))",
}


def numpy_expression(node: Node) -> str:
    """The expression as numpy source over arrays named as its variables (`np` is numpy).

    Raises DSLError for an operator with no numpy template (one of a user DSL)."""
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Const):
        return repr(node.value)
    if node.op in ("floordiv", "mod") and isinstance(node.args[1], Const) and node.args[1].value != 0:
        a, b = (numpy_expression(x) for x in node.args)       # Python's and numpy's agree here
        return f"({a} {'//' if node.op == 'floordiv' else '%'} {b})"
    template = TEMPLATES.get(node.op)
    if template is None:
        raise DSLError(f"operator {node.op!r} has no numpy form for the vectorised export")
    return template.format(*(numpy_expression(a) for a in node.args))
