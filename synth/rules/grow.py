"""Grow a decision tree top-down on network-labelled points, each split placed by the network.

At each node: a leaf when the node's points (nearly) agree; otherwise the proposed splits
(`locate.candidates`: the best cuts along the best inputs, pairs and triples of inputs) are each
moved onto the network's boundary by `locate.refine`. A split whose boundary points lie on its
plane (median distance at most `SPREAD`) is one of the network's own boundaries; among those
(or among all, when none is), the one leaving the least label entropy is made, a split over more
inputs only when it leaves clearly less (at most half, and 0.05 bits less: it must earn its extra
terms). Then the two sides are grown in turn. Works in unit coordinates; `to_tree` turns the
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
SPREAD = 0.005           # boundary points this close to a split's plane (median): the network's own


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
        proposed = locate.candidates(u, labels, self.classes, oblique=self.oblique)
        self.splits_tried += len(proposed)
        if not proposed:
            return ("leaf", majority)
        placed = []
        for _, split in proposed:
            self.check()
            split, asked, spread = locate.refine(split, u, labels, self.ask, self.rng)
            self.queries += asked
            placed.append((_entropy_left(split, u, labels, self.classes), split, spread))
        split = _choose(placed)
        self.boundaries.append((depth, split))
        side = split.side(u)
        if side.all() or not side.any():
            return ("leaf", majority)
        return ("split", split, self.grow(u[side], labels[side], depth + 1),
                self.grow(u[~side], labels[~side], depth + 1))


def _entropy_left(split: USplit, u: np.ndarray, labels: np.ndarray, classes: int) -> float:
    side = split.side(u)
    counts = np.stack([np.bincount(labels[side], minlength=classes),
                       np.bincount(labels[~side], minlength=classes)])
    return float((locate.entropy(counts) * counts.sum(axis=1)).sum() / len(labels))


def _choose(placed: list[tuple[float, USplit, float]]) -> USplit:
    """The split to make: among the candidates the network confirmed as planes of its own (spread
    at most SPREAD), else among all, the one leaving the least entropy; a split over more inputs
    only when `locate.clearly_better` than the best over fewer."""
    planar = [c for c in placed if c[2] <= SPREAD] or placed
    best = None
    for terms in sorted({len(c[1].dims) for c in planar}):
        entropy, split, _ = min((c for c in planar if len(c[1].dims) == terms), key=lambda c: c[0])
        if best is None or locate.clearly_better(entropy, best[0]):
            best = (entropy, split)
    return best[1]


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
