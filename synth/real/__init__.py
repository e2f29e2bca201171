"""The `real` search family: a network with real inputs and a real output -> a formula.

`run(spec, oracle, *, options, progress=None, cancel=None) -> FamilyResult`, in one screen:

1. Check points (Latin hypercube in the training box) and the network's values there; the
   network's own error is estimated from them (`probes.calibrate`) and sets every tolerance.
2. With units on every input and the output, dimensional analysis first (synth/real/units.py:
   y / prod x^p = g(dimensionless groups), solved over the groups and substituted back); when it
   misses the tolerance, or without units, `Solver.solve` on the whole problem
   (synth/real/solve.py): quick fits, probes (symmetries, separability) that split the problem
   into smaller ones solved recursively, then the skeleton search (synth/real/leaf.py,
   synth/real/enumerator.py) on what is left; the closer of the two formulas is kept.
3. The formula's constants are refitted if it misses the tolerance, then snapped (simple
   rationals, multiples of pi, the spec's constants) where the fit stays as good.
4. A Pareto front of description length against error over the formula and the alternatives the
   search met; the chosen formula is the one found, named in the table.

With `options.workers > 1` and Ray running (netsynth.api.start_compute), the two sides of each
separable split and the parts of each skeleton search (groups of target transforms) run as Ray
tasks (a side's task gets the network as its spec and model, `oracle.Oracle.__reduce__`);
otherwise all runs in-process.

The program is a `dsl.program.Expression` in the `real` DSL, constants printed as literals.
Agreement is the share of check points where the formula is within the spec's tolerance metric of
the network, calibrated to the network's measured error (`oracle.metric.calibrated`). Probe findings are in `notes`, counts in `figures`, the Pareto rows and the LaTeX
in `extra`.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from synth.outcome import FamilyPareto, FamilyResult, Progress, StopReason

DEFAULT_TIMEOUT = 180.0
CHECK_POINTS = 2000


def run(spec: Any, oracle: Any, *, options: Any, progress: Callable | None = None,
        cancel: Any = None) -> FamilyResult:
    from dsl.errors import SpecError
    from dsl.language import get_dsl
    from dsl.program import Expression
    from dsl.types import REAL
    from oracle.metric import calibrated
    from synth.real import fit, probes, units
    from synth.real.simplify import resnap_factor, simplify
    from synth.real.solve import Cancelled, Solver
    from synth.real.task import Task

    if spec.output.type != REAL or any(i.type != REAL for i in spec.inputs):
        raise SpecError(f"family: the real family needs real inputs and a real output, got "
                        f"inputs {[i.type.name for i in spec.inputs]} and output {spec.output.type.name}")
    for k, i in enumerate(spec.inputs):
        if not i.lo < i.hi:
            raise SpecError(f"inputs[{k}].range: expected [lo, hi] with lo < hi for a real input "
                            f"(a formula is searched over the box), got [{i.lo:g}, {i.hi:g}]")
    began = time.monotonic()
    timeout = options.timeout if options.timeout is not None else DEFAULT_TIMEOUT
    deadline = began + timeout
    names = tuple(i.name for i in spec.inputs)
    ranges = tuple((float(i.lo), float(i.hi)) for i in spec.inputs)
    points_before = getattr(oracle, "points", 0)
    state = {"phase": "calibrate", "best": None, "last": 0.0}

    def report(phase: str, best: str | None = None, force: bool = False) -> None:
        state["phase"], state["best"] = phase, best or state["best"]
        now = time.monotonic()
        if progress is not None and (force or now - state["last"] > 0.3):
            state["last"] = now
            progress(Progress(level=0, candidates=0, distinct=0, best_agreement=0.0,
                              elapsed=now - began, phase=phase, best=state["best"]))

    root = Task(names, ranges, lambda X: np.asarray(oracle.query(np.asarray(X, np.float64)), np.float64))
    rng = np.random.default_rng(options.seed + 12345)
    report("calibrate", force=True)
    Xc, yc = root.sample(CHECK_POINTS, rng)
    noise = probes.calibrate(Xc, yc)
    solver = Solver(noise=noise, scale=fit.spread(yc), deadline=deadline, constants=tuple(float(c) for c in spec.constants),
                    seed=options.seed, cancel=cancel, report=lambda p, b: report(p, b),
                    spread=_ray_map() if options.workers > 1 else None)
    report("probes", force=True)
    stop, node, unit_notes = StopReason.EXHAUSTED, None, []
    try:
        if units.applies(spec):  # Buckingham pi first; the plain search when it falls short
            report("dimensional analysis", force=True)
            node, unit_notes = units.solve(spec, root, solver, Xc, yc)
        if node is None or fit.error(node, Xc, yc, names) > solver.tol:
            node = _better(node, solver.solve(root), Xc, yc, names)
    except Cancelled:
        stop = StopReason.CANCELLED
    language = get_dsl("real")
    if node is not None:
        report("constants", language.show(node), force=True)
        err = fit.error(node, Xc, yc, names)
        if err > solver.tol and stop != StopReason.CANCELLED:
            node, err = fit.refine(node, Xc[:400], yc[:400], names, seed=options.seed)
        node, err = fit.snap(node, Xc, yc, names, tol=solver.tol, constants=solver.constants)
        node = simplify(node, Xc[:200], names)
        node = simplify(resnap_factor(node, Xc, yc, names, tol=solver.tol), Xc[:200], names)
    metric = calibrated(spec, Xc, yc)

    def judge(n) -> tuple[float, float]:
        values = fit.evaluate(n, Xc, names)
        agree = float(np.mean(metric.agree(values, yc, ~np.isfinite(values))))
        return fit.error(n, Xc, yc, names), agree

    rows, pareto = _front(node, solver.alternatives, judge, language)
    figures_err = lambda n: judge(n)[0]  # noqa: E731
    agreement = judge(node)[1] if node is not None else 0.0
    accepted = node is not None and agreement >= options.min_agreement
    if stop != StopReason.CANCELLED:
        if accepted:
            stop = StopReason.SOLVED
        elif time.monotonic() >= deadline:
            stop = StopReason.TIME
    report("done", language.show(node) if node is not None else None, force=True)
    program = None
    if node is not None:
        program = Expression(node, language, names, tuple(REAL for _ in names))
    notes = [f"the network {f.describe()} (probe residual {f.score:.2g})" for f in solver.findings]
    notes[:0] = unit_notes
    if solver.branch_tasks:
        notes.append(f"{solver.branch_tasks} sides of separable splits were solved as Ray tasks")
    notes.insert(0, f"network error estimated at {noise:.2g} relative RMS; tolerance {solver.tol:.2g}")
    if node is not None and not accepted and figures_err(node) <= solver.tol:
        notes.append(f"the formula is within the network's own error (relative RMSE "
                     f"{figures_err(node):.2g}) but within the spec's tolerance metric at only "
                     f"{agreement:.1%} of the check points: the metric is stricter than the network")
    extra = {"formulas": rows}
    if program is not None:
        try:
            extra["latex"] = program.to_latex()
        except Exception as e:  # sympy cannot print every formula; the report says so
            extra["latex"] = f"(no LaTeX: {type(e).__name__})"
    return FamilyResult(
        program=program, agreement=agreement, accepted=accepted, stop_reason=stop,
        pareto=tuple(FamilyPareto(Expression(n, language, names, tuple(REAL for _ in names)), s, a)
                     for n, s, a in pareto),
        seconds=time.monotonic() - began,
        queries=getattr(oracle, "points", 0) - points_before + solver.shipped_points,
        candidates=len(rows), notes=tuple(notes),
        figures={"noise": noise, "tolerance": solver.tol, "probes_found": len(solver.findings),
                 "relative_rmse": judge(node)[0] if node is not None else None,
                 "branch_tasks": solver.branch_tasks},
        extra=extra)


def _better(a, b, X, y, names):
    """Of two formulas (either may be None), the one of smaller relative error on (X, y)."""
    from synth.real import fit

    if a is None or b is None:
        return b if a is None else a
    return a if fit.error(a, X, y, names) <= fit.error(b, X, y, names) else b


def _ray_map() -> Callable | None:
    """Runs independent parts of a search as Ray tasks, on the Ray that netsynth started
    (netsynth.api.start_compute); None (in-process) when Ray is not running. `spread(job, parts,
    cancel=None)`: job(part) for each part, one task each, the results in order; when `cancel`
    is set while they run, the tasks are cancelled and `Cancelled` raised."""
    import ray

    if not ray.is_initialized():
        return None
    from synth.real.solve import Cancelled

    remotes: dict = {}

    def spread(job, parts, cancel=None):
        remote = remotes.setdefault(job, ray.remote(num_cpus=1, max_retries=0)(job))
        refs = [remote.remote(part) for part in parts]
        waiting = list(refs)
        while waiting:
            _, waiting = ray.wait(waiting, num_returns=len(waiting), timeout=0.5)
            if cancel is not None and cancel.is_set():
                for ref in waiting:
                    ray.cancel(ref, force=True)
                raise Cancelled()
        return ray.get(refs)
    return spread


def _front(node, alternatives, judge, language) -> tuple[list[dict], list[tuple]]:
    """Rows of the Pareto table (description length against relative error) and the front."""
    from dsl.ast import size
    from synth.real.fit import description_length

    seen, rows = set(), []
    for n, how in ([(node, "chosen")] if node is not None else []) + list(alternatives):
        text = language.show(n)
        if text in seen:
            continue
        seen.add(text)
        err, agree = judge(n)
        if not math.isfinite(err):
            continue
        rows.append({"formula": text, "size": size(n), "bits": round(description_length(n), 1),
                     "relative_rmse": err, "agreement": agree, "found_by": how,
                     "chosen": n is node, "_node": n})
    rows.sort(key=lambda r: (r["bits"], r["relative_rmse"]))
    front, best = [], math.inf
    for r in rows:
        if r["relative_rmse"] < best or r["chosen"]:
            best = min(best, r["relative_rmse"])
            front.append((r["_node"], r["size"], r["agreement"]))
            r["on_front"] = True
        else:
            r["on_front"] = False
    for r in rows:
        del r["_node"]
    return rows, front
