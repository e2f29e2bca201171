"""netsynth's own program AST: immutable, hashable, typed.

No lark `Tree` ever leaves the parser; everything downstream sees these three node kinds. The
arguments of an `App` are in the order they appear in the program text (`a if c else b` is
`App("ite", (a, c, b), type)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Union

from dsl.types import BOOL, INT, Type


@dataclass(frozen=True)
class Var:
    name: str
    type: Type = INT


@dataclass(frozen=True)
class Const:
    value: int | bool
    type: Type = INT

    def __post_init__(self) -> None:
        # True == 1 and hash(True) == hash(1): keep bool constants apart from int ones.
        if (self.type == BOOL) != isinstance(self.value, bool):
            raise TypeError(f"constant {self.value!r} does not have type {self.type}")


@dataclass(frozen=True)
class App:
    op: str
    args: tuple["Node", ...]
    type: Type


Node = Union[Var, Const, App]


def size(node: Node) -> int:
    """Number of nodes: a variable or literal counts 1, an application 1 plus its arguments."""
    if isinstance(node, App):
        return 1 + sum(size(a) for a in node.args)
    return 1


def depth(node: Node) -> int:
    if isinstance(node, App):
        return 1 + max(depth(a) for a in node.args)
    return 1


def walk(node: Node) -> Iterator[Node]:
    """Every node, parents before children."""
    yield node
    if isinstance(node, App):
        for a in node.args:
            yield from walk(a)


def variables(node: Node) -> set[str]:
    return {n.name for n in walk(node) if isinstance(n, Var)}


def const(value: int | bool) -> Const:
    """A literal of the type its Python value has."""
    return Const(value, BOOL if isinstance(value, bool) else INT)
