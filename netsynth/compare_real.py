"""Real formulas in a comparison: when two networks' formulas are one law, and their constants.

- `skeleton(program)`: the formula with its fitted constants abstracted (`$0`, `$1`... in reading
  order) and the constants; the integer exponents of `**` are part of the skeleton.
- `prover(common, tolerances)`: the relation of two formulas on the shared box, for
  `compare_group.group`. Proved equal (the verifier's sympy, then Z3 over the reals, then a
  numeric hunt: `verifier.real.prove`) is one group. Otherwise two formulas of the same skeleton
  are one law when they differ by no more than the networks' own error (the real family's
  tolerance, relative RMS over the shared box, and the spec's tolerance metric at every point):
  a numeric check, said so in the proof's reason, never called proved. Formulas of different
  skeletons that are not proved equal stay apart: a counterexample when they differ beyond that
  error, else UNKNOWN.
- `constants(program, members, ...)`: the group's skeleton and, side by side, each member's
  constants: those of its own formula, and the skeleton's fitted to the network itself.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from dsl.ast import App, Const, Node
from dsl.program import Expression
from dsl.types import REAL
from verifier.equivalence import Counterexample, Equivalence, Verdict

POINTS = 20_000                 # points of the shared box the numeric check uses
DEFAULT_TOLERANCE = 0.005       # relative RMS, when a network's report gives no estimate


def skeleton(program: Expression) -> tuple[Expression, tuple[float, ...]]:
    """The formula with each real constant replaced by a parameter `$k` (k in reading order),
    and the constants. `pi` is not a fitted constant and stays."""
    from dsl.real import parameter

    found: list[float] = []

    def walk(node: Node) -> Node:
        if isinstance(node, Const) and node.type == REAL:
            found.append(float(node.value))
            return parameter(len(found) - 1)
        if isinstance(node, App) and node.op != "pow":
            return App(node.op, tuple(walk(a) for a in node.args), node.type)
        if isinstance(node, App):       # the exponent of ** is an integer of the skeleton
            return App(node.op, (walk(node.args[0]), *node.args[1:]), node.type)
        return node

    shape = walk(program.node)
    return Expression(shape, program.dsl, program.inputs, program.types), tuple(found)


def prover(common: Any, tolerances: Mapping[str, float], names: Sequence[str], *,
           timeout_ms: int = 10_000, seed: int = 0) -> Callable[[int, int, Any, Any], Equivalence]:
    """A `prove(k, j, p, q)` for `group`: networks k and j's formulas p and q on `common`'s box.
    `tolerances[name]` is each network's error estimate (relative RMS)."""
    from oracle import sampling
    from oracle.metric import metric_for
    from verifier import real

    columns = sampling.sample(common, POINTS, seed=seed + 7)
    metric = metric_for(common)

    def prove(k: int, j: int, p: Expression, q: Expression) -> Equivalence:
        if p.node == q.node:
            return Equivalence(Verdict.EQUIVALENT, reason="the same formula")
        exact = real.prove(p, q, common, timeout_ms=timeout_ms, seed=seed)
        if exact.verdict is Verdict.EQUIVALENT:
            return exact
        with np.errstate(all="ignore"):
            a, b = p.evaluate(columns), q.evaluate(columns)
            bad = a.bad | b.bad | ~np.isfinite(a.values) | ~np.isfinite(b.values)
            diff = np.where(bad, np.inf, np.abs(a.values - b.values))
            scale = float(np.std(b.values[~bad])) if (~bad).sum() > 1 else 0.0
            rms = float(np.sqrt(np.mean(diff[~bad] ** 2))) / scale \
                if scale > 0 and (~bad).any() else float("inf")
        allowed = max(tolerances.get(names[k], DEFAULT_TOLERANCE),
                      tolerances.get(names[j], DEFAULT_TOLERANCE))
        within = metric.agree(a.values, b.values, bad) | (a.bad & b.bad)
        close = rms <= allowed and bool(within.all())
        same = skeleton(p)[0].node == skeleton(q)[0].node
        if close and same:
            return Equivalence(Verdict.EQUIVALENT, reason=(
                f"one skeleton, constants fitted apart: the formulas differ by {rms:.2g} relative "
                f"RMS, within the networks' own error ({allowed:.2g}), and within the output "
                f"tolerance at all {len(diff):,} points of the shared box (a numeric check, not "
                f"a proof)"))
        if close:
            return Equivalence(Verdict.UNKNOWN, reason=(
                f"different formulas not proved equal ({exact.reason or exact.verdict}), yet "
                f"within the networks' own error on the shared box ({rms:.2g} relative RMS): "
                f"kept apart"))
        worst = int(np.argmax(np.where(np.isfinite(diff), diff, np.finfo(float).max)))
        point = tuple((n, float(c[worst])) for n, c in columns.items())
        return Equivalence(Verdict.COUNTEREXAMPLE, Counterexample(
            point, _value(a, worst), _value(b, worst)), reason=(
            f"they differ by {rms:.2g} relative RMS on the shared box, beyond the networks' own "
            f"error ({allowed:.2g}); the point shown is where they differ most"
            + ("" if same else "; their skeletons differ")))

    return prove


def constants(program: Expression | None, members: Sequence[str],
              programs: Mapping[str, Expression | None], oracles: Mapping[str, Any], *,
              seed: int = 0, points: int = 4000) -> tuple[str | None, tuple[tuple[str, Any], ...]]:
    """The group's skeleton (text) and, per member, {"formula": its own formula's constants in the
    skeleton's order (its formula's text when its skeleton differs, None when it has none),
    "network": the skeleton's constants fitted to the network itself (scipy least squares from
    the group's constants, on `points` of its own box: synth.real.fit.refine), "error": that
    fit's relative RMS error}."""
    from oracle import sampling
    from synth.real.fit import literals, refine

    if program is None:
        return None, ()
    shape, _ = skeleton(program)
    rows = []
    for name in members:
        own, oracle = programs.get(name), oracles[name]
        formula: Any = None
        if own is not None:
            its, values = skeleton(own)
            formula = list(values) if its.node == shape.node else own.show()
        columns = sampling.sample(oracle.spec, points, seed=seed)
        X = np.column_stack([columns[n] for n in program.inputs])
        y = np.asarray(oracle.query(columns), np.float64)
        with np.errstate(all="ignore"):
            fitted, error = refine(program.node, X, y, list(program.inputs), starts=1, seed=seed)
        rows.append((name, {"formula": formula, "network": literals(fitted),
                            "error": float(error)}))
    return shape.show(), tuple(rows)


def _value(evaluation: Any, k: int) -> float | None:
    return None if evaluation.bad[k] else float(evaluation.values[k])
