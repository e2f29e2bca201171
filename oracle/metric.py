"""How a program's values are compared with the network's: one metric per kind of output.

A `Metric` says, point by point, whether a program's value counts as agreeing with the network's
(`agree`), and summarises the errors (`summary`). The problem carries its metric; the search, the
fidelity figures and the report all use it, so "agreement" means one thing everywhere.

- `Exact`: int and bool outputs; a value agrees when it is equal (and trusted: not `bad`).
- `Tolerance(abs_tol, rel_tol)`: real outputs; a value agrees when
  `|p - n| <= abs_tol + rel_tol * |n|` (NaN and infinite values never agree), and the summary
  gives the RMSE, the largest absolute and relative errors.

`metric_for(spec)` picks the metric of a spec's output type.

A real network's own error sets what agreement can mean for it (issue 16): `network_error(X, y)`
measures it first (the held-out residual of a smooth polynomial fit of the network's values,
relative to their spread: an upper bound of the error of a network trained to about 1e-3), and
`calibrated(spec, X, y)` is the real output's metric with an absolute tolerance of
`NOISE_MULTIPLE` times that error (the spec's own `output.tolerance`, when it states one, is kept
as it is). Measured on the 60 Feynman networks (20,000 points each, bench/feynman): an exact law
agrees with its network at >= 99 % of the points for all but the networks worse than 5e-3, while
a law with a constant 1 % off is below 99 % for most.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from dsl.errors import SpecError

from dsl.types import REAL


class Metric(Protocol):
    name: str

    def agree(self, program: np.ndarray, network: np.ndarray, bad: np.ndarray | None = None) -> np.ndarray: ...

    def summary(self, program: np.ndarray, network: np.ndarray, bad: np.ndarray | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Exact:
    name: str = "exact"

    def agree(self, program: np.ndarray, network: np.ndarray, bad: np.ndarray | None = None) -> np.ndarray:
        ok = np.asarray(program) == np.asarray(network)
        return ok & ~bad if bad is not None else ok

    def summary(self, program: np.ndarray, network: np.ndarray, bad: np.ndarray | None = None) -> dict[str, Any]:
        """For int outputs, how far off the program is where it disagrees: the mean and largest
        absolute error over the trusted points (an approximate network's error measure)."""
        p, n = np.asarray(program), np.asarray(network)
        if p.dtype == bool or n.dtype == bool or p.dtype.kind not in "iu":
            return {"metric": self.name}
        use = ~bad if bad is not None else np.ones(len(n), bool)
        err = np.abs(p[use].astype(np.float64) - n[use].astype(np.float64))
        return {"metric": self.name,
                "mean_abs_error": float(err.mean()) if err.size else None,
                "max_abs_error": int(err.max()) if err.size else None,
                "untrusted": int((~use).sum())}


@dataclass(frozen=True)
class Tolerance:
    abs_tol: float = 1e-6
    rel_tol: float = 1e-3
    name: str = "tolerance"
    noise: float | None = None     # the measured network error it was calibrated to, if it was

    def __post_init__(self) -> None:
        for key in ("abs_tol", "rel_tol"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{key}: expected a finite number >= 0, got {value!r}")

    def agree(self, program: np.ndarray, network: np.ndarray, bad: np.ndarray | None = None) -> np.ndarray:
        p, n = np.asarray(program, np.float64), np.asarray(network, np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            ok = np.abs(p - n) <= self.abs_tol + self.rel_tol * np.abs(n)
        ok &= np.isfinite(p) & np.isfinite(n)
        return ok & ~bad if bad is not None else ok

    def summary(self, program: np.ndarray, network: np.ndarray, bad: np.ndarray | None = None) -> dict[str, Any]:
        p, n = np.asarray(program, np.float64), np.asarray(network, np.float64)
        use = np.isfinite(p) & np.isfinite(n)
        if bad is not None:
            use &= ~bad
        err = np.abs(p[use] - n[use])
        rel = err / np.maximum(np.abs(n[use]), np.finfo(float).tiny)
        return {"metric": self.name, "abs_tol": self.abs_tol, "rel_tol": self.rel_tol,
                **({"network_error": self.noise} if self.noise is not None else {}),
                "rmse": float(np.sqrt(np.mean(err ** 2))) if err.size else None,
                "max_abs_error": float(err.max()) if err.size else None,
                "max_rel_error": float(rel.max()) if rel.size else None,
                "invalid": int((~use).sum())}


def metric_for(spec: Any) -> Metric:
    """The metric of `spec`'s output: exact for int and bool, a tolerance for real (the spec's
    `output.tolerance` when it gives one)."""
    if spec.output.type != REAL:
        return Exact()
    given = getattr(spec.output, "tolerance", None)
    return Tolerance() if given is None else Tolerance(abs_tol=given[0], rel_tol=given[1])


#: The calibrated tolerance, in multiples of the measured network error (relative to the spread of
#: its values): a network's largest errors are 10 to 40 times its RMS, at the corners of its box.
NOISE_MULTIPLE = 8.0
#: The measured error is kept within these (relative to the spread of the values).
NOISE_FLOOR, NOISE_CAP = 3e-4, 2e-3


def network_error(X: np.ndarray, y: np.ndarray) -> float:
    """The network's own error relative to the spread of its values `y` at the points `X` (n, k):
    the held-out residual of a polynomial fit (degree 4 for up to two inputs, 3 up to four, else
    2) on half of the points, kept within [NOISE_FLOOR, NOISE_CAP] (a function no polynomial
    follows gets the cap)."""
    import itertools

    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X: expected (n, k) points with one value each, got {X.shape} and {y.shape}")
    n, k = X.shape
    degree = 4 if k <= 2 else 3 if k <= 4 else 2
    Z = (X - X.mean(0)) / (X.std(0) + 1e-300)
    cols = [np.ones(n)]
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(k), d):
            cols.append(np.prod(Z[:, combo], axis=1))
    A = np.column_stack(cols)
    half = n // 2
    if A.shape[1] >= half or not np.isfinite(y).all():
        return NOISE_CAP
    coef, *_ = np.linalg.lstsq(A[:half], y[:half], rcond=None)
    err = np.sqrt(np.mean((A[half:] @ coef - y[half:]) ** 2)) / spread(y)
    return float(np.clip(err, NOISE_FLOOR, NOISE_CAP))


def spread(y: np.ndarray) -> float:
    """The scale errors are measured against: the standard deviation of the values (their RMS
    when they are constant, 1 when they are all 0)."""
    y = np.asarray(y, np.float64)
    return float(np.std(y)) or float(np.sqrt(np.mean(y ** 2))) or 1.0


def calibrated(spec: Any, X: np.ndarray, y: np.ndarray, *, sample: int = 2000) -> Metric:
    """The metric of `spec`'s output, calibrated to the network's own error: for a real output
    that states no tolerance, `Tolerance(abs_tol=NOISE_MULTIPLE * error * spread, rel_tol=1e-3)`
    with the error measured by `network_error` on the first `sample` points; otherwise
    `metric_for(spec)`."""
    metric = metric_for(spec)
    if spec.output.type != REAL or getattr(spec.output, "tolerance", None) is not None:
        return metric
    X, y = np.asarray(X, np.float64)[:sample], np.asarray(y, np.float64)[:sample]
    noise = network_error(X, y)
    return Tolerance(abs_tol=max(metric.abs_tol, NOISE_MULTIPLE * noise * spread(y)),
                     rel_tol=metric.rel_tol, name="tolerance", noise=noise)


def read_tolerance(value: Any) -> tuple[float, float]:
    """A real output's `tolerance` in a spec: {"abs": a, "rel": r}, each finite and >= 0 (either
    may be left out: abs 1e-6, rel 1e-3, the metric's defaults); SpecError naming the field."""
    from oracle.encoding import shown

    if not isinstance(value, dict) or not value or set(value) - {"abs", "rel"}:
        raise SpecError(f"output.tolerance: expected an object with 'abs' and/or 'rel', got "
                        f"{shown(value)}")
    out = []
    for key, default in (("abs", 1e-6), ("rel", 1e-3)):
        v = value.get(key, default)
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1e6):
            raise SpecError(f"output.tolerance.{key}: expected a finite number >= 0, got {shown(v)}")
        out.append(float(v))
    return out[0], out[1]
