"""A decision rule over real inputs: a binary tree of linear comparisons with class leaves.

`Branch(split, then, other)` sends a point to `then` when `split.lhs(point) > split.threshold`,
else to `other`; a `Leaf` holds the output value (an int, or 0/1 for a bool output). A `Split`'s
left-hand side is a short linear combination of inputs, `terms` = ((input index, coefficient),
...): one term with coefficient 1 is an axis-aligned split, two or three terms an oblique one.

The tree is the family's working form; `show` prints it as a program of the `real` DSL
(`a if lhs > t else b`), which `synth.rules.program` parses into a `dsl.program.Expression`.
`to_dict`/`from_dict` give its JSON form. Nothing here queries a network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence, Union

import numpy as np

from dsl.errors import DSLError


@dataclass(frozen=True)
class Split:
    terms: tuple[tuple[int, float], ...]     # (input index, coefficient), in input order
    threshold: float

    def lhs(self, points: np.ndarray) -> np.ndarray:
        out = np.zeros(len(points))
        for k, c in self.terms:
            out += c * points[:, k]
        return out

    @property
    def oblique(self) -> bool:
        return len(self.terms) > 1


@dataclass(frozen=True)
class Leaf:
    value: int


@dataclass(frozen=True)
class Branch:
    split: Split
    then: "Tree"
    other: "Tree"


Tree = Union[Leaf, Branch]


def evaluate(tree: Tree, points: np.ndarray) -> np.ndarray:
    """The leaf value (int64) of every row of `points` (n, D)."""
    out = np.empty(len(points), np.int64)
    _fill(tree, points, np.arange(len(points)), out)
    return out


def _fill(tree: Tree, points: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    if isinstance(tree, Leaf):
        out[rows] = tree.value
        return
    go = tree.split.lhs(points[rows]) > tree.split.threshold
    _fill(tree.then, points, rows[go], out)
    _fill(tree.other, points, rows[~go], out)


def leaves(tree: Tree) -> int:
    return 1 if isinstance(tree, Leaf) else leaves(tree.then) + leaves(tree.other)


def splits(tree: Tree) -> Iterator[Split]:
    if isinstance(tree, Branch):
        yield tree.split
        yield from splits(tree.then)
        yield from splits(tree.other)


def depth(tree: Tree) -> int:
    return 0 if isinstance(tree, Leaf) else 1 + max(depth(tree.then), depth(tree.other))


def simplify(tree: Tree) -> Tree:
    """Merge a branch whose two sides are the same leaf (or the same subtree)."""
    if isinstance(tree, Leaf):
        return tree
    then, other = simplify(tree.then), simplify(tree.other)
    if then == other:
        return then
    return Branch(tree.split, then, other)


def number(value: float) -> str:
    """The shortest decimal text that reads back as the same float ("0.02"; "60", not "60.0", as
    the `real` DSL prints its literals)."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = repr(float(value))
    if "e" in text or "inf" in text or "nan" in text:
        text = np.format_float_positional(float(value), trim="0")
        text = text + "0" if text.endswith(".") else text
    return text


def show_lhs(split: Split, names: Sequence[str]) -> str:
    parts = []
    for k, c in split.terms:
        mag = abs(c)
        term = names[k] if mag == 1 else f"{number(mag)} * {names[k]}"
        parts.append((c < 0, term))
    text = ("-" if parts[0][0] else "") + parts[0][1]
    for neg, term in parts[1:]:
        text += f" - {term}" if neg else f" + {term}"
    return text


def show_condition(split: Split, names: Sequence[str]) -> str:
    return f"{show_lhs(split, names)} > {number(split.threshold)}"


def show(tree: Tree, names: Sequence[str], *, boolean: bool = False) -> str:
    """The rule as `real` DSL text; `boolean` prints leaves as True/False and a single split with
    a False and a True leaf as its bare comparison."""
    if boolean and isinstance(tree, Branch) and tree.then == Leaf(1) and tree.other == Leaf(0):
        return show_condition(tree.split, names)
    return _show(tree, names, boolean)


def _show(tree: Tree, names: Sequence[str], boolean: bool) -> str:
    if isinstance(tree, Leaf):
        return ("True" if tree.value else "False") if boolean else str(tree.value)
    then = _show(tree.then, names, boolean)
    other = _show(tree.other, names, boolean)
    if isinstance(tree.then, Branch):
        then = f"({then})"
    if isinstance(tree.other, Branch):
        other = f"({other})"
    return f"{then} if {show_condition(tree.split, names)} else {other}"


def to_dict(tree: Tree) -> dict[str, Any]:
    if isinstance(tree, Leaf):
        return {"leaf": tree.value}
    return {"terms": [[k, c] for k, c in tree.split.terms], "threshold": tree.split.threshold,
            "then": to_dict(tree.then), "else": to_dict(tree.other)}


def from_dict(data: Any, width: int, where: str = "rule") -> Tree:
    """The inverse of `to_dict`, for a rule over `width` inputs; DSLError naming the bad field."""
    if not isinstance(data, dict):
        raise DSLError(f"{where}: expected an object, got {data!r:.80}")
    if "leaf" in data:
        value = data["leaf"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise DSLError(f"{where}.leaf: expected an int, got {value!r:.80}")
        return Leaf(value)
    for key in ("terms", "threshold", "then", "else"):
        if key not in data:
            raise DSLError(f"{where}.{key}: missing required field")
    terms = data["terms"]
    if not (isinstance(terms, list) and terms and all(
            isinstance(t, list) and len(t) == 2 and isinstance(t[0], int) and 0 <= t[0] < width
            and isinstance(t[1], (int, float)) and np.isfinite(t[1]) for t in terms)):
        raise DSLError(f"{where}.terms: expected [[input index < {width}, finite coefficient], ...], "
                       f"got {terms!r:.80}")
    threshold = data["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not np.isfinite(threshold):
        raise DSLError(f"{where}.threshold: expected a finite number, got {threshold!r:.80}")
    split = Split(tuple((int(k), float(c)) for k, c in terms), float(threshold))
    return Branch(split, from_dict(data["then"], width, where + ".then"),
                  from_dict(data["else"], width, where + ".else"))
