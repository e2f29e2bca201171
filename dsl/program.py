"""What every found program offers the rest of netsynth, whatever its kind.

A search family returns a `Program`: an expression over the inputs today; a program with state
(recurrent networks) and an automaton (sequence classifiers) are further kinds with the same
protocol. The report, the verifier, the service and every export reach programs only through it:

- `kind`: "expression" (later "stateful", "automaton");
- `inputs`: the input names, in the spec's order;
- `show()`: the program as text in its DSL (`parse(show())` gives it back);
- `size`: the number of nodes (states, for an automaton);
- `evaluate(columns) -> Evaluation`: values at every point (`bad` marks points where the value
  cannot be trusted, e.g. int64 overflow);
- `to_python(name="f")`: standalone Python source of `def name(<inputs>): ...`;
- `to_dict()` and `Class.from_dict(data, spec)`: the program as JSON and back
  (`program_from_dict` reads any kind, through `KINDS`).

`Expression` wraps a `dsl.ast.Node` with its DSL, the input order and the inputs' types, and
exports beyond Python (`dsl.formats`): `to_sympy()`, `to_latex()`, `to_c(name)`,
`to_smtlib(ranges, name)`, and `function()`, the exported Python compiled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np

from dsl.ast import Node, size
from dsl.evaluate import Evaluation, evaluate
from dsl.export import compile_python, to_python
from dsl.language import DSL, get_dsl
from dsl.types import INT, Type


@runtime_checkable
class Program(Protocol):
    kind: str
    inputs: tuple[str, ...]

    def show(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def type(self) -> Type: ...

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> Evaluation: ...

    def to_python(self, name: str = "f") -> str: ...


@dataclass(frozen=True)
class Expression:
    """A program that is one expression of a DSL over named inputs."""

    node: Node
    dsl: DSL = field(compare=False, repr=False)
    inputs: tuple[str, ...]
    types: tuple[Type, ...] = ()        # of the inputs, in order (default: all int)
    kind: str = "expression"

    @classmethod
    def parse(cls, text: str, variables: Mapping[str, Type], *, dsl: DSL | str = "int") -> "Expression":
        """Parse `text` in `dsl` over `variables` (name -> type, in input order); DSLError if bad."""
        language = dsl if isinstance(dsl, DSL) else get_dsl(dsl)
        return cls(language.parse(text, variables), language, tuple(variables),
                   tuple(variables.values()))

    @property
    def variables(self) -> dict[str, Type]:
        return dict(zip(self.inputs, self.types or (INT,) * len(self.inputs)))

    def show(self) -> str:
        return self.dsl.show(self.node)

    @property
    def size(self) -> int:
        return size(self.node)

    @property
    def type(self) -> Type:
        return self.node.type

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> Evaluation:
        return evaluate(self.node, columns, dsl=self.dsl)

    def to_python(self, name: str = "f") -> str:
        return to_python(self.node, self.inputs, name=name, dsl=self.dsl)

    def function(self) -> Callable[..., Any]:
        """The exported Python, compiled: call it with the inputs in order."""
        return compile_python(self.node, self.inputs, dsl=self.dsl)

    def to_sympy(self) -> Any:
        from dsl.formats import to_sympy

        return to_sympy(self.node, dsl=self.dsl)

    def to_latex(self) -> str:
        from dsl.formats import to_latex

        return to_latex(self.node, dsl=self.dsl)

    def to_c(self, name: str = "f") -> str:
        from dsl.formats import to_c

        return to_c(self.node, self.inputs, self.variables, name=name, dsl=self.dsl)

    def to_smtlib(self, ranges: Mapping[str, tuple[int, int]], name: str = "f") -> str:
        from dsl.formats import to_smtlib

        return to_smtlib(self.node, self.variables, ranges, name=name, dsl=self.dsl)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.show()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], spec: Any) -> "Expression":
        """The expression of `to_dict()` over `spec`'s inputs, in its DSL."""
        return cls.parse(data["text"], spec.variables(), dsl=spec.dsl)

    def __str__(self) -> str:
        return self.show()


#: Every kind of program: kind -> "module:Class", each class with `to_dict()` and
#: `from_dict(data, spec)`. Kinds other than expressions live in modules of their own, imported
#: only when a program of that kind is read back.
KINDS = {
    "expression": "dsl.program:Expression",
    "automaton": "dsl.automaton:Automaton",
    "stateful": "dsl.stateful:Stateful",
}


def program_from_dict(data: Mapping[str, Any], spec: Any) -> Program:
    """The program that `program.to_dict()` describes, over `spec`'s inputs; DSLError if its kind
    is unknown."""
    import importlib

    from dsl.errors import DSLError

    kind = data.get("kind", "expression")
    if kind not in KINDS:
        raise DSLError(f"program.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    module, name = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), name).from_dict(data, spec)
