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
- `to_python(name="f")`: standalone Python source of `def name(<inputs>): ...`.

`Expression` wraps a `dsl.ast.Node` with its DSL and the input order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, runtime_checkable

import numpy as np

from dsl.ast import Node, size
from dsl.evaluate import Evaluation, evaluate
from dsl.export import to_python
from dsl.language import DSL, get_dsl
from dsl.types import Type


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
    kind: str = "expression"

    @classmethod
    def parse(cls, text: str, variables: Mapping[str, Type], *, dsl: DSL | str = "int") -> "Expression":
        """Parse `text` in `dsl` over `variables` (name -> type, in input order); DSLError if bad."""
        language = dsl if isinstance(dsl, DSL) else get_dsl(dsl)
        return cls(language.parse(text, variables), language, tuple(variables))

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

    def __str__(self) -> str:
        return self.show()
