"""The network against the program on a grid: the data behind the report's pictures.

`Comparison.measure(program, oracle)` evaluates both on a grid of at most `CELLS` values per input
(the first two inputs vary; any others stay at their `lo`) while the oracle is open, so that a
report carries what its pictures need: the results page and notebooks draw from the report without
re-opening the model or re-parsing the program. `to_dict`/`from_dict` give its JSON form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dsl.types import BOOL

CELLS = 128


@dataclass(frozen=True)
class Comparison:
    names: tuple[str, ...]          # the varying inputs (one or two)
    axes: tuple[np.ndarray, ...]    # their values
    fixed: dict[str, int]           # the other inputs, held at their lo
    network: np.ndarray             # shape = tuple(len(a) for a in axes)
    program: np.ndarray
    wrong: np.ndarray               # bool: disagree (or the program's value is not to be trusted)
    lo: int                         # the output's range
    hi: int

    @classmethod
    def measure(cls, program: Any, oracle: Any) -> "Comparison":
        """Both on the grid; `program` is a `dsl.program.Program`."""
        from oracle.metric import metric_for

        spec = oracle.spec
        varying = spec.inputs[:2]
        axes = tuple(axis(i.lo, i.hi) for i in varying)
        grids = np.meshgrid(*axes, indexing="ij")
        shape = grids[0].shape
        columns = {}
        for inp in spec.inputs:
            k = next((j for j, v in enumerate(varying) if v.name == inp.name), None)
            col = grids[k].ravel() if k is not None else np.full(grids[0].size, inp.lo, np.int64)
            columns[inp.name] = col.astype(bool) if inp.type == BOOL else col
        got = oracle.query(columns)
        ev = program.evaluate(columns)
        ok = metric_for(spec).agree(ev.values, got, ev.bad)
        return cls(tuple(i.name for i in varying), axes,
                   {i.name: int(i.lo) for i in spec.inputs[2:]},
                   got.astype(np.int64).reshape(shape), ev.values.astype(np.int64).reshape(shape),
                   (~ok).reshape(shape), int(spec.output.lo), int(spec.output.hi))

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "axes": [a.tolist() for a in self.axes],
                "fixed": dict(self.fixed), "network": self.network.tolist(),
                "program": self.program.tolist(), "wrong": self.wrong.astype(int).tolist(),
                "lo": self.lo, "hi": self.hi}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Comparison":
        return cls(tuple(data["names"]), tuple(np.asarray(a, np.int64) for a in data["axes"]),
                   dict(data["fixed"]), np.asarray(data["network"], np.int64),
                   np.asarray(data["program"], np.int64), np.asarray(data["wrong"], bool),
                   data["lo"], data["hi"])


def axis(lo: int, hi: int) -> np.ndarray:
    if hi - lo + 1 <= CELLS:
        return np.arange(lo, hi + 1, dtype=np.int64)
    return np.unique(np.linspace(lo, hi, CELLS).round().astype(np.int64))
