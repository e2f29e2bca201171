"""How a program's values are compared with the network's: one metric per kind of output.

A `Metric` says, point by point, whether a program's value counts as agreeing with the network's
(`agree`), and summarises the errors (`summary`). The problem carries its metric; the search, the
fidelity figures and the report all use it, so "agreement" means one thing everywhere.

- `Exact`: int and bool outputs; a value agrees when it is equal (and trusted: not `bad`).
- `Tolerance(abs_tol, rel_tol)`: real outputs; a value agrees when
  `|p - n| <= abs_tol + rel_tol * |n|` (NaN and infinite values never agree), and the summary
  gives the RMSE, the largest absolute and relative errors.

`metric_for(spec)` picks the metric of a spec's output type.
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
