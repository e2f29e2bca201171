"""Which points to ask the oracle about.

All three samplers return columns: a dict input name -> int64 array (bool for bool inputs), in spec
input order, the same length for every input, deterministic for a given seed.

- `domain(spec)`: every point, first input varying slowest (mixed radix), or None above 2^20 points.
- `sample(spec, n, *, seed=0)`: min(n, domain size) distinct points: every combination of boundary
  values (each input's lo, hi, and 0, 1, -1 when in range) when that fits in half of n (else each
  boundary value at least once), then Latin-hypercube stratified points filling the rest.
- `beyond_range(spec, n, *, seed=0, factor=4)`: up to n distinct points with at least one input
  outside its training range, as far as `factor` range-widths out. Raises `EncodingError` with
  `can_encode_beyond`'s reason when no input's encoding can express such values.
"""

from __future__ import annotations

import itertools

import numpy as np

from dsl.errors import EncodingError
from oracle.spec import InputSpec, Spec

DOMAIN_LIMIT = 2**20
LIMIT = 2**62 - 1  # magnitudes the spec allows


def domain(spec: Spec) -> dict[str, np.ndarray] | None:
    return _typed(spec, _grid(spec)) if spec.domain_size() <= DOMAIN_LIMIT else None


def _grid(spec: Spec) -> np.ndarray:
    index, cols = np.arange(spec.domain_size(), dtype=np.int64), {}
    for inp in reversed(spec.inputs):
        width = inp.hi - inp.lo + 1
        cols[inp.name] = index % width + inp.lo
        index = index // width
    return np.stack([cols[n] for n in spec.input_names], axis=1)


def boundary_values(inp: InputSpec) -> list[int]:
    return sorted({v for v in (inp.lo, inp.hi, 0, 1, -1) if inp.lo <= v <= inp.hi})


def sample(spec: Spec, n: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    if n <= 0:
        return _typed(spec, np.empty((0, len(spec.inputs)), np.int64))
    if spec.domain_size() <= n:
        return _typed(spec, _grid(spec))
    rng = np.random.default_rng(seed)
    bounds = [boundary_values(i) for i in spec.inputs]
    if np.prod([len(b) for b in bounds]) <= n // 2:
        edge = np.array(list(itertools.product(*bounds)), dtype=np.int64)
    else:  # one point per boundary value, the other inputs random
        rows = []
        for k, values in enumerate(bounds):
            for v in values:
                row = _uniform(spec, 1, rng)[0]
                row[k] = v
                rows.append(row)
        edge = np.array(rows, dtype=np.int64)
    points = _unique(np.concatenate([edge, _stratified(spec, max(0, n - len(edge)), rng)]))
    while len(points) < n:  # duplicates removed: top up with uniform draws (domain_size > n here)
        points = _unique(np.concatenate([points, _uniform(spec, n - len(points), rng)]))
    if len(points) > n:
        points = _keep(points, edge, n, rng)
    return _typed(spec, points)


def can_encode_beyond(spec: Spec) -> tuple[bool, str]:
    """Whether some input's encoding can express values outside its range, and why (not)."""
    reasons, able = [], False
    for inp in spec.inputs:
        lo, hi = _beyond_interval(inp, 1)
        if lo < inp.lo or hi > inp.hi:
            able = True
        elif inp.type == "bool":
            reasons.append(f"{inp.name}: a bool has no values beyond [0, 1]")
        elif inp.encoding == "one_hot":
            reasons.append(f"{inp.name}: one_hot has a column only for each value in [{inp.lo}, {inp.hi}]")
        else:
            reasons.append(f"{inp.name}: bits of width {inp.params['width']} express [0, "
                           f"{(1 << inp.params['width']) - 1}] only, which the range [{inp.lo}, {inp.hi}] "
                           "already fills; give a wider 'width' to allow larger values")
    return able, "; ".join(reasons) if reasons else "every input uses an encoding without a fixed range"


def beyond_range(spec: Spec, n: int, *, seed: int = 0, factor: int = 4) -> dict[str, np.ndarray]:
    able, reason = can_encode_beyond(spec)
    if not able:
        raise EncodingError(f"beyond_range: no input can be encoded outside its training range ({reason})")
    rng = np.random.default_rng(seed)
    points = _uniform(spec, n, rng)
    capable = [k for k, i in enumerate(spec.inputs) if _beyond_interval(i, factor) != (i.lo, i.hi)]
    chosen = rng.random((n, len(capable))) < 0.5
    chosen[np.arange(n), rng.integers(0, len(capable), n)] = True  # at least one input outside
    for j, k in enumerate(capable):
        points[chosen[:, j], k] = _outside(spec.inputs[k], int(chosen[:, j].sum()), factor, rng)
    return _typed(spec, _unique(points))


def _beyond_interval(inp: InputSpec, factor: int) -> tuple[int, int]:
    """The widest interval the encoding can express, up to `factor` range-widths past the range."""
    if inp.type == "bool" or inp.encoding == "one_hot":
        return inp.lo, inp.hi
    reach = factor * max(inp.hi - inp.lo + 1, abs(inp.lo), abs(inp.hi), 1)
    if inp.encoding == "bits":
        return 0, min((1 << inp.params["width"]) - 1, inp.hi + reach)
    return max(-LIMIT, inp.lo - reach), min(LIMIT, inp.hi + reach)


def _outside(inp: InputSpec, m: int, factor: int, rng: np.random.Generator) -> np.ndarray:
    lo, hi = _beyond_interval(inp, factor)
    below, above = inp.lo - lo, hi - inp.hi  # counts of expressible values on each side
    pick = rng.integers(0, below + above, m)
    return np.where(pick < below, lo + pick, inp.hi + 1 + (pick - below)).astype(np.int64)


def _stratified(spec: Spec, m: int, rng: np.random.Generator) -> np.ndarray:
    """Latin hypercube: input k's range cut into m strata, each stratum used once."""
    cols = []
    for inp in spec.inputs:
        width = inp.hi - inp.lo + 1
        u = (rng.permutation(m) + rng.random(m)) / max(m, 1)
        cols.append(inp.lo + np.minimum((u * width).astype(np.int64), width - 1))
    return np.stack(cols, axis=1) if m > 0 else np.empty((0, len(spec.inputs)), np.int64)


def _uniform(spec: Spec, m: int, rng: np.random.Generator) -> np.ndarray:
    return np.stack([rng.integers(i.lo, i.hi + 1, m, dtype=np.int64) for i in spec.inputs], axis=1)


def _unique(points: np.ndarray) -> np.ndarray:
    packed = np.ascontiguousarray(points).view(np.dtype((np.void, 8 * points.shape[1]))).ravel()
    _, first = np.unique(packed, return_index=True)
    return points[np.sort(first)]  # keep first-seen order, so boundary points stay in front


def _keep(points: np.ndarray, edge: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n of the points, all boundary points first (they lead `points`, being first seen)."""
    head = min(len(edge), n)
    rest = rng.permutation(np.arange(head, len(points)))[: n - head]
    return points[np.concatenate([np.arange(head), np.sort(rest)])]


def _typed(spec: Spec, points: np.ndarray) -> dict[str, np.ndarray]:
    return {i.name: points[:, k].astype(bool if i.type == "bool" else np.int64)
            for k, i in enumerate(spec.inputs)}
