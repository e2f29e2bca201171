"""The kinds of network beyond int and bool functions, in a comparison: how two programs of a kind
are related, how a network is measured against its group's program, and where networks disagree.

| family | two programs are one group when | decided by |
|---|---|---|
| `real` | proved equal, or one skeleton within the networks' own error | netsynth/compare_real.py |
| `rule` | Z3 over the reals proves them equal on the shared box | `verifier.rules.prove` |
| `stateful` | Z3 finds no sequence of up to the shared training length on which they differ | `verifier.stateful.bounded_equivalence` |
| `automaton` | their minimal DFAs accept the same words (product automaton, every length) | `verifier.automaton.equivalence` |

A relation that is neither proved nor refuted is UNKNOWN, and keeps the two apart. A network is
measured against its group's program by its family's own verifier (`verifier.<family>.check`,
without the spec's reference weighing on anything shown): fidelity on its own domain, how the
network follows the program beyond its training range, speed and size.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np

from verifier.equivalence import Equivalence, Verdict

PAIR_SEQUENCES = 2048        # random sequences per comparison of two sequence networks
PAIR_POINTS = 20_000         # points of the shared box for two real-input networks


def common_spec(nets: Sequence[Any], ranges: dict[str, tuple[Any, Any]]) -> Any:
    """The first network's spec on the shared ranges (and, for sequences, the shared lengths)."""
    first = nets[0].spec
    common = replace(first, inputs=tuple(replace(i, lo=ranges[i.name][0], hi=ranges[i.name][1])
                                         for i in first.inputs))
    if first.sequence is not None:
        common = replace(common, sequence=replace(
            first.sequence, min_len=max(n.spec.sequence.min_len for n in nets),
            max_len=min(n.spec.sequence.max_len for n in nets)))
    return common


def relation(family: str, common: Any, names: Sequence[str], reports: Sequence[Any], *,
             timeout_ms: int = 10_000, seed: int = 0) -> Callable[[int, int, Any, Any], Equivalence]:
    """`prove(k, j, p, q)`: how networks k and j's programs relate on `common` (see the table)."""
    if family == "real":
        from netsynth.compare_real import prover

        tolerances = {n: r.search.figures["tolerance"] for n, r in zip(names, reports)
                      if isinstance(r.search.figures.get("tolerance"), (int, float))}
        return prover(common, tolerances, names, timeout_ms=timeout_ms, seed=seed)
    if family == "rule":
        from verifier import rules

        def rule(k: int, j: int, p: Any, q: Any) -> Equivalence:
            a, b = rules.as_rule(p, common), rules.as_rule(q, common)
            if a == b:
                return Equivalence(Verdict.EQUIVALENT, reason="the same rule")
            return _why(rules.prove(a, b, common, timeout_ms=timeout_ms),
                        "Z3 over the reals, on the shared box")
        return rule
    if family == "stateful":
        from verifier.stateful import bounded_equivalence

        lo, hi = [int(i.lo) for i in common.inputs], [int(i.hi) for i in common.inputs]
        k_max = common.sequence.max_len

        def stateful(k: int, j: int, p: Any, q: Any) -> Equivalence:
            if p.show() == q.show():
                return Equivalence(Verdict.EQUIVALENT, reason="the same program")
            e = bounded_equivalence(p, q, lo, hi, k_max, timeout_ms=timeout_ms)
            if e.verdict is Verdict.EQUIVALENT:
                return replace(e, reason=f"Z3: equal on every sequence of up to {k_max} steps "
                                         f"(the shared training lengths); longer ones not proved")
            return _why(e, f"Z3, on sequences of up to {k_max} steps")
        return stateful
    if family == "automaton":
        from verifier.automaton import equivalence

        rng = np.random.default_rng(seed)
        lo, hi = common.sequence.min_len, common.sequence.max_len

        def automaton(k: int, j: int, p: Any, q: Any) -> Equivalence:
            e = equivalence(p, q, lo, hi, rng)
            if e.verdict is Verdict.EQUIVALENT:
                return replace(e, reason=f"their minimal DFAs accept the same words of every "
                                         f"length >= {lo} (product automaton)")
            return _why(e, "product automaton: a word they answer differently")
        return automaton
    from dsl.errors import SpecError

    raise SpecError(f"family: compare has no relation for {family!r} networks")


def _why(e: Equivalence, how: str) -> Equivalence:
    """`e` with `how` it was decided as its reason, when it gives none."""
    return e if e.reason else replace(e, reason=how)


def measure(family: str, program: Any, oracle: Any, spec: Any, *, seed: int = 0) -> Any:
    """The network of `oracle` against `program` (its group's), by its family's verifier: a
    `Verification` whose fidelity, follows, speed and size the comparison shows."""
    from netsynth.api import VERIFIERS

    judge = importlib.import_module(VERIFIERS[family])
    return judge.check(program, oracle, spec, seed=seed, hypothesis_examples=20)


def between(family: str, names: Sequence[str], oracles: Sequence[Any], common: Any, *,
            seed: int, listed: int) -> tuple[tuple[Any, ...], int, bool]:
    """Pairs of networks compared on shared points: (pairs, points, exhaustive)."""
    from netsynth.compare_group import pairs

    if common.sequence is not None:
        return _sequence_pairs(names, oracles, common, seed=seed, listed=listed)
    from oracle import sampling
    from oracle.metric import metric_for

    columns = sampling.sample(common, PAIR_POINTS, seed=seed)
    metric = metric_for(common)
    agree = None if family != "real" else (lambda a, b: metric.agree(a, b) | (np.isnan(a) & np.isnan(b)))
    found = pairs(names, [np.asarray(o.query(columns)) for o in oracles], columns,
                  exhaustive=False, listed=listed, agree=agree)
    return found, PAIR_POINTS, False


def _sequence_pairs(names, oracles, common, *, seed: int, listed: int):
    """Every two sequence networks on the same sequences of the shared lengths: every sequence of
    the longest length with at most 4,096 of them, and random ones of every length (each distinct
    sequence once)."""
    from netsynth.compare_result import Pair, PairPoint
    from verifier.stateful import sequences

    lo, hi = [int(i.lo) for i in common.inputs], [int(i.hi) for i in common.inputs]
    batches, _ = sequences(lo, hi, common.sequence.max_len, np.random.default_rng(seed),
                           n=PAIR_SEQUENCES)
    lengths = sorted({x.shape[1] for x in batches if x.shape[1] >= common.sequence.min_len})
    batches = [np.unique(np.concatenate([x for x in batches if x.shape[1] == t]), axis=0)
               for t in lengths]                    # each sequence once, the shortest first
    answers = [[np.asarray(o.query(x)) for x in batches] for o in oracles]
    total = sum(len(x) for x in batches)
    letters = int(np.prod([b - a + 1 for a, b in zip(lo, hi)]))
    every = total == sum(letters ** t for t in range(common.sequence.min_len,
                                                    common.sequence.max_len + 1))
    out = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            differ, points = 0, []
            for x, a, b in zip(batches, answers[i], answers[j]):
                rows = np.flatnonzero((a != b).reshape(len(x), -1).any(axis=1))
                differ += len(rows)
                for r in rows[:max(0, listed - len(points))]:
                    steps = [s[0] if len(s) == 1 else s for s in x[r].tolist()]
                    points.append(PairPoint((("sequence", steps),), a[r].tolist(), b[r].tolist()))
            out.append(Pair(names[i], names[j], total, differ, every, tuple(points)))
    return tuple(out), total, every
