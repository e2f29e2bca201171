"""Which points to ask the oracle about: thin functions over the spec's domain (`oracle.domains`).

All three samplers return columns: a dict input name -> array of the input's type (int64, bool,
or float64 for reals), in spec input order, the same length for every input, deterministic for a
given seed.

- `domain(spec)`: every point, first input varying slowest (mixed radix), or None above 2^20
  points (and always for real inputs).
- `sample(spec, n, *, seed=0)`: for int and bool inputs, min(n, domain size) distinct points:
  every combination of boundary values (each input's lo, hi, and 0, 1, -1 when in range) when that
  fits in half of n (else each boundary value at least once), then Latin-hypercube stratified
  points filling the rest. For real inputs, n Latin-hypercube points.
- `beyond_range(spec, n, *, seed=0, factor=4)`: up to n distinct points with at least one input
  outside its training range, as far as `factor` range-widths out, within what each input's
  encoding can express (`Codec.reach`). Raises `EncodingError` with `can_encode_beyond`'s reason
  when no input's encoding can express such values.
"""

from __future__ import annotations

import numpy as np

from oracle.domains import DOMAIN_LIMIT
from oracle.spec import Spec


def domain(spec: Spec) -> dict[str, np.ndarray] | None:
    space = spec.domain()
    points = space.points(DOMAIN_LIMIT)
    return None if points is None else space.columns(points)


def sample(spec: Spec, n: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    space = spec.domain()
    return space.columns(space.sample(n, seed=seed))


def can_encode_beyond(spec: Spec) -> tuple[bool, str]:
    """Whether some input's encoding can express values outside its range, and why (not)."""
    return spec.domain().can_go_beyond()


def beyond_range(spec: Spec, n: int, *, seed: int = 0, factor: int = 4) -> dict[str, np.ndarray]:
    space = spec.domain()
    return space.columns(space.beyond(n, seed=seed, factor=factor))
