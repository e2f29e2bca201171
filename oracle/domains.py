"""Where a network's inputs live: which points exist, how to sample them, how to go past the range.

Three kinds of domain, one protocol (`Domain`). A batch of points is an array: (n, D) for a
function of D inputs (int64 for an `IntegerLattice`, float64 for a `RealBox`), and for sequences a
dict {T: (n_T, T, D)}, one batch per length T (T varies from batch to batch).

- `IntegerLattice`: the int and bool points of a box, one axis per input (bools are 0/1 axes). It
  has a `size`, every point in mixed-radix order (`points()`, first axis slowest; `at`/`index`
  convert between points and their positions, the oracle's dense cache), the stratified sample
  with boundary values that the search uses, and points beyond the training range.
- `RealBox`: real points of a box: Latin-hypercube or uniform samples, points beyond the range;
  no exhaustive enumeration (`points()` is None).
- `Sequences`: sequences of steps from a step domain with lengths in [min_len, max_len]; every
  sequence when there are few, random ones otherwise; beyond the range means longer sequences.

Each axis carries its encoding's `Reach` (`oracle.encoding`), so a domain knows how far past the
training range the network can be asked without knowing any encoding by name. `for_inputs(inputs)`
builds the domain of a spec's inputs. Samples are deterministic for a seed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

import numpy as np

from dsl.errors import EncodingError
from dsl.types import REAL, Type
from oracle.encoding import Reach, encoding_of

DOMAIN_LIMIT = 2**20  # enumerate (and densely cache) a domain of at most this many points


@dataclass(frozen=True)
class Axis:
    """One input: its name, type, training range [lo, hi] and what its encoding can express."""

    name: str
    type: Type
    lo: Any
    hi: Any
    reach: Reach

    def beyond_interval(self, factor: float) -> tuple[Any, Any]:
        """The values to draw beyond the range: up to `factor` range-widths (or magnitudes) past
        it on each side, within what the encoding can express."""
        if self.type == REAL:
            far = factor * max(self.hi - self.lo, abs(self.lo), abs(self.hi), 1)
        else:  # exact int arithmetic: the bounds may be near 2^62
            far = int(factor * max(self.hi - self.lo + 1, abs(self.lo), abs(self.hi), 1))
        return max(self.reach.lo, self.lo - far), min(self.reach.hi, self.hi + far)


class Domain(Protocol):
    axes: tuple[Axis, ...]
    size: int | float  # math.inf when not countable

    def points(self, limit: int = DOMAIN_LIMIT) -> Any: ...
    def sample(self, n: int, *, seed: int = 0) -> Any: ...
    def beyond(self, n: int, *, seed: int = 0, factor: float = 4) -> Any: ...
    def can_go_beyond(self) -> tuple[bool, str]: ...


def for_inputs(inputs: Iterable[Any]) -> "IntegerLattice | RealBox":
    """The domain of a spec's inputs (`InputSpec`s): a real box if they are real, else a lattice."""
    axes = tuple(Axis(i.name, i.type, i.lo, i.hi, encoding_of(i).reach(i.lo, i.hi, i.params))
                 for i in inputs)
    return RealBox(axes) if all(a.type == REAL for a in axes) else IntegerLattice(axes)


class _Box:
    """What lattices and boxes share: per-axis beyond-range sampling and typed columns."""

    axes: tuple[Axis, ...]
    dtype: type

    def columns(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """A batch (n, D) as columns by input name, each of its input's dtype (bool for bools)."""
        return {a.name: batch[:, k].astype(a.type.np_dtype) for k, a in enumerate(self.axes)}

    def can_go_beyond(self, factor: float = 1) -> tuple[bool, str]:
        """Whether some input's encoding can express values outside its range, and why (not)."""
        reasons = [f"{a.name}: {a.reach.limit}" for a in self.axes
                   if a.beyond_interval(factor) == (a.lo, a.hi)]
        able = len(reasons) < len(self.axes)
        return able, "; ".join(reasons) if reasons else "every input uses an encoding without a fixed range"

    def beyond(self, n: int, *, seed: int = 0, factor: float = 4) -> np.ndarray:
        """Up to n distinct points with at least one input outside its training range, as far as
        `factor` range-widths out; `EncodingError` with the reason when no input can go there."""
        if factor < 1:
            raise ValueError(f"beyond: expected factor >= 1, got {factor!r}")
        able, reason = self.can_go_beyond()
        if not able:
            raise EncodingError(f"beyond_range: no input can be encoded outside its training range ({reason})")
        rng = np.random.default_rng(seed)
        points = self.uniform(n, rng)
        capable = [k for k, a in enumerate(self.axes) if a.beyond_interval(factor) != (a.lo, a.hi)]
        chosen = rng.random((n, len(capable))) < 0.5
        chosen[np.arange(n), rng.integers(0, len(capable), n)] = True  # at least one input outside
        for j, k in enumerate(capable):
            points[chosen[:, j], k] = self._outside(self.axes[k], int(chosen[:, j].sum()), factor, rng)
        return _unique(points)

    def uniform(self, m: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _outside(self, axis: Axis, m: int, factor: float, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class IntegerLattice(_Box):
    """The int and bool points of the box prod_k [lo_k, hi_k] (Python ints, |v| < 2^62)."""

    dtype = np.int64

    def __init__(self, axes: tuple[Axis, ...]) -> None:
        self.axes = axes
        self.lo = np.array([a.lo for a in axes], dtype=np.int64)
        self.hi = np.array([a.hi for a in axes], dtype=np.int64)
        self.size = math.prod(a.hi - a.lo + 1 for a in axes)
        widths = np.array([a.hi - a.lo + 1 for a in axes], dtype=np.int64)
        self.strides = None  # mixed-radix place values, when the points can be numbered in int64
        if self.size < 2**63:
            self.strides = np.concatenate([np.cumprod(widths[::-1])[::-1][1:], [1]]).astype(np.int64)
        self._widths = widths

    def points(self, limit: int = DOMAIN_LIMIT) -> np.ndarray | None:
        """Every point (size, D), first axis varying slowest, or None above `limit` points."""
        if self.size > limit:
            return None
        return self.at(np.arange(self.size, dtype=np.int64))

    def at(self, index: np.ndarray) -> np.ndarray:
        """The points at mixed-radix positions `index` (int64, in [0, size))."""
        return (index[:, None] // self.strides) % self._widths + self.lo

    def index(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions of the points inside the box, mask of the points inside) for a batch (n, D);
        needs a domain of fewer than 2^63 points."""
        inside = ((batch >= self.lo) & (batch <= self.hi)).all(axis=1)
        return (batch[inside] - self.lo) @ self.strides, inside

    def boundary_values(self, axis: Axis) -> list[int]:
        return sorted({v for v in (axis.lo, axis.hi, 0, 1, -1) if axis.lo <= v <= axis.hi})

    def sample(self, n: int, *, seed: int = 0) -> np.ndarray:
        """min(n, size) distinct points: every combination of boundary values (each axis's lo, hi,
        and 0, 1, -1 when in range) when that fits in half of n (else each boundary value at
        least once, the other axes random), then Latin-hypercube points filling the rest."""
        if n <= 0:
            return np.empty((0, len(self.axes)), np.int64)
        if self.size <= n:
            return self.at(np.arange(self.size, dtype=np.int64))
        rng = np.random.default_rng(seed)
        bounds = [self.boundary_values(a) for a in self.axes]
        if math.prod(len(b) for b in bounds) <= n // 2:
            edge = np.array(list(itertools.product(*bounds)), dtype=np.int64)
        else:  # one point per boundary value, the other inputs random
            rows = []
            for k, values in enumerate(bounds):
                for v in values:
                    row = self.uniform(1, rng)[0]
                    row[k] = v
                    rows.append(row)
            edge = np.array(rows, dtype=np.int64)
        points = _unique(np.concatenate([edge, self._stratified(max(0, n - len(edge)), rng)]))
        while len(points) < n:  # duplicates removed: top up with uniform draws (size > n here)
            points = _unique(np.concatenate([points, self.uniform(n - len(points), rng)]))
        if len(points) > n:
            points = _keep(points, len(edge), n, rng)
        return points

    def uniform(self, m: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.integers(a.lo, a.hi + 1, m, dtype=np.int64) for a in self.axes], axis=1)

    def _stratified(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """Latin hypercube: axis k's range cut into m strata, each stratum used once."""
        cols = []
        for a in self.axes:
            width = a.hi - a.lo + 1
            u = (rng.permutation(m) + rng.random(m)) / max(m, 1)
            cols.append(a.lo + np.minimum((u * width).astype(np.int64), width - 1))
        return np.stack(cols, axis=1) if m > 0 else np.empty((0, len(self.axes)), np.int64)

    def _outside(self, axis: Axis, m: int, factor: float, rng: np.random.Generator) -> np.ndarray:
        lo, hi = axis.beyond_interval(factor)
        below, above = axis.lo - lo, hi - axis.hi  # counts of expressible values on each side
        pick = rng.integers(0, below + above, m)
        return np.where(pick < below, lo + pick, axis.hi + 1 + (pick - below)).astype(np.int64)


class RealBox(_Box):
    """The real points of the box prod_k [lo_k, hi_k] (finite floats). Not enumerable."""

    dtype = np.float64
    size = math.inf

    def __init__(self, axes: tuple[Axis, ...]) -> None:
        self.axes = axes
        self.lo = np.array([a.lo for a in axes], dtype=np.float64)
        self.hi = np.array([a.hi for a in axes], dtype=np.float64)

    def points(self, limit: int = DOMAIN_LIMIT) -> None:
        return None

    def sample(self, n: int, *, seed: int = 0, method: str = "lhs") -> np.ndarray:
        """n points (n, D): a Latin hypercube (`lhs`: each axis cut into n strata, one point in
        each) or independent `uniform` draws."""
        rng = np.random.default_rng(seed)
        n = max(n, 0)
        if method == "uniform":
            return self.uniform(n, rng)
        if method != "lhs":
            raise ValueError(f"sample: expected method 'lhs' or 'uniform', got {method!r}")
        u = (np.stack([rng.permutation(n) for _ in self.axes], axis=1)
             + rng.random((n, len(self.axes)))) / max(n, 1)
        return np.minimum(self.lo + u * (self.hi - self.lo), self.hi)

    def uniform(self, m: int, rng: np.random.Generator) -> np.ndarray:
        return np.minimum(self.lo + rng.random((m, len(self.axes))) * (self.hi - self.lo), self.hi)

    def _outside(self, axis: Axis, m: int, factor: float, rng: np.random.Generator) -> np.ndarray:
        lo, hi = axis.beyond_interval(factor)
        below, above = axis.lo - lo, hi - axis.hi  # lengths of the intervals on each side
        pick = rng.random(m) * (below + above)
        # strictly outside: the open ends of [lo, axis.lo) and (axis.hi, hi]
        return np.where(pick < below, np.minimum(lo + pick, np.nextafter(axis.lo, -np.inf)),
                        np.maximum(axis.hi + (pick - below), np.nextafter(axis.hi, np.inf)))


class Sequences:
    """Sequences of steps from `step` (a lattice or a box), of lengths min_len..max_len.

    Batches are dicts {T: array (n_T, T, D)}. Beyond the training range means longer: lengths
    max_len + 1 .. factor * max_len, steps from the step domain.
    """

    def __init__(self, step: IntegerLattice | RealBox, min_len: int, max_len: int) -> None:
        if not 0 <= min_len <= max_len:
            raise ValueError(f"Sequences: expected 0 <= min_len <= max_len, got [{min_len}, {max_len}]")
        self.step, self.min_len, self.max_len = step, min_len, max_len
        self.axes = step.axes
        self.size = (math.inf if step.size == math.inf else
                     sum(step.size ** t for t in range(min_len, max_len + 1)))

    def points(self, limit: int = DOMAIN_LIMIT) -> dict[int, np.ndarray] | None:
        """Every sequence, by length; within a length, the first step varies slowest. None above
        `limit` sequences (or for real steps)."""
        if self.size > limit:
            return None
        s = self.step.size
        steps = self.step.points(limit=s) if self.max_len > 0 else np.empty((0, len(self.axes)))
        out = {}
        for t in range(self.min_len, self.max_len + 1):
            index = np.arange(s ** t, dtype=np.int64)
            digits = (index[:, None] // s ** np.arange(t - 1, -1, -1, dtype=np.int64)) % s
            out[t] = steps[digits].reshape(s ** t, t, len(self.axes))
        return out

    def sample(self, n: int, *, seed: int = 0) -> dict[int, np.ndarray]:
        """Every sequence when there are at most n, else n random ones: lengths uniform in
        [min_len, max_len], each step drawn uniformly from the step domain."""
        every = self.points(limit=n)
        if every is not None:
            return every
        return self._draw(n, self.min_len, self.max_len, np.random.default_rng(seed))

    def can_go_beyond(self) -> tuple[bool, str]:
        return True, "longer sequences than the training lengths"

    def beyond(self, n: int, *, seed: int = 0, factor: float = 4) -> dict[int, np.ndarray]:
        """n random sequences longer than max_len, up to factor * max_len steps (at least one
        step more)."""
        top = max(self.max_len + 1, int(factor * self.max_len))
        return self._draw(n, self.max_len + 1, top, np.random.default_rng(seed))

    def _draw(self, n: int, lo: int, hi: int, rng: np.random.Generator) -> dict[int, np.ndarray]:
        lengths = rng.integers(lo, hi + 1, max(n, 0))
        out = {}
        for t in np.unique(lengths).tolist():
            m = int((lengths == t).sum())
            out[t] = self.step.uniform(m * t, rng).reshape(m, t, len(self.axes))
        return out


def _unique(points: np.ndarray) -> np.ndarray:
    """The distinct rows of an 8-byte (n, D) array, in first-seen order (boundary points lead)."""
    packed = np.ascontiguousarray(points).view(np.dtype((np.void, 8 * points.shape[1]))).ravel()
    _, first = np.unique(packed, return_index=True)
    return points[np.sort(first)]


def _keep(points: np.ndarray, edge: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n of the points, all `edge` boundary points first (they lead `points`, being first seen)."""
    head = min(edge, n)
    rest = rng.permutation(np.arange(head, len(points)))[: n - head]
    return points[np.concatenate([np.arange(head), np.sort(rest)])]
