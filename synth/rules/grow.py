"""Grow a decision tree top-down on network-labelled points, each split placed by the network.

At each node: a leaf when the node's points (nearly) agree; otherwise the best axis-aligned split
unless an oblique one leaves clearly less label entropy (at most half, and at least 0.05 bits
less: an oblique split must earn its extra terms), moved onto the network's boundary by
`locate.refine`, and the two sides grown in turn. Works in unit coordinates; `to_tree` turns the
result into a `tree.Tree` over the inputs' own units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from synth.rules import locate
from synth.rules.locate import USplit
from synth.rules.tree import Branch, Leaf, Split, Tree

MAX_DEPTH = 6
MIN_POINTS = 8           # a node with fewer points is a leaf
NOISE = 0.002            # a node whose minority is at most this share (and at most 2 points) is a leaf


class Stop(Exception):
    """The search was cancelled or ran out of time while growing."""


@dataclass
class Grower:
    ask: Callable[[np.ndarray], np.ndarray]     # unit points (n, D) -> network labels
    classes: int
    check: Callable[[], None]                   # raises Stop when the search must end
    rng: np.random.Generator
    oblique: bool = True
    max_depth: int = MAX_DEPTH
    queries: int = 0
    splits_tried: int = 0
    boundaries: list = field(default_factory=list)   # (depth, USplit) of every refined split

    def grow(self, u: np.ndarray, labels: np.ndarray, depth: int = 0):
        """A unit-coordinate tree: ("leaf", value) or ("split", USplit, then, other)."""
        self.check()
        counts = np.bincount(labels, minlength=self.classes)
        majority = int(counts.argmax())
        minority = len(labels) - counts[majority]
        if (minority == 0 or depth >= self.max_depth or len(labels) < MIN_POINTS
                or minority <= min(2, NOISE * len(labels))):
            return ("leaf", majority)
        axis, oblique = locate.candidates(u, labels, self.classes, oblique=self.oblique)
        self.splits_tried += 1
        choice = axis
        if oblique is not None and (axis is None or locate.clearly_better(oblique[0], axis[0])):
            choice = oblique
        if choice is None:
            return ("leaf", majority)
        split, asked = locate.refine(choice[1], u, labels, self.ask, self.rng)
        self.queries += asked
        self.boundaries.append((depth, split))
        side = split.side(u)
        if side.all() or not side.any():
            return ("leaf", majority)
        return ("split", split, self.grow(u[side], labels[side], depth + 1),
                self.grow(u[~side], labels[~side], depth + 1))


def to_tree(node, lo: np.ndarray, span: np.ndarray, offset: int = 0) -> Tree:
    """The unit-coordinate tree in the inputs' units: u_k = (x_k - lo_k) / span_k, so
    sum w_k u_k > t is sum (w_k / span_k) x_k > t + sum w_k lo_k / span_k; each split scaled so
    that its largest coefficient is +-1. Leaves hold class indices plus `offset` (the output's lo)."""
    if node[0] == "leaf":
        return Leaf(node[1] + offset)
    s: USplit = node[1]
    coef = np.array(s.w) / span[list(s.dims)]
    threshold = s.t + float(np.sum(np.array(s.w) * lo[list(s.dims)] / span[list(s.dims)]))
    scale = np.abs(coef).max()
    terms = tuple((int(k), float(c / scale)) for k, c in zip(s.dims, coef))
    return Branch(Split(terms, threshold / scale), to_tree(node[2], lo, span, offset),
                  to_tree(node[3], lo, span, offset))
