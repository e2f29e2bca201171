"""Fidelity: how often a program agrees with the network, and where it does not.

`compare(program, columns, network_values)` is the core, on plain arrays: it evaluates the program
(a `dsl.program.Program`, or a bare AST node) at every point and counts the points where its value
agrees with the network's under the problem's metric (`oracle.metric`: equality for int and bool
outputs, a tolerance for reals). A point where the program's evaluation cannot be trusted (`bad`,
e.g. int64 overflow) is a disagreement whatever the value says, and is listed with
`overflow=True` and `program=None`. The first `max_disagreements` disagreements are listed in the
order of `columns`.

`measure(program, oracle)` picks the points: the whole domain when it has at most 2^20 points
(`exhaustive=True`, and then the agreement is exact, so `wilson_low == agreement`), else a
stratified sample of `sample_size` points with a 95% Wilson lower bound on the agreement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from dsl import DSL, Node, evaluate
from oracle.metric import Exact, Metric

Value = int | bool | float
Z95 = 1.959963984540054  # two-sided 95% normal quantile


@dataclass(frozen=True)
class Disagreement:
    """One point where the program and the network differ (`program` is None on overflow)."""

    inputs: tuple[tuple[str, Value], ...]
    network: Value
    program: Value | None
    overflow: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": dict(self.inputs), "network": self.network, "program": self.program,
                "overflow": self.overflow}


@dataclass(frozen=True)
class Fidelity:
    agree: int
    total: int
    exhaustive: bool
    wilson_low: float
    disagreements: tuple[Disagreement, ...]
    overflows: int = 0
    errors: dict[str, Any] | None = None     # the metric's summary (RMSE etc. for reals)

    @property
    def agreement(self) -> float:
        return self.agree / self.total if self.total else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"agree": self.agree, "total": self.total, "exhaustive": self.exhaustive,
                "agreement": self.agreement, "wilson_low": self.wilson_low,
                "disagreements": [d.to_dict() for d in self.disagreements],
                **({"errors": self.errors} if self.errors and len(self.errors) > 1 else {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Fidelity":
        return cls(data["agree"], data["total"], data["exhaustive"],
                   data.get("wilson_low", data["agreement"]),
                   tuple(Disagreement(tuple(d["inputs"].items()), d["network"], d["program"],
                                      d.get("overflow", False)) for d in data["disagreements"]),
                   errors=data.get("errors"))


def wilson_lower(successes: int, n: int, *, z: float = Z95) -> float:
    """Lower end of the Wilson score interval for a proportion (0.0 when n == 0)."""
    if successes == 0:
        return 0.0  # exactly; the formula leaves a rounding residue
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


def compare(program: Any, columns: Mapping[str, np.ndarray], network_values: np.ndarray, *,
            exhaustive: bool, max_disagreements: int = 20, dsl: DSL | None = None,
            metric: Metric = Exact()) -> Fidelity:
    """Agreement of `program` (a Program, or a Node of `dsl`) with `network_values` at the points
    given by `columns`, under `metric`.

    `columns` maps every input name to a 1-D array (all the same length as `network_values`).
    """
    network_values = np.asarray(network_values)
    result = program.evaluate(columns) if not isinstance(program, Node) else evaluate(program, columns, dsl=dsl)
    ok = metric.agree(result.values, network_values, result.bad)
    total, agree = int(len(network_values)), int(ok.sum())
    listed = []
    for i in np.flatnonzero(~ok)[:max_disagreements]:
        overflow = bool(result.bad[i])
        listed.append(Disagreement(
            inputs=tuple((name, _plain(col[i])) for name, col in columns.items()),
            network=_plain(network_values[i]),
            program=None if overflow else _plain(result.values[i]),
            overflow=overflow))
    low = agree / total if exhaustive and total else wilson_lower(agree, total)
    return Fidelity(agree, total, exhaustive, low, tuple(listed), int(result.bad.sum()),
                    metric.summary(result.values, network_values, result.bad))


def measure(program: Any, oracle: Any, *, max_disagreements: int = 20, sample_size: int = 200_000,
            seed: int = 0, dsl: DSL | None = None, metric: Metric = Exact()) -> Fidelity:
    """Fidelity of `program` to `oracle`'s network over its domain, or over a stratified sample."""
    from oracle import sampling

    columns = sampling.domain(oracle.spec)
    exhaustive = columns is not None
    if columns is None:
        columns = sampling.sample(oracle.spec, sample_size, seed=seed)
    return compare(program, columns, oracle.query(columns), exhaustive=exhaustive,
                   max_disagreements=max_disagreements, dsl=dsl, metric=metric)


def _plain(value: Any) -> Value:
    """A numpy scalar as a JSON-friendly Python int, bool or float."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return int(value)
