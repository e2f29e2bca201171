"""Make a rule short: round its constants to the fewest decimals, then prune it into a Pareto front.

Both judge a rule by its agreement with network labels on check points (`agreement`); neither asks
the network anything new.

- `round_rule(tree, points, labels, floor=...)`: each split in turn, each constant in turn
  (for an oblique split, first choosing which input gets coefficient 1: the choice that prints
  shortest) is rounded to the coarsest decimal step (1, 0.1, 0.01, ... of its own magnitude)
  that keeps the rule's agreement at or above `floor`.
- `drop_dead(tree, lo, hi)`: splits that send the whole input box one way removed.
- `orient(tree)`: each split's first coefficient positive (`b if x > t else a`, not
  `a if -x > -t else b`).
- `prune(tree, points, labels)`: the weakest-link sequence: repeatedly replace the branch whose
  collapse into a leaf (its check points' majority) costs least agreement; every tree of the
  sequence, smallest last.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np

from synth.rules.tree import Branch, Leaf, Split, Tree, evaluate, leaves, number

DIGITS = 8               # decimal steps tried below a constant's own magnitude


def agreement(tree: Tree, points: np.ndarray, labels: np.ndarray) -> float:
    return float((evaluate(tree, points) == labels).mean()) if len(labels) else 1.0


def _paths(tree: Tree, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(tree, Branch):
        yield path
        yield from _paths(tree.then, path + (0,))
        yield from _paths(tree.other, path + (1,))


def _at(tree: Tree, path: tuple) -> Tree:
    for step in path:
        tree = tree.then if step == 0 else tree.other
    return tree


def _replace(tree: Tree, path: tuple, new: Tree) -> Tree:
    if not path:
        return new
    if path[0] == 0:
        return Branch(tree.split, _replace(tree.then, path[1:], new), tree.other)
    return Branch(tree.split, tree.then, _replace(tree.other, path[1:], new))


def steps(value: float) -> Iterator[float]:
    """`value` rounded to coarser and then finer decimal steps (1000, 100, ..., 0.001, ...)."""
    if value == 0:
        yield 0.0
        return
    top = math.floor(math.log10(abs(value))) + 1
    for k in range(top, top - DIGITS - 1, -1):
        decimals = max(0, -k)
        yield float(f"{round(value / 10.0 ** k) * 10.0 ** k:.{decimals}f}")


def round_rule(tree: Tree, points: np.ndarray, labels: np.ndarray, *, floor: float, names,
               check: Callable[[], None] = lambda: None) -> Tree:
    """The tree with every constant rounded as far as `floor` (an agreement) allows."""
    for path in list(_paths(tree)):
        check()
        node = _at(tree, path)
        best = None
        for unit in range(len(node.split.terms)):
            candidate = _round_split(tree, path, _unit(node.split, unit), points, labels, floor)
            if candidate is None:
                continue
            text = digits(_at(candidate, path).split)
            if best is None or text < best[0]:
                best = (text, candidate)
        if best is not None:
            tree = best[1]
    return tree


def digits(split: Split) -> int:
    """Significant digits of a split's constants (coefficients other than 1, and threshold)."""
    count = 0
    for value in [c for _, c in split.terms if abs(c) != 1] + [split.threshold]:
        text = number(abs(value)).replace(".", "").lstrip("0").rstrip("0")
        count += max(len(text), 1)
    return count


def orient(tree: Tree) -> Tree:
    """Each split with a positive first coefficient: `a if -l > -t else b` is `b if l > t else a`
    everywhere but on the boundary itself (which has no volume)."""
    if isinstance(tree, Leaf):
        return tree
    then, other = orient(tree.then), orient(tree.other)
    split = tree.split
    if split.terms[0][1] < 0:
        flipped = Split(tuple((k, -c) for k, c in split.terms), -split.threshold + 0.0)
        return Branch(flipped, other, then)
    return Branch(split, then, other)


def drop_dead(tree: Tree, lo: np.ndarray, hi: np.ndarray) -> Tree:
    """Each split that sends the whole box [lo, hi] to one side (but for a face of it, which has no
    volume) replaced by that side: a threshold rounded to a range's end leaves such a split."""
    if isinstance(tree, Leaf):
        return tree
    low = sum(min(c * lo[k], c * hi[k]) for k, c in tree.split.terms)
    high = sum(max(c * lo[k], c * hi[k]) for k, c in tree.split.terms)
    if low >= tree.split.threshold:     # all of the box but possibly one face (no volume)
        return drop_dead(tree.then, lo, hi)
    if high <= tree.split.threshold:
        return drop_dead(tree.other, lo, hi)
    return Branch(tree.split, drop_dead(tree.then, lo, hi), drop_dead(tree.other, lo, hi))


def _unit(split: Split, j: int) -> Split:
    scale = abs(split.terms[j][1])
    return Split(tuple((k, c / scale) for k, c in split.terms), split.threshold / scale)


def _round_split(tree: Tree, path: tuple, split: Split, points, labels, floor: float) -> Tree | None:
    """Round the split's coefficients (all but the unit one) and then its threshold; None if
    even the unrounded split falls below `floor`."""
    node = _at(tree, path)

    def with_split(s: Split) -> Tree:
        return _replace(tree, path, Branch(s, node.then, node.other))

    if agreement(with_split(split), points, labels) < floor:
        return None
    terms = list(split.terms)
    for i, (k, c) in enumerate(split.terms):
        if abs(c) == 1.0:
            continue
        at = [j for j, (kk, _) in enumerate(terms) if kk == k][0]
        for r in steps(c):             # a coefficient rounded to 0 drops its input from the split
            trial = terms[:at] + ([(k, r)] if r else []) + terms[at + 1:]
            if agreement(with_split(Split(tuple(trial), split.threshold)), points, labels) >= floor:
                terms = trial
                break
    split = Split(tuple(terms), split.threshold)
    lhs = split.lhs(points)
    scale = float(lhs.max() - lhs.min()) or 1.0       # round the threshold on the lhs's own scale
    for r in _threshold_steps(split.threshold, scale):
        trial = Split(split.terms, r)
        if agreement(with_split(trial), points, labels) >= floor:
            return with_split(trial)
    return with_split(split)


def _threshold_steps(value: float, scale: float) -> Iterator[float]:
    top = math.floor(math.log10(scale)) + 1
    for k in range(top, top - DIGITS - 2, -1):
        decimals = max(0, -k)
        yield float(f"{round(value / 10.0 ** k) * 10.0 ** k:.{decimals}f}")


def prune(tree: Tree, points: np.ndarray, labels: np.ndarray) -> list[Tree]:
    """The weakest-link pruning sequence, starting with `tree` and ending with one leaf."""
    out = [tree]
    while isinstance(tree, Branch):
        best = None
        for path in _paths(tree):
            sub = _at(tree, path)
            reach = _reaching(tree, path, points)
            values = labels[reach]
            leaf = Leaf(int(np.bincount(values).argmax()) if len(values) else _first_leaf(sub))
            trial = _replace(tree, path, leaf)
            score = (agreement(trial, points, labels), leaves(sub))
            if best is None or score > best[0]:
                best = (score, trial)
        tree = best[1]
        out.append(tree)
    return out


def _reaching(tree: Tree, path: tuple, points: np.ndarray) -> np.ndarray:
    mask = np.ones(len(points), bool)
    for step in path:
        go = tree.split.lhs(points) > tree.split.threshold
        mask &= go if step == 0 else ~go
        tree = tree.then if step == 0 else tree.other
    return mask


def _first_leaf(tree: Tree) -> int:
    while isinstance(tree, Branch):
        tree = tree.then
    return tree.value
