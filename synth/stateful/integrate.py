"""The output as a running sum (the Newton tasks' shape): two registers, out = r,

    step s = <affine in s, r, x>; r = r + s

`r_t = y_t` is read off the answers and so is `s_t = y_t - y_(t-1)` (r's step adds s's new
value); s's step is then the integer affine function of (s_(t-1), r_(t-1), x_t) closest to those
differences in least squares (`terms.linear`), tried for inits 0 and 1 of each register and kept
when the whole program reaches min_agreement on the sample (run exactly). Nothing is enumerated:
the general two-register phase finds `s` only when it runs on its own, and here s reads r's old
value (Newton_Spring: step v = v + (x - p); p = p + v).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dsl.ast import App, Var, variables
from dsl.stateful import Register, Stateful
from dsl.types import INT
from synth.stateful.registers import previous
from synth.stateful.terms import linear

if TYPE_CHECKING:                       # pragma: no cover
    from synth.stateful.search import _Finder

INITS = (0, 1)


def running_sum(finder: "_Finder") -> Stateful | None:
    """The phase (see the module docstring); None when no such program reaches min_agreement."""
    finder.state.phase = "output as a running sum"
    finder.state.tick(force=True)
    rows = finder.probe
    y = finder.sample.y[rows]
    if not finder.int_output or not np.issubdtype(y.dtype, np.integer):
        return None
    y = y.astype(np.int64)
    for r0 in INITS:
        r_prev = previous(y, r0)
        s = y - r_prev
        for s0 in INITS:
            cols = {**finder._window_columns(rows, 0), "s": previous(s, s0), "r": r_prev}
            fit = linear({k: v.ravel() for k, v in cols.items()}, s.ravel())
            if fit is None or "s" not in variables(fit[0]):
                continue
            registers = (Register("s", s0, fit[0]),
                         Register("r", r0, App("add", (Var("r", INT), Var("s", INT)), INT)))
            program = finder._checked(registers, Var("r", INT))
            if program is not None:
                return program
    return None
