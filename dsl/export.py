"""Export a program as standalone, import-free Python source.

The source grows linearly with the program: where a guard repeats an argument (`x % y` exports as
`(x % y if y else x)`) and that argument is compound, a lambda computes it once instead:
`(lambda _0, _1: (_0 % _1 if _1 else _0))(x, y + 1)`.
"""

from __future__ import annotations

from typing import Callable, Sequence

from dsl.ast import Node, variables
from dsl.errors import DSLError
from dsl.language import DSL, check_depth, get_dsl

#: The only names an exported function may use besides its inputs (and its lambdas' parameters).
BUILTINS = {"abs": abs, "min": min, "max": max}
#: Python's parser refuses more nested parentheses than this ("too many nested parentheses").
PYTHON_MAX_PARENS = 200


def python_expression(node: Node, *, dsl: DSL | None = None) -> str:
    """The program as a total Python expression: guarded where plain Python would raise.

    Raises DSLError for a program nested deeper than MAX_DEPTH, or one whose source would nest
    more parentheses than Python's parser accepts (only a user DSL's templates can do that).
    """
    check_depth(node)
    source = (dsl or get_dsl("int"))._show(node, total=True)[0]
    parens = _paren_depth(source)
    if parens > PYTHON_MAX_PARENS:
        raise DSLError(f"program: its Python source nests {parens} parentheses deep, above "
                       f"the limit of {PYTHON_MAX_PARENS} of Python's parser")
    return source


def to_python(node: Node, inputs: Sequence[str], *, name: str = "f",
              dsl: DSL | None = None, prelude: bool = True) -> str:
    """Source of `def name(<inputs in order>): return ...`, with the DSL's total semantics,
    preceded by the imports its DSL's Python form needs (`python_prelude`, e.g. numpy for the
    real DSL) unless `prelude` is false.

    Raises DSLError for a program over other inputs, a bad name, or as python_expression.
    """
    check_depth(node)  # before `variables`, which recurses
    unknown = variables(node) - set(inputs)
    if unknown:
        raise DSLError(f"program uses {sorted(unknown)} which are not among the inputs "
                       f"{list(inputs)}")
    if not name.isidentifier():
        raise DSLError(f"function name must be an identifier, got {name!r}")
    head = getattr(dsl, "python_prelude", "") if prelude else ""
    return ((head + "\n\n\n" if head else "")
            + f"def {name}({', '.join(inputs)}):\n    return {python_expression(node, dsl=dsl)}\n")


def _paren_depth(source: str) -> int:
    level = deepest = 0
    for char in source:
        if char in "([{":
            level += 1
            deepest = max(deepest, level)
        elif char in ")]}":
            level -= 1
    return deepest


def compile_python(node: Node, inputs: Sequence[str], *, dsl: DSL | None = None) -> Callable:
    """The exported function, compiled: what a user gets by pasting `to_python`'s source."""
    namespace: dict = {"__builtins__": dict(BUILTINS)}
    if getattr(dsl, "python_prelude", ""):      # what the prelude imports, given directly
        import numpy

        namespace["np"] = numpy
    exec(compile(to_python(node, inputs, dsl=dsl, prelude=False), "<netsynth program>", "exec"),
         namespace)
    return namespace["f"]
