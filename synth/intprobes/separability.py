"""Probes of an int function's structure: does it split into parts over its inputs, or over the
bits of its `bits`-encoded inputs, joined by `+` (modulo 2^W for a W-bit DSL), `^` or `|`? Is
it symmetric in two inputs?

A function is seen through coordinates: whole inputs, or single bits of inputs. Two coordinates
interact under an operator when changing both at once does not combine the changes of each
(for `+`: f(c_ij) - f(c_i) - f(c_j) + f(c) != 0 at some context c); the coordinates that never
interact, linked transitively, form the groups. A split is reported only once it holds on the
whole domain (or `CHECK_POINTS` random points of a larger one), without the groups whose part
is 0 everywhere (coordinates the function ignores), and only if two parts or more are left:
    f(z) == f(b) (+) sum over groups g of (f(b with g from z) (-) f(b))      for + and ^
    f(z) == or over groups g of f(b with g from z)                            for |
where b is the base point (every input at its low, every bit 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

OPS = ("^", "|", "+")      # tried in this order; the split with the most groups wins
CONTEXTS = 24              # random contexts per pair of coordinates
CHECK_POINTS = 4096        # points of the whole-domain check on a domain larger than 2^16
MAX_COORDINATES = 24       # more bits than this are not probed one by one


@dataclass(frozen=True)
class Coordinate:
    name: str                 # the input
    mask: int | None = None   # None: the whole input; else one bit of it (a power of two)

    def label(self) -> str:
        return self.name if self.mask is None else f"bit {self.mask.bit_length() - 1} of {self.name}"


@dataclass(frozen=True)
class Split:
    op: str                                        # "+", "^" or "|"
    groups: tuple[tuple[Coordinate, ...], ...]
    base: dict = field(hash=False)                 # input name -> value at the base point
    constant: int                                  # f at the base point
    modulus: int | None                            # of "+", for a W-bit DSL

    def over(self) -> str:
        return "bits" if any(c.mask is not None for g in self.groups for c in g) else "inputs"

    def describe(self) -> str:
        parts = ", ".join("{" + label(g) + "}" for g in self.groups)
        mod = f" modulo {self.modulus}" if self.op == "+" and self.modulus else ""
        return f"{self.op}-separable{mod} over the {self.over()}: {len(self.groups)} parts {parts}"

    def describe_short(self) -> str:
        """As `describe`, the parts counted, not listed: `+-separable modulo 256 over the bits:
        8 parts`."""
        mod = f" modulo {self.modulus}" if self.op == "+" and self.modulus else ""
        return f"{self.op}-separable{mod} over the {self.over()}: {len(self.groups)} parts"


def label(group) -> str:
    """`x`, `bit 3 of x`, `bits 1-7 of x`, `bit 0 of x, bit 0 of y`: a group of coordinates."""
    out, bits = [], {}
    for c in group:
        if c.mask is None:
            out.append(c.name)
        else:
            bits.setdefault(c.name, []).append(c.mask.bit_length() - 1)
    for name, ks in bits.items():
        ks = sorted(ks)
        if len(ks) == 1:
            out.append(f"bit {ks[0]} of {name}")
        elif ks == list(range(ks[0], ks[-1] + 1)):
            out.append(f"bits {ks[0]}-{ks[-1]} of {name}")
        else:
            out.append(f"bits {', '.join(map(str, ks))} of {name}")
    return ", ".join(out)


def coordinates(spec, level: str) -> list[Coordinate] | None:
    """The coordinates of `level` ("inputs" or "bits"); None where that level does not apply
    (bits: every input must be bits-encoded over its whole width, 0 ... 2^w - 1)."""
    if level == "inputs":
        return [Coordinate(i.name) for i in spec.inputs] if len(spec.inputs) > 1 else None
    out = []
    for i in spec.inputs:
        width = i.params.get("width") if i.encoding == "bits" else None
        if width is None or i.lo != 0 or i.hi != (1 << width) - 1:
            return None
        out += [Coordinate(i.name, 1 << k) for k in range(width)]
    return out if 1 < len(out) <= MAX_COORDINATES else None


def put(columns: dict, coordinate: Coordinate, source: dict) -> dict:
    """`columns` with `coordinate` taken from `source` (a whole input, or one bit of it)."""
    out = dict(columns)
    a, b = columns[coordinate.name], source[coordinate.name]
    out[coordinate.name] = b if coordinate.mask is None else (a & ~coordinate.mask) | (b & coordinate.mask)
    return out


def combine(op: str, a: np.ndarray, b: np.ndarray, modulus: int | None) -> np.ndarray:
    if op == "^":
        return a ^ b
    if op == "|":
        return a | b
    return (a + b) % modulus if modulus else a + b


def unmix(op: str, a: np.ndarray, b: np.ndarray | int, modulus: int | None) -> np.ndarray:
    """The part `a` brings beyond `b`: a - b (modulo), a ^ b, or a itself for |."""
    if op == "^":
        return a ^ b
    if op == "|":
        return a
    return (a - b) % modulus if modulus else a - b


def probe(spec, oracle, *, op: str, level: str, modulus: int | None = None,
          seed: int = 0) -> Split | None:
    """The finest split of `spec`'s network over `level` under `op`, checked on the domain;
    None when there is none (one group) or the check fails."""
    coords = coordinates(spec, level)
    if coords is None:
        return None
    rng = np.random.default_rng(seed)
    base = {i.name: (i.lo if level == "inputs" else 0) for i in spec.inputs}
    links = _links(spec, oracle, coords, op, modulus, rng)
    groups = _components(len(coords), links)
    if len(groups) < 2:
        return None
    groups = tuple(tuple(coords[k] for k in g) for g in groups)
    constant = int(oracle.query({k: np.array([v]) for k, v in base.items()})[0])
    split = Split(op, groups, base, constant, modulus)
    relevant = _holds(spec, oracle, split, rng)
    if relevant is None or len(relevant) < 2:      # no split, or one part and ignored bits
        return None
    return Split(op, relevant, base, constant, modulus)


def _random_points(spec, n: int, rng) -> dict:
    return {i.name: rng.integers(i.lo, i.hi + 1, size=n).astype(np.int64) for i in spec.inputs}


def _links(spec, oracle, coords, op, modulus, rng) -> list[tuple[int, int]]:
    """The pairs of coordinates that interact under `op` at some random context (one query)."""
    pairs = list(combinations(range(len(coords)), 2))
    n = CONTEXTS * len(pairs)
    ctx, z = _random_points(spec, n, rng), _random_points(spec, n, rng)
    ci = {k: v.copy() for k, v in ctx.items()}
    cj = {k: v.copy() for k, v in ctx.items()}
    for p, (i, j) in enumerate(pairs):
        rows = slice(p * CONTEXTS, (p + 1) * CONTEXTS)
        for cols, c in ((ci, coords[i]), (cj, coords[j])):
            part = put({k: v[rows] for k, v in cols.items()}, c, {k: v[rows] for k, v in z.items()})
            for k in cols:
                cols[k][rows] = part[k]
    cij = {k: v.copy() for k, v in ci.items()}
    for p, (i, j) in enumerate(pairs):
        rows = slice(p * CONTEXTS, (p + 1) * CONTEXTS)
        part = put({k: v[rows] for k, v in cij.items()}, coords[j], {k: v[rows] for k, v in z.items()})
        for k in cij:
            cij[k][rows] = part[k]
    together = {k: np.concatenate([ctx[k], ci[k], cj[k], cij[k]]) for k in ctx}
    a, fi, fj, fij = np.split(np.asarray(oracle.query(together)).astype(np.int64), 4)
    if op == "|":
        bad = (fij | a) != (fi | fj)
    elif op == "^":
        bad = (fij ^ fi ^ fj ^ a) != 0
    else:
        rest = fij - fi - fj + a
        bad = (rest % modulus if modulus else rest) != 0
    return [pairs[p] for p in range(len(pairs)) if bad[p * CONTEXTS:(p + 1) * CONTEXTS].any()]


def _components(n: int, links) -> list[list[int]]:
    parent = list(range(n))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k
    for i, j in links:
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for k in range(n):
        groups.setdefault(root(k), []).append(k)
    return sorted(groups.values())


def domain_points(spec, rng) -> dict:
    """Every point when there are at most 2^16, else CHECK_POINTS random ones."""
    from oracle import sampling

    if spec.domain_size() <= 1 << 16:
        full = sampling.domain(spec)
        if full is not None:
            return full
    return _random_points(spec, CHECK_POINTS, rng)


def part_values(oracle, split: Split, group, points: dict) -> np.ndarray:
    """The part of `group` at `points`: f at the base with the group's coordinates from the
    points, less f at the base (`unmix`)."""
    n = len(next(iter(points.values())))
    columns = {k: np.full(n, v, np.int64) for k, v in split.base.items()}
    for c in group:
        columns = put(columns, c, points)
    return unmix(split.op, np.asarray(oracle.query(columns)).astype(np.int64), split.constant,
                 split.modulus)


def _holds(spec, oracle, split: Split, rng) -> tuple | None:
    """The groups whose parts are not 0 everywhere, if the split holds on the domain."""
    points = domain_points(spec, rng)
    got = np.full(len(next(iter(points.values()))), split.constant if split.op != "|" else 0,
                  np.int64)
    relevant = []
    for g in split.groups:
        part = part_values(oracle, split, g, points)
        got = combine(split.op, got, part, split.modulus)
        if part.any():
            relevant.append(g)
    return tuple(relevant) if (got == np.asarray(oracle.query(points)).astype(np.int64)).all() else None


def symmetric(spec, oracle, a: str, b: str, *, seed: int = 0, points: int = 512) -> bool:
    """Whether f is unchanged when inputs `a` and `b` (of the same range) are swapped, at
    `points` random points and on the diagonal's neighbours."""
    ia, ib = (next(i for i in spec.inputs if i.name == n) for n in (a, b))
    if (ia.lo, ia.hi, ia.type) != (ib.lo, ib.hi, ib.type):
        return False
    z = _random_points(spec, points, np.random.default_rng(seed))
    swapped = {**z, a: z[b], b: z[a]}
    both = {k: np.concatenate([z[k], swapped[k]]) for k in z}
    out = np.asarray(oracle.query(both))
    return bool((out[:points] == out[points:]).all())
