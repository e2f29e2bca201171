"""Vectorized evaluation of a program over arrays of input values."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from dsl.ast import Const, Node, Var
from dsl.errors import DSLError
from dsl.language import DSL, check_depth, get_dsl


@dataclass(frozen=True)
class Evaluation:
    """`values[i]` is the program's value at point i; where `bad[i]`, the true value does not fit
    int64 (or an intermediate did not) and `values[i]` is not to be trusted."""

    values: np.ndarray
    bad: np.ndarray

    @property
    def ok(self) -> bool:
        return not self.bad.any()


def evaluate(node: Node, env: Mapping[str, np.ndarray], *, dsl: DSL | None = None) -> Evaluation:
    """Evaluate `node` at every point of `env` (input name -> 1-D array, all the same length).

    Raises DSLError for an input with no values, or a program nested deeper than MAX_DEPTH.
    """
    check_depth(node)
    dsl = dsl or get_dsl("int")
    arrays = {k: np.asarray(v) for k, v in env.items()}
    n = max((a.shape[0] for a in arrays.values() if a.ndim), default=1)
    values, bad = _eval(node, arrays, dsl)
    shape = (n,)
    return Evaluation(np.broadcast_to(values, shape).copy(), np.broadcast_to(bad, shape).copy())


def _eval(node: Node, env: Mapping[str, np.ndarray], dsl: DSL) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(node, Var):
        if node.name not in env:
            raise DSLError(f"no values given for input {node.name!r}")
        return env[node.name].astype(node.type.np_dtype, copy=False), np.zeros((), bool)
    if isinstance(node, Const):
        return np.asarray(node.value, dtype=node.type.np_dtype), np.zeros((), bool)
    row = dsl.operators[node.op]
    results = []
    for arg in node.args:  # a loop, not a comprehension: one frame per level
        results.append(_eval(arg, env, dsl))
    values = tuple(r[0] for r in results)
    bads = tuple(r[1] for r in results)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out, own = row.numpy(*values)
    if row.propagate is not None:
        bad = row.propagate(values, bads)
    else:
        bad = functools.reduce(np.logical_or, bads, np.zeros((), bool))
    if own is not None:
        bad = bad | own
    return np.asarray(out), np.asarray(bad)
