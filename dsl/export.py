"""Export a program as standalone, import-free Python source."""

from __future__ import annotations

from typing import Callable, Sequence

from dsl.ast import Node, variables
from dsl.errors import DSLError
from dsl.language import DSL, get_dsl

#: The only names an exported function may use besides its inputs.
BUILTINS = {"abs": abs, "min": min, "max": max}


def python_expression(node: Node, *, dsl: DSL | None = None) -> str:
    """The program as a total Python expression: guarded where plain Python would raise."""
    return (dsl or get_dsl("int"))._show(node, total=True)[0]


def to_python(node: Node, inputs: Sequence[str], *, name: str = "f",
              dsl: DSL | None = None) -> str:
    """Source of `def name(<inputs in order>): return ...`, with the DSL's total semantics."""
    unknown = variables(node) - set(inputs)
    if unknown:
        raise DSLError(f"program uses {sorted(unknown)} which are not among the inputs "
                       f"{list(inputs)}")
    if not name.isidentifier():
        raise DSLError(f"function name must be an identifier, got {name!r}")
    return f"def {name}({', '.join(inputs)}):\n    return {python_expression(node, dsl=dsl)}\n"


def compile_python(node: Node, inputs: Sequence[str], *, dsl: DSL | None = None) -> Callable:
    """The exported function, compiled: what a user gets by pasting `to_python`'s source."""
    namespace: dict = {"__builtins__": dict(BUILTINS)}
    exec(compile(to_python(node, inputs, dsl=dsl), "<netsynth program>", "exec"), namespace)
    return namespace["f"]
