"""Judging a decision rule over real inputs: `check(program, oracle, spec) -> Verification`.

A rule is a program of the `real` DSL with an int or bool value (`a if lhs > t else b`, nested).
Its parts, filled as `verifier.verify` fills them for int programs:

- fidelity on `sample_size` (10^5) fresh uniform points, with the disagreements described
  (`regions`, in the fidelity's `errors` section): how many fall in each leaf of the rule, which
  boundary each is nearest to and how thick the band of disagreements around each boundary is (in
  % of the input ranges, distances measured in unit coordinates), and how many lie away from
  every boundary (a region the rule misses);
- equivalence with a reference rule, decided by Z3 over the reals on the training box:
  EQUIVALENT, a COUNTEREXAMPLE (re-checked in float64: if the two rules agree there after all,
  UNKNOWN with the reason), or UNKNOWN (Z3's own unknown, with its reason);
- beyond the training range: the rule against the reference, the network against the reference,
  and the network against the rule, on points outside the box (`oracle.sampling.beyond_range`;
  20 per `hypothesis_examples`, between 1,000 and 4,096: no Hypothesis is needed, the rules are
  evaluated on whole arrays);
- speed and size as for every program.

Rules parsed from text have real literals as leaves (the `real` DSL reads `1` as a real); for an
int output, integral leaves are read as ints (`as_rule`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from dsl.ast import App, Const, Node
from dsl.errors import DSLError, EncodingError
from dsl.evaluate import evaluate
from dsl.language import get_dsl
from dsl.program import Expression
from dsl.types import BOOL, INT, REAL
from oracle import sampling
from oracle.metric import Exact
from verifier import fidelity as fidelity_mod
from verifier import speed
from verifier.equivalence import Counterexample, Equivalence, Verdict
from verifier.generalisation import Generalisation, NetworkBeyond
from verifier.verify import Verification

COMPARISONS = ("gt", "ge", "lt", "le")
AWAY = 0.05              # a disagreement farther than this (unit coordinates) from every boundary
BEYOND_POINTS = 4096
MARGIN = 1e-9            # a counterexample this close to a boundary is left to float64 rounding


def as_rule(program: Any, spec: Any) -> Node:
    """The rule's AST over `spec`'s inputs, of the output's type; DSLError if it is not one."""
    dsl = get_dsl("real")
    if isinstance(program, Expression):
        node = program.node
    elif isinstance(program, str):
        node = dsl.parse(program, spec.variables())
    else:
        node = program
    if spec.output.type == INT and node.type == REAL:
        node = _int_leaves(node, dsl)
    if node.type != spec.output.type:
        raise DSLError(f"program: has type {node.type} but the spec's output is {spec.output.type} "
                       f"(a rule's leaves must be {'ints' if spec.output.type == INT else 'True/False'})")
    return node


def _int_leaves(node: Node, dsl) -> Node:
    if isinstance(node, Const) and node.type == REAL and float(node.value).is_integer():
        return Const(int(node.value), INT)
    if isinstance(node, App) and node.op == "ite":
        then, cond, other = node.args
        return dsl.app("ite", _int_leaves(then, dsl), cond, _int_leaves(other, dsl))
    return node


def check(program: Any, oracle: Any, spec: Any = None, *, reference: Any = None,
          min_agreement: float = 1.0, seed: int = 0, timeout_ms: int = 10_000,
          hypothesis_examples: int = 200, sample_size: int = 100_000,
          max_disagreements: int = 20) -> Verification:
    """Judge a rule (Expression, AST or `real` DSL text) against `oracle`'s network; `reference`
    (default `spec.reference`) is proved equal or refuted with Z3 over the reals."""
    spec = spec or oracle.spec
    dsl = get_dsl("real")
    node = as_rule(program, spec)
    reference = spec.reference if reference is None else reference
    ref = as_rule(reference, spec) if reference is not None else None
    columns = _uniform(spec, sample_size, seed)
    network = oracle.query(columns)
    fid = fidelity_mod.compare(node, columns, network, exhaustive=False, dsl=dsl, metric=Exact(),
                               max_disagreements=max_disagreements)
    wrong = evaluate(node, columns, dsl=dsl).values != network
    errors = dict(fid.errors or {"metric": "exact"})
    errors["regions"] = regions(node, spec, columns, wrong)
    fid = dataclasses.replace(fid, errors=errors)
    beyond = _beyond_points(spec, seed, max(1000, min(BEYOND_POINTS, 20 * hypothesis_examples)))
    return Verification(
        fidelity=fid,
        equivalence=prove(node, ref, spec, timeout_ms=timeout_ms),
        generalisation=None if ref is None else _generalisation(node, ref, beyond),
        network_beyond=_network_beyond(oracle, ref, beyond),
        follows=_network_beyond(oracle, node, beyond),
        speed=_speed(node, oracle, seed=seed),
        size=speed.sizes(node, oracle, dsl=dsl),
        min_agreement=min_agreement)


def _speed(node: Node, oracle: Any, *, seed: int, points: int = 65_536) -> speed.Speed:
    """As `verifier.speed.compare_speed`, the exported Python run with numpy in its namespace
    (the `real` DSL's Python form is numpy calls)."""
    from dsl.export import to_python
    from oracle.encoding import encode_columns

    dsl = get_dsl("real")
    spec = oracle.spec
    columns = _uniform(spec, points, seed)
    encoded = np.ascontiguousarray(encode_columns(spec, columns), dtype=np.float32)
    namespace: dict = {"np": np}
    exec(compile(to_python(node, list(spec.input_names), dsl=dsl), "<netsynth rule>", "exec"), namespace)
    f = namespace["f"]
    rows = list(zip(*(columns[k][:5000].tolist() for k in spec.input_names)))

    def python_loop() -> None:
        for row in rows:
            f(*row)

    oracle.run_raw(encoded)
    return speed.Speed(speed.time_per_point(lambda: oracle.run_raw(encoded), points),
                       speed.time_per_point(lambda: evaluate(node, columns, dsl=dsl), points),
                       speed.time_per_point(python_loop, len(rows)), points)


def _uniform(spec: Any, n: int, seed: int) -> dict[str, np.ndarray]:
    space = spec.domain()
    return space.columns(space.sample(n, seed=seed, method="uniform"))


# ---- where the rule and the network differ ------------------------------------------------------

def regions(node: Node, spec: Any, columns: dict[str, np.ndarray], wrong: np.ndarray) -> dict[str, Any]:
    """The disagreements by leaf and by nearest boundary, with each boundary's band thickness."""
    dsl = get_dsl("real")
    at = {k: v[wrong] for k, v in columns.items()}
    n = int(wrong.sum())
    leaves: dict[str, int] = {}
    _leaves(node, at, np.arange(n), [], leaves, dsl)
    bounds = [c for c in _conditions(node)]
    dist = np.array([_distance(c, at, spec, dsl) for c in bounds]) if bounds and n else np.zeros((0, n))
    nearest = dist.argmin(axis=0) if len(bounds) and n else np.zeros(n, int)
    closest = dist.min(axis=0) if len(bounds) and n else np.full(n, np.inf)
    boundaries = []
    for j, c in enumerate(bounds):
        mine = (nearest == j) & (closest <= AWAY)
        d = closest[mine]
        boundaries.append({"boundary": dsl.show(c), "disagreements": int(mine.sum()),
                           "band_percent_of_range": 100 * float(d.max()) if d.size else 0.0,
                           "band_p95_percent_of_range": 100 * float(np.quantile(d, 0.95)) if d.size else 0.0})
    return {"disagreements": n, "points": int(len(wrong)),
            "by_leaf": [{"leaf": k, "disagreements": v} for k, v in leaves.items()],
            "by_boundary": boundaries,
            "away_from_boundaries": int((closest > AWAY).sum()),
            "note": (f"distances in unit coordinates (each input's range is 1); 'away' means farther "
                     f"than {100 * AWAY:g}% of the range from every boundary")}


def _conditions(node: Node):
    if isinstance(node, App):
        if node.op in COMPARISONS:
            yield node
            return
        for a in node.args:
            yield from _conditions(a)


def _leaves(node: Node, at, rows: np.ndarray, path: list[str], out: dict[str, int], dsl) -> None:
    if not len(rows):
        return
    if isinstance(node, App) and node.op == "ite":
        then, cond, other = node.args
        sub = {k: v[rows] for k, v in at.items()}
        go = np.asarray(evaluate(cond, sub, dsl=dsl).values, bool)
        text = dsl.show(cond)
        _leaves(then, at, rows[go], path + [text], out, dsl)
        _leaves(other, at, rows[~go], path + [f"not {text}"], out, dsl)
        return
    key = f"{' and '.join(path) or 'always'} -> {dsl.show(node)}"
    out[key] = out.get(key, 0) + len(rows)


def _distance(cond: App, at: dict[str, np.ndarray], spec: Any, dsl) -> np.ndarray:
    """|lhs - rhs| over its gradient's norm in unit coordinates (finite differences)."""
    diff = dsl.app("sub", cond.args[0], cond.args[1])
    base = evaluate(diff, at, dsl=dsl).values
    grad = np.zeros_like(base)
    for inp in spec.inputs:
        span = (inp.hi - inp.lo) or 1.0
        step = 1e-6 * span
        moved = dict(at)
        moved[inp.name] = at[inp.name] + step
        grad += ((evaluate(diff, moved, dsl=dsl).values - base) / 1e-6) ** 2
    norm = np.sqrt(grad)
    return np.where(norm > 0, np.abs(base) / np.where(norm > 0, norm, 1), np.inf)


# ---- Z3 over the reals --------------------------------------------------------------------------

def prove(node: Node, reference: Node | None, spec: Any, *, timeout_ms: int = 10_000) -> Equivalence:
    """Whether the two rules agree at every point of the training box (Z3 over the reals)."""
    if reference is None:
        return Equivalence(Verdict.NO_REFERENCE)
    import z3

    from dsl.errors import Z3EncodingError
    from dsl.real import to_z3_real

    dsl = get_dsl("real")
    terms = {i.name: z3.Real(i.name) for i in spec.inputs}
    try:
        p, r = to_z3_real(node, terms, dsl=dsl), to_z3_real(reference, terms, dsl=dsl)
    except Z3EncodingError as e:
        return Equivalence(Verdict.UNKNOWN, reason=str(e))
    solver = z3.Solver()
    solver.set("timeout", int(timeout_ms))
    for i in spec.inputs:
        solver.add(terms[i.name] >= z3.RealVal(repr(i.lo)), terms[i.name] <= z3.RealVal(repr(i.hi)))
    solver.add(p != r)
    answer = solver.check()
    if answer == z3.unsat:
        return Equivalence(Verdict.EQUIVALENT)
    if answer == z3.unknown:
        return Equivalence(Verdict.UNKNOWN, reason=solver.reason_unknown() or "unknown")
    found = _confirmed(solver.model(), terms, node, reference)
    if isinstance(found, Equivalence):
        return found
    # the exact point sits on a boundary where float64 rounding decides: ask for one at least
    # MARGIN (times the inputs' scale) away from every boundary of both rules
    scale = max([1.0] + [max(abs(i.lo), abs(i.hi)) for i in spec.inputs])
    for cond in list(_conditions(node)) + list(_conditions(reference)):
        d = to_z3_real(dsl.app("sub", cond.args[0], cond.args[1]), terms, dsl=dsl)
        solver.add(z3.Or(d >= MARGIN * scale, d <= -MARGIN * scale))
    answer = solver.check()
    if answer == z3.sat:
        found = _confirmed(solver.model(), terms, node, reference)
        if isinstance(found, Equivalence):
            return found
    return Equivalence(Verdict.UNKNOWN, reason=(
        f"the rules differ only within {MARGIN * scale:g} of a boundary (Z3's point {found}), "
        f"where float64 rounding decides which side a point is on"
        if answer == z3.unsat else f"Z3: {solver.reason_unknown() or answer}"))


def _confirmed(model, terms, node: Node, reference: Node):
    """COUNTEREXAMPLE at Z3's point when float64 evaluation confirms it, else the point."""
    import z3

    dsl = get_dsl("real")
    point = {}
    for name, term in terms.items():
        value = model.eval(term, model_completion=True)
        point[name] = float(value.as_fraction()) if z3.is_rational_value(value) else float(
            value.approx(20).as_fraction())
    cols = {k: np.array([v]) for k, v in point.items()}
    got = _plain(evaluate(node, cols, dsl=dsl).values[0])
    want = _plain(evaluate(reference, cols, dsl=dsl).values[0])
    if got == want:
        return point
    return Equivalence(Verdict.COUNTEREXAMPLE, Counterexample(tuple(point.items()), got, want))


def _plain(value: Any) -> Any:
    return bool(value) if isinstance(value, (bool, np.bool_)) else int(value)


# ---- beyond the training range ------------------------------------------------------------------

def _beyond_points(spec: Any, seed: int, n: int) -> dict[str, np.ndarray] | str:
    able, reason = sampling.can_encode_beyond(spec)
    if not able:
        return reason
    try:
        return sampling.beyond_range(spec, n, seed=seed)
    except EncodingError as e:
        return str(e)


def _generalisation(node: Node, ref: Node, beyond) -> Generalisation | None:
    if isinstance(beyond, str):
        return None
    dsl = get_dsl("real")
    a = evaluate(node, beyond, dsl=dsl).values
    b = evaluate(ref, beyond, dsl=dsl).values
    differ = np.flatnonzero(a != b)
    if not len(differ):
        return Generalisation(len(a), True)
    k = int(differ[0])
    inputs = tuple((n, float(v[k])) for n, v in beyond.items())
    return Generalisation(k + 1, False, Counterexample(inputs, _plain(a[k]), _plain(b[k])))


def _network_beyond(oracle: Any, node: Node | None, beyond, departures: int = 5) -> NetworkBeyond:
    if node is None:
        return NetworkBeyond(None, note="no reference to compare the network with")
    if isinstance(beyond, str):
        return NetworkBeyond(None, note=beyond)
    network = oracle.query(beyond)
    values = evaluate(node, beyond, dsl=get_dsl("real")).values
    parted = np.flatnonzero(values != network)
    listed = tuple((tuple((n, float(v[k])) for n, v in beyond.items()), _plain(network[k]),
                    _plain(values[k])) for k in parted[:departures])
    total = len(network)
    return NetworkBeyond(1 - len(parted) / total if total else None, total, None, listed)
