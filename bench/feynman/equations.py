"""The 120 Feynman equations of ../shared/benchmarks/feynman_equations.csv, read with sympy.

`load()` returns `Equation` rows: id, the sympy formula over real symbols, the variables in order
with their training ranges, and `function()`, the formula vectorised with numpy.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CSV = Path(__file__).resolve().parent / "feynman_equations.csv"   # the benchmark's, copied here


@dataclass(frozen=True)
class Equation:
    id: str
    text: str
    names: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]
    set: str

    @property
    def slug(self) -> str:
        return self.id.replace(".", "_")

    def sympy(self) -> Any:
        import sympy
        from sympy.parsing.sympy_parser import parse_expr

        symbols = {n: sympy.Symbol(n, positive=True) for n in self.names}
        return parse_expr(self.text, local_dict={**symbols, "pi": sympy.pi}, evaluate=True)

    def function(self) -> Callable[..., np.ndarray]:
        import sympy

        symbols = [sympy.Symbol(n, positive=True) for n in self.names]
        return sympy.lambdify(symbols, self.sympy(), modules="numpy")


def load(path: Path = CSV) -> list[Equation]:
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            names, ranges = [], []
            for part in row["variables"].split(";"):
                name, lo, hi = part.split(":")
                names.append(name)
                ranges.append((float(lo), float(hi)))
            rows.append(Equation(row["id"], row["formula"], tuple(names), tuple(ranges), row["set"]))
    return rows


def select(ids: list[str] | None = None, *, max_vars: int | None = None) -> list[Equation]:
    """Equations by id (all when None), fewest variables first."""
    rows = load()
    if ids:
        unknown = sorted(set(ids) - {e.id for e in rows})
        if unknown:
            raise SystemExit(f"unknown equation ids: {unknown}")
        rows = [e for e in rows if e.id in ids]
    if max_vars is not None:
        rows = [e for e in rows if len(e.names) <= max_vars]
    return sorted(rows, key=lambda e: len(e.names))
