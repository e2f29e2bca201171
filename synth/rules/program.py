"""A rule tree as a program of the `real` DSL (`dsl.program.Expression`).

`to_expression(tree, spec)` builds the AST directly: `ite(then, lhs > t, other)` with real
literals in the comparisons and leaves of the spec's output type (int literals for an int output,
True/False for a bool one), so that the program's type is the output's. Its text is
`tree.show(...)`, which the `real` DSL parses back (its literals read as reals: see docs/rules.md).
"""

from __future__ import annotations

from typing import Any

from dsl.ast import Const, Node, Var
from dsl.language import get_dsl
from dsl.program import Expression
from dsl.types import BOOL, INT, REAL
from synth.rules.tree import Leaf, Split, Tree


def to_expression(tree: Tree, spec: Any) -> Expression:
    dsl = get_dsl("real")
    names = spec.input_names
    boolean = spec.output.type == BOOL

    def lhs(split: Split) -> Node:
        out = None
        for k, c in split.terms:
            var = Var(names[k], REAL)
            term = var if abs(c) == 1 else dsl.app("mul", _real(abs(c)), var)
            if out is None:
                out = term if c > 0 else dsl.app("neg", term)
            else:
                out = dsl.app("add" if c > 0 else "sub", out, term)
        return out

    def build(t: Tree) -> Node:
        if isinstance(t, Leaf):
            return Const(bool(t.value), BOOL) if boolean else Const(int(t.value), INT)
        cond = dsl.app("gt", lhs(t.split), _real(t.split.threshold))
        then, other = build(t.then), build(t.other)
        if boolean and then == Const(True, BOOL) and other == Const(False, BOOL):
            return cond
        return dsl.app("ite", then, cond, other)

    variables = spec.variables()
    return Expression(build(tree), dsl, tuple(variables), tuple(variables.values()))


def _real(value: float) -> Const:
    from dsl.real import literal

    return literal(value)
