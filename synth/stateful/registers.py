"""Registers run exactly, the proxy grids their steps are enumerated on, and small helpers.

`simulate(registers, x, names)` runs registers (in order, each reading the new values of those
before it) over sequences (n, T, D) with the steps compiled from their numpy source; `grid` lays
out every combination of proxy register values and step values, on which `terms.Bank` tells step
functions apart.
"""

from __future__ import annotations

import numpy as np

from dsl.ast import App, Const, Node, variables
from dsl.stateful import Register
from dsl.stateful_numpy import numpy_expression
from dsl.types import BOOL, INT
from synth.stateful.sample import StepDomain


def as_int(node: Node) -> Node:
    return App("ite", (Const(1, INT), node, Const(0, INT)), INT) if node.type == BOOL else node


def previous(y: np.ndarray, init: int) -> np.ndarray:
    """y_(t-1) per step, `init` before the first."""
    out = np.empty_like(y)
    out[:, 0] = init
    out[:, 1:] = y[:, :-1]
    return out


def window_vars(node: Node) -> bool:
    return any(is_window(v) for v in variables(node))


def is_window(name: str) -> bool:
    head, _, lag = name.rpartition("_")
    return bool(head) and lag.isdigit()


def register_values(extra: int = 13) -> np.ndarray:
    base = np.arange(-(extra // 2), extra // 2 + 1)
    return np.concatenate([base, [-37, 23, 64, 150, 999]]).astype(np.int64)


def grid(registers: dict[str, np.ndarray], domain: StepDomain, letters: int = 32) -> dict[str, np.ndarray]:
    """Every combination of the registers' proxy values and (up to `letters`) step values."""
    steps = domain.letters() if domain.alphabet <= letters else np.unique(np.concatenate([
        domain.random(letters - 2, 1, np.random.default_rng(3))[:, 0],
        np.array([domain.lo, domain.hi])]), axis=0)
    axes = [np.arange(len(v)) for v in registers.values()] + [np.arange(len(steps))]
    mesh = [m.ravel() for m in np.meshgrid(*axes, indexing="ij")]
    out = {k: v[m] for (k, v), m in zip(registers.items(), mesh)}
    out.update({n: steps[mesh[-1], d] for d, n in enumerate(domain.names)})
    return out


def simulate(registers: tuple[Register, ...], x: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Each register's value after every step, (n, T); None when a value leaves +-2^40."""
    fns = [eval(f"lambda {', '.join(names)}, s=0, r=0: {numpy_expression(r.step)}", {"np": np})  # noqa: S307 (our own source)
           for r in registers]
    n, steps = x.shape[:2]
    state = {r.name: np.full(n, r.init, dtype=np.int64) for r in registers}
    out = {r.name: np.zeros((n, steps), dtype=np.int64) for r in registers}
    with np.errstate(all="ignore"):
        for t in range(steps):
            env = {nm: x[:, t, d] for d, nm in enumerate(names)}
            for r, fn in zip(registers, fns):
                value = np.broadcast_to(np.asarray(fn(**env, **state), dtype=np.int64), (n,))
                if np.abs(value).max(initial=0) > 1 << 40:
                    return None
                state[r.name] = value
                out[r.name][:, t] = value
    return out
