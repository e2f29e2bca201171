"""The judging half of `netsynth.compare`, on programs and oracles already at hand.

- `group(programs, names, ...)`: networks grouped by equivalent program, decided by Z3 on the
  shared ranges (`verifier.equivalence.prove`) or by the relation of their kind
  (netsynth/compare_kinds.py); UNKNOWN keeps two programs apart and is reported.
- `departures(program, oracle, ...)`: a network against its group's program, inside its training
  range (the verifier's fidelity) and beyond it where its encodings can express such points.
- `outcome(groups, relations)`: one program, several (every two proved different), or undecided.
- `pairs(names, outputs, columns, ...)`: where networks give different outputs on shared points.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from dsl.program import Expression
from netsynth.compare_result import Group, Outcome, Pair, PairPoint, Relation
from verifier.equivalence import Equivalence, Verdict, prove
from verifier.fidelity import Fidelity, compare, measure

BEYOND_POINTS = 4096


def group(programs: Sequence[Any], names: Sequence[str], *,
          ranges: Mapping[str, tuple[int, int]] | None = None, timeout_ms: int = 10_000,
          prove: Callable[[int, int, Any, Any], Equivalence] | None = None,
          ) -> tuple[tuple[Group, ...], tuple[Relation, ...], tuple[int, ...]]:
    """Groups, the relation of every two groups, and each network's group index.

    Programs are taken smallest first (then in the given order), so a group's first program, the
    one the others are proved equal to, is its smallest: the program the group shares. A program
    joins the first group whose program Z3 proves equal to it on `ranges`; one proved equal to
    none founds a group, and what was found against each earlier group (a counterexample, or
    UNKNOWN with the reason) is that pair of groups' relation. A network without a program is a
    group of its own, UNKNOWN against every other. `prove(k, j, p, q)` decides networks k and j's
    programs p and q (the other kinds' relations, netsynth/compare_kinds.py); by default Z3 on
    `ranges` for int and bool expressions.
    """
    if prove is None:
        prove = lambda k, j, p, q: _prove(p, q, ranges, timeout_ms)  # noqa: E731
    order = sorted(range(len(programs)),
                   key=lambda k: (programs[k] is None, programs[k].size if programs[k] is not None else 0, k))
    founders: list[int] = []                    # network index founding each group
    members: list[list[tuple[int, Equivalence]]] = []
    found: dict[tuple[int, int], Equivalence] = {}
    for k in order:
        p = programs[k]
        checked: list[Equivalence] = []
        for g, founder in enumerate(founders):
            q = programs[founder]
            if p is None or q is None:
                missing = names[k] if p is None else names[founder]
                checked.append(Equivalence(Verdict.UNKNOWN,
                                           reason=f"no program was extracted from {missing}"))
                continue
            e = prove(k, founder, p, q)
            if e.verdict is Verdict.EQUIVALENT:
                members[g].append((k, e))
                break
            checked.append(e)
        else:
            for g, e in enumerate(checked):
                found[(g, len(founders))] = e
            founders.append(k)
            members.append([(k, Equivalence(Verdict.EQUIVALENT))])
    # Groups in the order of their first network; members in the given order.
    rank = sorted(range(len(founders)), key=lambda g: min(k for k, _ in members[g]))
    new = {old: i for i, old in enumerate(rank)}
    groups, index = [], [0] * len(programs)
    for old in rank:
        listed = sorted(members[old])
        for k, _ in listed:
            index[k] = new[old]
        groups.append(Group(programs[founders[old]], tuple(names[k] for k, _ in listed),
                            tuple(e for _, e in listed)))
    relations = []
    for (ga, gb), e in found.items():
        a, b = sorted((new[ga], new[gb]))
        if a != new[ga]:
            e = _swap(e)
        relations.append(Relation(a, b, e))
    return tuple(groups), tuple(sorted(relations, key=lambda r: (r.a, r.b))), tuple(index)


def outcome(groups: Sequence[Group], relations: Sequence[Relation]) -> Outcome:
    """ONE for a single group with a program; SEVERAL when every two groups were proved
    different; else UNDECIDED (some two were neither proved equal nor different)."""
    if len(groups) == 1 and groups[0].program is not None:
        return Outcome.ONE
    if all(r.verdict is Verdict.COUNTEREXAMPLE for r in relations):
        return Outcome.SEVERAL
    return Outcome.UNDECIDED


def _prove(p: Expression, q: Expression, ranges: Mapping[str, tuple[int, int]],
           timeout_ms: int) -> Equivalence:
    """`p == q` on `ranges`; the same program text is the same function, without asking Z3."""
    if p.node == q.node:
        return Equivalence(Verdict.EQUIVALENT)
    return prove(p.node, q.node, variables=p.variables, ranges=ranges, timeout_ms=timeout_ms,
                 dsl=p.dsl)


def _swap(e: Equivalence) -> Equivalence:
    """The same finding with the two programs' roles exchanged."""
    from dataclasses import replace

    c = e.counterexample
    return e if c is None else replace(e, counterexample=replace(c, program=c.reference,
                                                                  reference=c.program))


def departures(program: Expression, oracle: Any, *, listed: int, seed: int = 0,
               ) -> tuple[Fidelity, Fidelity | None, str | None]:
    """The network of `oracle` against `program`: over its own domain (exhaustive up to 2^20
    points, else a stratified sample); and on up to BEYOND_POINTS points outside its training
    range, or None with the reason when its encodings cannot express any."""
    from oracle import sampling
    from oracle.metric import metric_for

    metric = metric_for(oracle.spec)
    inside = measure(program, oracle, max_disagreements=listed, seed=seed, metric=metric)
    able, reason = sampling.can_encode_beyond(oracle.spec)
    if not able:
        return inside, None, reason
    columns = sampling.beyond_range(oracle.spec, BEYOND_POINTS, seed=seed)
    if not len(next(iter(columns.values()))):
        return inside, None, "no point beyond the training range could be drawn"
    beyond = compare(program, columns, oracle.query(columns), exhaustive=False,
                     max_disagreements=listed, metric=metric)
    return inside, beyond, None


def pairs(names: Sequence[str], outputs: Sequence[np.ndarray], columns: Mapping[str, np.ndarray],
          *, exhaustive: bool, listed: int,
          agree: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> tuple[Pair, ...]:
    """For every two networks, the points of `columns` where their `outputs` differ (where
    `agree(a, b)` is False: real outputs are compared under their tolerance)."""
    out = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            same = outputs[i] == outputs[j] if agree is None else agree(outputs[i], outputs[j])
            differ = np.flatnonzero(~same)
            points = tuple(PairPoint(tuple((n, c[k].item()) for n, c in columns.items()),
                                     outputs[i][k].item(), outputs[j][k].item())
                           for k in differ[:listed])
            out.append(Pair(names[i], names[j], len(outputs[i]), len(differ), exhaustive, points))
    return tuple(out)
