"""The network against a real formula: the data behind a real report's pictures.

`Slices.measure(program, oracle, abs_tol=, rel_tol=)` asks the network, while it is open, for
what the pictures of a real-valued report need, so that a notebook or the results page draws
them from the report alone (no model opened, no formula parsed):

- one slice per input: the input swept over its training range and `WIDEN` range-widths beyond
  it on each side (a range of one sign keeps its sign, as in `verifier.real`; never past what the
  input's encoding can express), the other inputs held `HELD` of the way across their training
  ranges (off-centre: a symmetric range's centre is often a zero of the law, which would flatten
  every other slice); the
  network's and the formula's values at `POINTS` values (NaN where the formula is undefined);
- residuals: the network and the formula at `SAMPLE` Latin-hypercube points of the training box,
  with the tolerance they were judged by (`abs_tol + rel_tol * |network|`).

`to_dict`/`from_dict` give its JSON form (NaN as null); its `kind` is "slices", where the integer
families' `netsynth.comparison.Comparison` has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

POINTS = 121        # values along each slice
SAMPLE = 400        # points of the residual plot
WIDEN = 1.0         # how far the slices reach past the training range, in range-widths
HELD = 0.6          # where the other inputs are held, as a fraction of the way across their ranges


@dataclass(frozen=True)
class Slices:
    names: tuple[str, ...]                  # every input, in spec order
    box: tuple[tuple[float, float], ...]    # their training ranges
    held: tuple[float, ...]                 # where each is held while another one varies
    axes: tuple[np.ndarray, ...]            # the values of each slice
    network: tuple[np.ndarray, ...]         # the network along each slice
    formula: tuple[np.ndarray, ...]         # the formula along each slice (NaN: undefined)
    sample_network: np.ndarray              # the residual points: the network
    sample_formula: np.ndarray              # ... and the formula there
    abs_tol: float
    rel_tol: float
    kind: str = "slices"

    @classmethod
    def measure(cls, program: Any, oracle: Any, *, abs_tol: float, rel_tol: float,
                seed: int = 0) -> "Slices":
        """Both along each input's slice and on the residual sample; `program` is a real
        `dsl.program.Expression` over the inputs of `oracle.spec`."""
        from oracle import sampling

        spec = oracle.spec
        box = tuple((float(i.lo), float(i.hi)) for i in spec.inputs)
        held = tuple(lo + HELD * (hi - lo) for lo, hi in box)
        axes, network, formula = [], [], []
        for k, axis in enumerate(spec.domain().axes):
            lo, hi = widened(*box[k])
            xs = np.linspace(max(lo, axis.reach.lo), min(hi, axis.reach.hi), POINTS)
            columns = {i.name: np.full(POINTS, held[j]) for j, i in enumerate(spec.inputs)}
            columns[axis.name] = xs
            axes.append(xs)
            network.append(np.asarray(oracle.query(columns), np.float64))
            formula.append(_values(program, columns))
        columns = sampling.sample(spec, SAMPLE, seed=seed)
        return cls(tuple(i.name for i in spec.inputs), box, held, tuple(axes), tuple(network),
                   tuple(formula), np.asarray(oracle.query(columns), np.float64),
                   _values(program, columns), float(abs_tol), float(rel_tol))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "names": list(self.names), "box": [list(b) for b in self.box],
                "held": list(self.held), "axes": [_json(a) for a in self.axes],
                "network": [_json(a) for a in self.network],
                "formula": [_json(a) for a in self.formula],
                "sample": {"network": _json(self.sample_network),
                           "formula": _json(self.sample_formula)},
                "tolerance": {"abs_tol": self.abs_tol, "rel_tol": self.rel_tol}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Slices":
        def arrays(key: str) -> tuple[np.ndarray, ...]:
            return tuple(_array(a) for a in data[key])

        return cls(tuple(data["names"]), tuple((float(a), float(b)) for a, b in data["box"]),
                   tuple(float(c) for c in data["held"]), arrays("axes"), arrays("network"),
                   arrays("formula"), _array(data["sample"]["network"]),
                   _array(data["sample"]["formula"]), float(data["tolerance"]["abs_tol"]),
                   float(data["tolerance"]["rel_tol"]))

    def band(self, network: np.ndarray) -> np.ndarray:
        """The tolerance at these network values (never 0: a spec may ask for abs 0)."""
        return np.maximum(self.abs_tol + self.rel_tol * np.abs(network), np.finfo(float).tiny)

    def inside(self, k: int) -> np.ndarray:
        """Which points of slice `k` lie in its input's training range."""
        lo, hi = self.box[k]
        return (self.axes[k] >= lo) & (self.axes[k] <= hi)

    def gap(self, k: int, where: np.ndarray) -> float | None:
        """The largest |formula - network| relative to the tolerance on slice `k` at `where`
        (NaN-free points only), or None when there is no such point."""
        f, n = self.formula[k][where], self.network[k][where]
        ok = np.isfinite(f) & np.isfinite(n)
        with np.errstate(over="ignore"):
            return float(np.max(np.abs(f[ok] - n[ok]) / self.band(n[ok]))) if ok.any() else None


def widened(lo: float, hi: float, factor: float = WIDEN) -> tuple[float, float]:
    """[lo, hi] widened by `factor` widths each side; a range of one sign keeps its sign."""
    from verifier.real import beyond_box

    return beyond_box(lo, hi, factor)


def _values(program: Any, columns: dict[str, np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):
        result = program.evaluate(columns)
    values = np.asarray(result.values, np.float64).copy()
    values[np.asarray(result.bad, bool) | ~np.isfinite(values)] = np.nan
    return values


def _json(a: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(a, np.float64)]


def _array(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], np.float64)
