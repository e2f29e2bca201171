"""`check(program, oracle, spec)`: the judgements of a real formula against its network.

- Fidelity under the spec's tolerance metric, calibrated to the network's measured error
  (`oracle.metric.calibrated`), on a Latin-hypercube sample of the training box:
  agreement, RMSE, largest absolute and relative errors, and the worst points (largest error
  first).
- Equivalence with a reference formula: sympy first (the difference simplifies to 0: equivalent),
  then Z3 over the reals for polynomial and rational forms on the training box (unsat:
  equivalent; a model: a counterexample; Z3's unknown stays unknown), then a numeric hunt (a
  point of the box where they differ by more than 1e-9 relative: a counterexample); otherwise
  "unknown", with the number of points where they agree.
- Beyond the training range (inputs up to 4 widths out): Hypothesis looks for a point where the
  formula and the reference differ; the network is compared with the reference and with the
  formula under the tolerance metric, with the points where it departs and how far out it still
  follows (`note`).
- Speed (network, numpy formula, exported Python per point) and sizes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dsl.errors import DSLError, Z3EncodingError
from dsl.program import Expression
from oracle.metric import calibrated
from verifier.equivalence import Counterexample, Equivalence, Verdict
from verifier.fidelity import Disagreement, Fidelity, wilson_lower
from verifier.generalisation import Generalisation, NetworkBeyond
from verifier.speed import Size, Speed, time_per_point
from verifier.verify import Verification

REL = 1e-9          # formula against reference: equal within this relative difference


def check(program: Any, oracle: Any, spec: Any, *, reference: Any = None,
          min_agreement: float = 1.0, seed: int = 0, timeout_ms: int = 10_000,
          hypothesis_examples: int = 200, sample_size: int = 20_000) -> Verification:
    """Judge a real formula (an Expression of the `real` DSL, or its text) against `oracle`.
    Raises DSLError for a program or reference that does not parse over the spec's inputs."""
    program = _expression(program, spec, "program")
    ref = _expression(reference, spec, "reference") if reference is not None else None
    from oracle import sampling

    columns = sampling.sample(spec, sample_size, seed=seed)
    network = np.asarray(oracle.query(columns), np.float64)
    metric = calibrated(spec, np.column_stack([columns[i.name] for i in spec.inputs]), network)
    fid = fidelity(program, columns, network, metric)
    equivalence = prove(program, ref, spec, timeout_ms=timeout_ms, seed=seed) if ref is not None \
        else Equivalence(Verdict.NO_REFERENCE, reason="no reference formula given")
    gen = beyond(program, ref, spec, examples=hypothesis_examples, seed=seed) if ref is not None else None
    return Verification(
        fidelity=fid, equivalence=equivalence, generalisation=gen,
        network_beyond=network_beyond(oracle, ref, spec, seed=seed, metric=metric) if ref is not None
        else NetworkBeyond(None, note="no reference to compare the network with"),
        follows=network_beyond(oracle, program, spec, seed=seed, metric=metric),
        speed=speed(program, oracle, columns),
        size=Size(program.size, len(program.to_python()), int(oracle.parameter_count),
                  None if oracle.model_bytes is None else int(oracle.model_bytes)),
        min_agreement=min_agreement)


def _expression(value: Any, spec: Any, field: str) -> Expression:
    if isinstance(value, Expression):
        return value
    if isinstance(value, str):
        return Expression.parse(value, spec.variables(), dsl="real")
    raise DSLError(f"{field}: expected a real formula (text or Expression), got {type(value).__name__}")


def fidelity(program: Expression, columns: dict, network: np.ndarray, metric: Any,
             worst: int = 20) -> Fidelity:
    result = program.evaluate(columns)
    ok = metric.agree(result.values, network, result.bad)
    err = np.where(result.bad | ~np.isfinite(result.values), np.inf, np.abs(result.values - network))
    order = np.argsort(-err)[:worst]
    listed = tuple(Disagreement(tuple((n, float(c[i])) for n, c in columns.items()),
                                float(network[i]),
                                None if not np.isfinite(err[i]) else float(result.values[i]),
                                bool(result.bad[i])) for i in order)
    total, agree = len(network), int(ok.sum())
    return Fidelity(agree, total, False, wilson_lower(agree, total), listed, int(result.bad.sum()),
                    metric.summary(result.values, network, result.bad))


# ---- equivalence with a reference ---------------------------------------------------------------

def prove(program: Expression, reference: Expression, spec: Any, *, timeout_ms: int = 10_000,
          seed: int = 0, points: int = 20_000) -> Equivalence:
    try:
        import sympy

        diff = sympy.simplify(_positive(program.to_sympy(), spec) - _positive(reference.to_sympy(), spec))
        if diff == 0:
            return Equivalence(Verdict.EQUIVALENT, reason="sympy: the difference simplifies to 0")
    except (TypeError, ValueError, RecursionError):
        pass
    verdict = _z3(program, reference, spec, timeout_ms)
    if verdict is not None and verdict.verdict != Verdict.UNKNOWN:
        return verdict
    from oracle import sampling

    columns = sampling.sample(spec, points, seed=seed + 1)
    a, b = program.evaluate(columns), reference.evaluate(columns)
    differ = ~np.isclose(a.values, b.values, rtol=REL, atol=0) | (a.bad != b.bad)
    if differ.any():
        i = int(np.flatnonzero(differ)[0])
        inputs = tuple((n, float(c[i])) for n, c in columns.items())
        return Equivalence(Verdict.COUNTEREXAMPLE, Counterexample(inputs, float(a.values[i]), float(b.values[i])),
                           reason=f"they differ at a point of the training box (numeric search of {points})")
    why = verdict.reason if verdict is not None else "Z3 has no form for an operator used"
    return Equivalence(Verdict.UNKNOWN, reason=f"equal within {REL:g} relative at {points} points of "
                       f"the training box, but not proved ({why})")


def _positive(expr: Any, spec: Any) -> Any:
    """Inputs whose range is positive become positive symbols (sympy simplifies sqrt(x^2))."""
    import sympy

    subs = {s: sympy.Symbol(s.name, positive=True) for s in expr.free_symbols
            if any(i.name == s.name and i.lo > 0 for i in spec.inputs)}
    return expr.xreplace(subs)


def _z3(program: Expression, reference: Expression, spec: Any, timeout_ms: int) -> Equivalence | None:
    import z3

    from dsl.real import to_z3_real

    xs = {i.name: z3.Real(i.name) for i in spec.inputs}
    try:
        p = to_z3_real(program.node, xs, dsl=program.dsl)
        r = to_z3_real(reference.node, xs, dsl=reference.dsl)
    except Z3EncodingError as e:
        return Equivalence(Verdict.UNKNOWN, reason=str(e))
    solver = z3.Solver()
    solver.set("timeout", int(timeout_ms))
    for i in spec.inputs:
        solver.add(xs[i.name] >= z3.RealVal(repr(float(i.lo))), xs[i.name] <= z3.RealVal(repr(float(i.hi))))
    solver.add(p != r)
    answer = solver.check()
    if answer == z3.unsat:
        return Equivalence(Verdict.EQUIVALENT, reason="Z3 (reals): no point of the training box tells them apart")
    if answer == z3.sat:
        model = solver.model()
        point = {n: _real(model.eval(x, model_completion=True)) for n, x in xs.items()}
        cols = {n: np.array([v]) for n, v in point.items()}
        a, b = program.evaluate(cols), reference.evaluate(cols)
        if not (a.bad[0] or b.bad[0]) and math.isclose(a.values[0], b.values[0], rel_tol=REL):
            return Equivalence(Verdict.UNKNOWN, reason="Z3's model is a point where float64 agrees "
                               "(a division by zero or a rounding difference)")
        return Equivalence(Verdict.COUNTEREXAMPLE, Counterexample(tuple(point.items()), float(a.values[0]),
                                                                  float(b.values[0])), reason="Z3 (reals)")
    return Equivalence(Verdict.UNKNOWN, reason=f"Z3 answered unknown ({solver.reason_unknown()})")


def _real(value: Any) -> float:
    try:
        return float(value.as_fraction())
    except AttributeError:
        return float(value.approx(20).as_fraction())


# ---- beyond the training range -------------------------------------------------------------

def beyond_box(lo: float, hi: float, factor: float) -> tuple[float, float]:
    """[lo, hi] widened by `factor` widths each side, a one-signed range keeping its sign."""
    a, b = lo - factor * (hi - lo), hi + factor * (hi - lo)
    if lo > 0:
        a = max(a, lo / (1 + factor))
    if hi < 0:
        b = min(b, hi / (1 + factor))
    return a, b


def beyond(program: Expression, reference: Expression, spec: Any, *, examples: int = 200,
           seed: int = 0, factor: float = 4.0) -> Generalisation:
    """Hypothesis looks, up to `factor` widths beyond the box, for a point where the formula and
    the reference differ by more than 1e-9 relative (points where both are undefined agree). An
    input whose range has one sign keeps it (down to lo / (1 + factor) for a positive range): a
    length or a mass beyond its range is a larger or smaller one, not a negative one, where
    sqrt(L) / sqrt(g) and sqrt(L / g) part only because one is undefined."""
    import random

    import hypothesis
    from hypothesis import strategies as st

    names = [i.name for i in spec.inputs]
    boxes = {i.name: beyond_box(i.lo, i.hi, factor) for i in spec.inputs}
    ranges = {i.name: (i.lo, i.hi) for i in spec.inputs}
    strategy = st.fixed_dictionaries({n: st.floats(*boxes[n], allow_nan=False) for n in names}
                                     ).filter(lambda p: any(not ranges[n][0] <= p[n] <= ranges[n][1]
                                                            for n in names))
    seen = {"checked": 0}

    def values(point: dict) -> tuple[float, float]:
        cols = {n: np.array([v], np.float64) for n, v in point.items()}
        a, b = program.evaluate(cols), reference.evaluate(cols)
        va = math.nan if a.bad[0] else float(a.values[0])
        vb = math.nan if b.bad[0] else float(b.values[0])
        return va, vb

    def differs(point: dict) -> bool:
        seen["checked"] += 1
        va, vb = values(point)
        if math.isnan(va) and math.isnan(vb):
            return False
        return not math.isclose(va, vb, rel_tol=1e-6, abs_tol=1e-12)

    settings = hypothesis.settings(database=None, deadline=None, max_examples=examples,
                                   phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink])
    try:
        found = hypothesis.find(strategy, differs, settings=settings, random=random.Random(seed))
    except hypothesis.errors.NoSuchExample:
        return Generalisation(seen["checked"], True)
    va, vb = values(found)
    return Generalisation(seen["checked"], False, Counterexample(tuple(found.items()), va, vb))


def network_beyond(oracle: Any, formula: Expression | None, spec: Any, *, points: int = 4096,
                   seed: int = 0, departures: int = 5, metric: Any = None) -> NetworkBeyond:
    """The network against `formula` on points beyond the box (`metric`: the spec's tolerance
    metric unless given, e.g. calibrated inside the box), with the points where it departs,
    nearest the box first, and how far out it still agrees on 90 % of points."""
    from oracle import sampling
    from oracle.metric import metric_for

    if formula is None:
        return NetworkBeyond(None, note="no formula to compare the network with")
    able, reason = sampling.can_encode_beyond(spec)
    if not able:
        return NetworkBeyond(None, note=reason)
    columns = sampling.beyond_range(spec, points, seed=seed)
    network = np.asarray(oracle.query(columns), np.float64)
    result = formula.evaluate(columns)
    ok = (metric or metric_for(spec)).agree(result.values, network, result.bad)
    # How far out each point is: the largest excess over the box, in widths of its input.
    out = np.zeros(len(network))
    for i in spec.inputs:
        width = (i.hi - i.lo) or 1.0
        v = columns[i.name]
        out = np.maximum(out, np.maximum(i.lo - v, v - i.hi) / width)
    order = np.argsort(out)
    parted = [k for k in order if not ok[k]]
    listed = tuple((tuple((n, float(c[k])) for n, c in columns.items()), float(network[k]),
                    None if result.bad[k] else float(result.values[k])) for k in parted[:departures])
    note = _how_far(out, ok)
    return NetworkBeyond(float(ok.mean()) if len(ok) else None, len(ok), note, listed)


def _how_far(out: np.ndarray, ok: np.ndarray) -> str:
    bands = [(0, 0.25), (0.25, 0.5), (0.5, 1), (1, 2), (2, np.inf)]
    parts = []
    for lo, hi in bands:
        m = (out > lo) & (out <= hi)
        if m.any():
            label = f"{lo:g}-{hi:g}" if math.isfinite(hi) else f">{lo:g}"
            parts.append(f"{label} widths out: {ok[m].mean():.0%}")
    return "agreement by distance beyond the range: " + ", ".join(parts)


# ---- speed ------------------------------------------------------------------------------------

def python_function(program: Expression):
    """The exported (numpy) Python, compiled with numpy as `np` (`Expression.function`)."""
    return program.function()


def speed(program: Expression, oracle: Any, columns: dict, *, python_points: int = 5000) -> Speed:
    names = list(columns)
    n = len(columns[names[0]])
    f = python_function(program)
    rows = list(zip(*(columns[k][:python_points].tolist() for k in names)))

    def python_loop() -> None:
        with np.errstate(all="ignore"):
            for row in rows:
                f(*row)

    from oracle.encoding import encode_columns

    encoded = np.ascontiguousarray(encode_columns(oracle.spec, columns), dtype=np.float32)
    network = lambda: oracle.run_raw(encoded)  # noqa: E731
    network()
    return Speed(network_us_per_query=time_per_point(network, n, repeats=3),
                 program_us_per_query=time_per_point(lambda: program.evaluate(columns), n, repeats=3),
                 python_us_per_query=time_per_point(python_loop, len(rows), repeats=1),
                 points=n)
