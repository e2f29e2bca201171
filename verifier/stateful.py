"""`check(program, oracle, spec)` for programs with state (`dsl.stateful.Stateful`).

- fidelity, per step and per sequence: every sequence up to the longest length whose sequences
  number at most EXHAUSTIVE (per-step answers: their prefixes are all the shorter ones), and
  random sequences of 1 to the training length;
- equivalence with a reference program (a `Stateful`, or its text): Z3 over bit-vectors wide
  enough for every value up to K steps (intervals propagated step by step), unrolled to K steps,
  asked for a sequence and a step where the two outputs differ: EQUIVALENT means equal on every
  sequence of up to K steps; Z3's unknown is reported as UNKNOWN with its reason;
- generalisation: Hypothesis on sequences up to 10 times the training length, the program's
  exported Python against the reference's;
- the network against the reference and against the program on sequences of 2, 5 and 10 times
  the training length (does the network still follow the program where it was never trained?);
- speed per sequence of the training length (network, vectorised program, exported Python), sizes.

Facts with no field of their own in `Verification` (per-sequence agreement, the exhaustive length,
the unrolling bound K) are in `fidelity.errors`.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np

from dsl.errors import DSLError, Z3EncodingError
from dsl.stateful import Stateful
from dsl.types import BOOL, INT
from verifier.equivalence import Counterexample, Equivalence, Verdict
from verifier.fidelity import Disagreement, Fidelity, wilson_lower
from verifier.generalisation import Generalisation, NetworkBeyond
from verifier.speed import Size, Speed
from verifier.verify import Verification

EXHAUSTIVE = 1 << 14
RANDOM = 2000
UNROLL = 8
LONGER = (2, 5, 10)


def check(program: Stateful, oracle: Any, spec: Any = None, *, reference: Stateful | str | None = None,
          min_agreement: float = 1.0, seed: int = 0, timeout_ms: int = 10_000,
          hypothesis_examples: int = 200, unroll: int = UNROLL) -> Verification:
    """Judge a stateful `program` against a per-step sequence `oracle` (see the module docstring).
    Raises DSLError for a program or reference over other inputs than the spec's."""
    spec = spec if spec is not None else oracle.spec
    names = tuple(i.name for i in spec.inputs)
    if tuple(program.inputs) != names:
        raise DSLError(f"program: reads inputs {list(program.inputs)}, the spec's steps are {list(names)}")
    if reference is None:
        reference = spec.reference
    if isinstance(reference, str):
        reference = Stateful.parse(reference, {i.name: i.type for i in spec.inputs})
    lo = [int(i.lo) for i in spec.inputs]
    hi = [int(i.hi) for i in spec.inputs]
    length = spec.sequence.max_len
    rng = np.random.default_rng(seed)
    fid = fidelity(program, oracle, lo, hi, length, rng)
    fid = Fidelity(fid.agree, fid.total, fid.exhaustive, fid.wilson_low, fid.disagreements,
                   errors={**fid.errors, "equivalence_bound": unroll if reference is not None else None})
    return Verification(
        fidelity=fid,
        equivalence=bounded_equivalence(program, reference, lo, hi, unroll, timeout_ms=timeout_ms),
        generalisation=(generalise(program, reference, lo, hi, 10 * length, hypothesis_examples, seed)
                        if reference is not None else None),
        network_beyond=(follows(oracle, reference, lo, hi, length, rng) if reference is not None else
                        NetworkBeyond(None, note="no reference to compare the network with")),
        follows=follows(oracle, program, lo, hi, length, rng),
        speed=speed(program, oracle, lo, hi, length, rng),
        size=Size(program.size, len(program.show()), int(getattr(oracle, "parameter_count", 0) or 0),
                  getattr(oracle, "model_bytes", None)),
        min_agreement=min_agreement)


def sequences(lo: list[int], hi: list[int], length: int, rng: np.random.Generator, *, n: int = RANDOM,
              exhaustive: int = EXHAUSTIVE) -> tuple[list[np.ndarray], int]:
    """Batches (n, T, D) to check on: every sequence of the longest length L0 <= length with at
    most `exhaustive` of them, and random ones of every length 1..length. Returns (batches, L0)."""
    import itertools

    letters = np.array(list(itertools.product(*[range(a, b + 1) for a, b in zip(lo, hi)])), dtype=np.int64)
    l0 = 0
    while l0 < length and len(letters) ** (l0 + 1) <= exhaustive:
        l0 += 1
    batches = []
    if l0:
        codes = np.array(list(itertools.product(range(len(letters)), repeat=l0)), dtype=np.int64)
        batches.append(letters[codes])
    per = max(1, n // length)
    for t in range(1, length + 1):
        batches.append(np.stack([rng.integers(a, b + 1, size=(per, t)) for a, b in zip(lo, hi)], axis=-1))
    return batches, l0


def fidelity(program: Stateful, oracle: Any, lo, hi, length: int, rng, *, max_disagreements: int = 20) -> Fidelity:
    batches, l0 = sequences(lo, hi, length, rng)
    agree = total = seq_agree = seq_total = 0
    found: list[Disagreement] = []
    for x in batches:
        net = np.asarray(oracle.query(x)).astype(np.int64)
        ev = program.evaluate({n: x[..., d] for d, n in enumerate(program.inputs)})
        ok = (ev.values.astype(np.int64) == net) & ~ev.bad
        agree, total = agree + int(ok.sum()), total + ok.size
        seq_agree, seq_total = seq_agree + int(ok.all(axis=1).sum()), seq_total + len(ok)
        for i, t in zip(*np.nonzero(~ok)):
            if len(found) >= max_disagreements:
                break
            found.append(Disagreement((("sequence", _steps(x[i, :t + 1])), ("t", int(t))), int(net[i, t]),
                                      None if ev.bad[i, t] else _plain(ev.values[i, t]), bool(ev.bad[i, t])))
    return Fidelity(agree, total, l0 >= length, wilson_lower(agree, total), tuple(found),
                    errors={"per_sequence_agreement": seq_agree / seq_total, "sequences": seq_total,
                            "every_sequence_up_to_length": l0})


def bounded_equivalence(program: Stateful, reference: Stateful | None, lo, hi, k: int, *,
                        timeout_ms: int = 10_000) -> Equivalence:
    """Z3: is there a sequence of at most k steps (inputs in [lo, hi]) on which the outputs differ?"""
    if reference is None:
        return Equivalence(Verdict.NO_REFERENCE)
    import z3

    try:
        width = _width((program, reference), lo, hi, k)
    except Z3EncodingError as e:
        return Equivalence(Verdict.UNKNOWN, reason=str(e))
    ctx = z3.Context()
    xs = [[z3.BitVec(f"{n}@{t}", width, ctx) for n in program.inputs] for t in range(k)]
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", int(timeout_ms))
    for t in range(k):
        for v, a, b in zip(xs[t], lo, hi):
            solver.add(v >= z3.BitVecVal(a, width, ctx), v <= z3.BitVecVal(b, width, ctx))
    outs = [_unroll(p, xs, width, ctx) for p in (program, reference)]
    solver.add(z3.Or([_differ(a, b, ctx) for a, b in zip(*outs)]))
    answer = solver.check()
    if answer == z3.unsat:
        return Equivalence(Verdict.EQUIVALENT)
    if answer == z3.unknown:
        return Equivalence(Verdict.UNKNOWN, reason=f"Z3: {solver.reason_unknown()} (unrolled to {k} steps)")
    model = solver.model()
    seq = [[model.eval(v, model_completion=True).as_signed_long() for v in row] for row in xs]
    fp, fr = program.function(), reference.function()
    steps = [s[0] if len(s) == 1 else tuple(s) for s in seq]
    yp, yr = fp(steps), fr(steps)
    t = next((i for i, (a, b) in enumerate(zip(yp, yr)) if a != b), k - 1)
    return Equivalence(Verdict.COUNTEREXAMPLE,
                       Counterexample((("sequence", steps[:t + 1]), ("t", t)), _plain(yp[t]), _plain(yr[t])))


def _unroll(program: Stateful, xs, width: int, ctx) -> list:
    import z3

    from dsl.smt import to_z3

    state = {r.name: (z3.BoolVal(r.init, ctx) if r.type == BOOL else z3.BitVecVal(r.init, width, ctx))
             for r in program.registers}
    zero = z3.BitVecVal(0, width, ctx)
    window = program.window
    outs = []
    for t in range(len(xs)):
        env = dict(state)
        for d, n in enumerate(program.inputs):
            env[n] = xs[t][d]
            for j in range(1, window + 1):
                env[f"{n}_{j}"] = xs[t - j][d] if t >= j else zero
        for r in program.registers:
            env[r.name] = state[r.name] = to_z3(r.step, env, dsl=program.dsl, width=width, ctx=ctx)
        outs.append(to_z3(program.out, env, dsl=program.dsl, width=width, ctx=ctx))
    return outs


def _differ(a, b, ctx):
    import z3

    width = a.size() if z3.is_bv(a) else b.size() if z3.is_bv(b) else None
    as_bv = lambda v: z3.If(v, z3.BitVecVal(1, width, ctx), z3.BitVecVal(0, width, ctx)) if z3.is_bool(v) else v  # noqa: E731
    if width is None:
        return a != b
    return as_bv(a) != as_bv(b)


def _width(programs, lo, hi, k: int) -> int:
    """A width in which no value of any program's registers and outputs can wrap up to k steps:
    each register's interval after step t from the intervals after step t - 1."""
    from dsl.smt import bit_width, interval

    widths = []
    for p in programs:
        ranges = {n: (a, b) for n, a, b in zip(p.inputs, lo, hi)}
        for j in range(1, p.window + 1):
            ranges.update({f"{n}_{j}": (min(a, 0), max(b, 0)) for n, a, b in zip(p.inputs, lo, hi)})
        regs = {r.name: (int(r.init), int(r.init)) for r in p.registers}
        for _ in range(k):
            for r in p.registers:
                env = {**ranges, **regs}
                got = interval(r.step, env, dsl=p.dsl) if r.type == INT else (0, 1)
                lo_r, hi_r = regs[r.name]
                regs[r.name] = (min(lo_r, got[0]), max(hi_r, got[1]))
            env = {**ranges, **regs}
            widths.append(bit_width([r.step for r in p.registers] + [p.out], env, dsl=p.dsl))
    return max(widths, default=8)


def generalise(program: Stateful, reference: Stateful, lo, hi, max_len: int, examples: int, seed: int) -> Generalisation:
    """Hypothesis: sequences of 1..max_len steps on which the exported Pythons differ."""
    import hypothesis
    from hypothesis import strategies as st

    fp, fr = program.function(), reference.function()
    if len(lo) == 1:
        step = st.integers(lo[0], hi[0])
    else:
        step = st.tuples(*[st.integers(a, b) for a, b in zip(lo, hi)])
    seen = {"checked": 0}

    def differs(seq) -> bool:
        seen["checked"] += 1
        return fp(seq) != fr(seq)

    settings = hypothesis.settings(database=None, deadline=None, max_examples=examples,
                                   phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink])
    try:
        # the length drawn first (short or long alike): drawn as a list, nearly all are short
        sequences_ = st.integers(1, max_len).flatmap(lambda n: st.lists(step, min_size=n, max_size=n))
        found = hypothesis.find(sequences_, differs,
                                settings=settings, random=random.Random(seed))
    except hypothesis.errors.NoSuchExample:
        return Generalisation(seen["checked"], True)
    yp, yr = fp(found), fr(found)
    t = next(i for i, (a, b) in enumerate(zip(yp, yr)) if a != b)
    return Generalisation(seen["checked"], False,
                          Counterexample((("sequence", list(found[:t + 1])), ("t", t)), _plain(yp[t]), _plain(yr[t])))


def follows(oracle: Any, program: Stateful, lo, hi, length: int, rng, *, per_length: int = 200,
            departures: int = 5) -> NetworkBeyond:
    """Per-step agreement of the network with `program` on sequences of 2, 5 and 10 times the
    training length, with the first departures."""
    agree = total = 0
    first = []
    for factor in LONGER:
        t = factor * length
        x = np.stack([rng.integers(a, b + 1, size=(per_length, t)) for a, b in zip(lo, hi)], axis=-1)
        try:
            net = np.asarray(oracle.query(x)).astype(np.int64)
        except Exception as e:  # noqa: BLE001 -- a model that refuses longer input: say so
            return NetworkBeyond(None, note=f"the network does not answer sequences of {t} steps: {e}")
        ev = program.evaluate({n: x[..., d] for d, n in enumerate(program.inputs)})
        ok = (ev.values.astype(np.int64) == net) & ~ev.bad
        agree, total = agree + int(ok.sum()), total + ok.size
        for i, j in zip(*np.nonzero(~ok)):
            if len(first) >= departures:
                break
            first.append(((("sequence", _steps(x[i, :j + 1])), ("t", int(j))), int(net[i, j]), _plain(ev.values[i, j])))
    return NetworkBeyond(agree / total, total, f"sequences of {', '.join(str(f * length) for f in LONGER)} "
                         f"steps (trained on up to {length})", tuple(first))


def speed(program: Stateful, oracle: Any, lo, hi, length: int, rng, *, n: int = 512) -> Speed:
    """Microseconds per sequence of the training length: network, vectorised program, Python."""
    def sample():
        return np.stack([rng.integers(a, b + 1, size=(n, length)) for a, b in zip(lo, hi)], axis=-1)

    def per(fn, x) -> float:
        start = time.perf_counter()
        fn(x)
        return max(1e-3, (time.perf_counter() - start) * 1e6 / len(x))

    scope: dict = {}
    exec(compile(program.to_numpy("f"), "<stateful numpy>", "exec"), scope)  # noqa: S102 (our own source)
    fp = program.function()
    net = per(oracle.query, sample())
    vec = per(scope["f"], sample())
    x = sample()[:64]
    steps = [[tuple(s) if len(lo) > 1 else int(s[0]) for s in row] for row in x.tolist()]
    py = per(lambda rows: [fp(r) for r in rows], steps)
    return Speed(net, vec, py, n)


def _steps(x: np.ndarray) -> list:
    return [int(s[0]) if len(s) == 1 else tuple(int(v) for v in s) for s in x]


def _plain(v):
    return bool(v) if isinstance(v, (bool, np.bool_)) else int(v)
