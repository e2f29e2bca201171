"""The decision-rule family: `run(spec, oracle, options=...) -> FamilyResult`.

For networks over real inputs with a discrete output (an action by argmax, a bool by threshold):

1. Sample: `SAMPLE` Latin-hypercube points labelled by the network, and `CHECK` uniform check
   points (the search's own measure of agreement).
2. Grow (CEGIS): a tree whose every split is placed on the network's boundary by bisection
   (synth/rules/grow.py, locate.py); its check-point disagreements join the sample and the tree
   is grown again, for up to `ROUNDS` rounds or until it meets `min_agreement` on the check points.
3. Round: each constant to the fewest decimals that keep the agreement (at most `ROUND_SLACK`
   lost, and never below `min_agreement`); prune: the weakest-link sequence of smaller trees.
4. Measure every pruned tree on `FINAL` fresh points: the Pareto front of size against agreement;
   the smallest tree meeting `min_agreement` on the check points wins (when none does, the most
   agreeing, then the smallest).

Every stage checks `cancel` and the time limit. The search runs in-process whatever
`options.workers` says (its queries are sequential bisection steps of a few dozen points).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from dsl.errors import SpecError
from dsl.types import BOOL, INT, REAL
from synth.outcome import FamilyPareto, FamilyResult, Progress, StopReason
from synth.rules import pictures
from synth.rules.grow import Grower, Stop, to_tree
from synth.rules.program import to_expression
from synth.rules.shorten import agreement, drop_dead, orient, prune, round_rule
from synth.rules.tree import depth, evaluate, leaves, show, simplify, splits, to_dict

SAMPLE = 2000
CHECK = 20_000
FINAL = 100_000
ROUNDS = 4
COUNTEREXAMPLES = 300
ROUND_SLACK = 0.0005
MAX_CLASSES = 64


def check_spec(spec: Any) -> None:
    """SpecError unless the inputs are real and the output an int (few values) or a bool."""
    for k, inp in enumerate(spec.inputs):
        if inp.type != REAL:
            raise SpecError(f"inputs[{k}].type: the rule family needs real inputs, got "
                            f"{inp.type.name!r} for {inp.name!r}")
    out = spec.output
    if out.type not in (INT, BOOL):
        raise SpecError(f"output.type: the rule family needs an int or bool output (an action or a "
                        f"class), got {out.type.name!r}")
    if out.type == INT and out.hi - out.lo + 1 > MAX_CLASSES:
        raise SpecError(f"output.range: the rule family handles at most {MAX_CLASSES} actions, got "
                        f"[{out.lo}, {out.hi}] ({out.hi - out.lo + 1} values)")


def run(spec: Any, oracle: Any, *, options: Any, progress: Callable[[Progress], None] | None = None,
        cancel: Any = None) -> FamilyResult:
    check_spec(spec)
    start = time.monotonic()
    deadline = start + options.timeout if options.timeout else None
    target = options.min_agreement
    lo = np.array([i.lo for i in spec.inputs], float)
    hi = np.array([i.hi for i in spec.inputs], float)
    span = hi - lo
    span[span == 0] = 1.0
    offset = 0 if spec.output.type == BOOL else spec.output.lo
    classes = 2 if spec.output.type == BOOL else spec.output.hi - spec.output.lo + 1
    names = spec.input_names
    boolean = spec.output.type == BOOL
    stopped: list[StopReason] = []
    best_text: list[str | None] = [None]

    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise Stop(StopReason.CANCELLED)
        if deadline is not None and time.monotonic() > deadline:
            raise Stop(StopReason.TIME)

    def values(x: np.ndarray) -> np.ndarray:
        return oracle.query(np.ascontiguousarray(x, float)).astype(np.int64)

    def ask(u: np.ndarray) -> np.ndarray:
        return values(lo + u * span) - offset

    def report(phase: str, tree, agree: float) -> None:
        if tree is not None:
            best_text[0] = show(tree, names, boolean=boolean)
        if progress is not None:
            progress(Progress(level=depth(tree) if tree else 0, candidates=grower.splits_tried,
                              distinct=leaves(tree) if tree else 0, best_agreement=agree,
                              elapsed=time.monotonic() - start, phase=phase, best=best_text[0]))

    rng = np.random.default_rng(options.seed)
    domain = spec.domain()
    grower = Grower(ask, classes, check, rng)
    tree, check_agree, rounds, sample_n = None, 0.0, 0, [0]
    try:
        su = (domain.sample(SAMPLE, seed=options.seed) - lo) / span
        labels = ask(su)
        sample_n[0] = len(labels)
        cx = domain.sample(CHECK, seed=options.seed + 1, method="uniform")
        cy = values(cx)
        report("sample", None, 0.0)
        for rounds in range(1, ROUNDS + 1):
            check()
            tree = simplify(to_tree(grower.grow(su, labels), lo, span, offset))
            check_agree = agreement(tree, cx, cy)
            report("grow", tree, check_agree)
            wrong = np.flatnonzero(evaluate(tree, cx) != cy)[:COUNTEREXAMPLES]
            if check_agree >= target or not len(wrong):
                break
            su = np.concatenate([su, (cx[wrong] - lo) / span])
            labels = np.concatenate([labels, cy[wrong] - offset])
            sample_n[0] = len(labels)
        floor = check_agree if check_agree < target else max(target, check_agree - ROUND_SLACK)
        tree = round_rule(tree, cx, cy, floor=floor, names=names, check=check)
        tree = orient(simplify(drop_dead(tree, lo, hi)))
        report("round", tree, agreement(tree, cx, cy))
    except Stop as stop:
        stopped.append(stop.args[0])
    if tree is None:
        return FamilyResult(None, 0.0, False, stopped[0], seconds=time.monotonic() - start,
                            queries=oracle_points(oracle), candidates=grower.splits_tried)
    sequence = prune(tree, cx, cy)
    scores = [agreement(t, cx, cy) for t in sequence]           # sequence: largest tree first
    meeting = [t for t, a in zip(sequence, scores) if a >= target]
    winner = meeting[-1] if meeting else sequence[max(range(len(sequence)), key=lambda i: (scores[i], i))]
    fx = domain.sample(FINAL, seed=options.seed + 2, method="uniform")
    search_queries = oracle_points(oracle)
    fy = values(fx)
    front = _pareto(sequence, spec, fx, fy)
    program = to_expression(winner, spec)
    final = agreement(winner, fx, fy)
    report("measure", winner, final)
    extra = {"rule_tree": to_dict(winner)}
    try:
        extra.update(pictures.regions(winner, oracle, spec))
    except Exception as e:       # a picture must never lose the rule: say why it is missing
        extra["regions_error"] = f"{type(e).__name__}: {e}"
    reason = stopped[0] if stopped else (StopReason.SOLVED if final >= target else StopReason.EXHAUSTED)
    all_splits = list(splits(winner))
    notes = ["the rule family runs in-process (options.workers is not used)"] if options.workers > 1 else []
    return FamilyResult(
        program=program, agreement=final, accepted=final >= target, stop_reason=reason,
        pareto=tuple(front), seconds=time.monotonic() - start, queries=search_queries,
        candidates=grower.splits_tried, notes=tuple(notes),
        figures={"sample": sample_n[0], "check_points": CHECK,
                 "fresh_points": FINAL, "rounds": rounds, "bisection_queries": grower.queries,
                 "leaves": leaves(winner), "splits": len(all_splits),
                 "oblique_splits": sum(s.oblique for s in all_splits), "depth": depth(winner),
                 "check_agreement": agreement(winner, cx, cy)},
        extra=extra)


def oracle_points(oracle: Any) -> int:
    return int(getattr(oracle, "points", 0))


def _pareto(sequence, spec, fx, fy) -> list[FamilyPareto]:
    """The trees of the pruning sequence that no smaller one matches, smallest first."""
    points = sorted(((to_expression(t, spec), agreement(t, fx, fy)) for t in sequence),
                    key=lambda p: (p[0].size, -p[1]))
    front, best = [], -1.0
    for program, agree in points:
        if agree > best:
            front.append(FamilyPareto(program, program.size, agree))
            best = agree
    return front
