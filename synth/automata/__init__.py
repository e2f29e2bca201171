"""The automaton family: a sequence classifier's minimal automaton, learned with the network as
membership oracle (AALpy's L*).

`run(spec, oracle, *, options, progress=None, cancel=None) -> FamilyResult` for a spec with a
`sequence` section, final output, and a bool answer (a DFA) or a small int one (a Moore machine),
over a finite step alphabet (`SequenceOracle.letters`). The loop, top to bottom:
1. Ask every short word at once (the hunt's first stage), so L* starts from a full cache.
2. L* (`aalpy.run_Lstar`, Rivest-Schapire counterexample processing) asks membership queries
   through `NetworkSUL` (batched and cached by `Teacher`); each hypothesis goes to `Hunt`, the
   counterexample hunt over words of the spec's lengths (every short word, W-method, random
   walks), until the hunt finds none.
3. The start state's output is the empty word's answer, which the network never gives: it is
   chosen to make the automaton smallest (`free_start`), then the automaton is minimised and
   numbered canonically (`Automaton.minimal`).
4. Long words (2-5x the longest training length) say where the network departs from its
   automaton (`hunt.departures`).
Stops on the timeout (StopReason.TIME) or `cancel` (CANCELLED) with the last hypothesis. The
search runs in-process whatever `options.workers` says: its work is the network's batches.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from dsl.automaton import Automaton
from dsl.errors import SpecError
from dsl.types import BOOL, INT
from synth.automata.hunt import Hunt, departures
from synth.automata.teacher import Budget, NetworkSUL, Stopped, Teacher
from synth.outcome import FamilyPareto, FamilyResult, Progress, StopReason

MAX_ROUNDS = 200


def run(spec: Any, oracle: Any, *, options: Any, progress: Callable[[Progress], None] | None = None,
        cancel: Any = None) -> FamilyResult:
    from aalpy.learning_algs import run_Lstar

    _check(spec)
    start = time.monotonic()
    budget = Budget(start + options.timeout if options.timeout else None, cancel)
    teacher = Teacher(oracle, budget)
    letters = [tuple(int(v) for v in row) for row in oracle.letters.tolist()]
    names, out_type = tuple(spec.input_names), spec.output.type
    empty = False if out_type == BOOL else spec.output.lo
    hypotheses: list[Automaton] = []

    def to_automaton(hypothesis: Any) -> Automaton:
        dfa = from_aalpy(hypothesis, names, letters, out_type)
        hypotheses.append(dfa)
        return dfa

    def report(phase: str) -> None:
        if progress is not None:
            best = hypotheses[-1] if hypotheses else None
            progress(Progress(level=best.size if best else 0, candidates=teacher.asked, distinct=len(teacher.known),
                              best_agreement=hunt.last_agreement, elapsed=time.monotonic() - start,
                              round=max(hunt.rounds, 1), phase=phase,
                              best=f"{best.size}-state automaton" if best else None))

    hunt = Hunt(teacher, spec.sequence.max_len, to_automaton=to_automaton, seed=options.seed,
                stage=lambda name: report(f"hunt: {name}"))
    sul = NetworkSUL(teacher, empty)
    stop = StopReason.SOLVED
    try:
        report("every short word")
        teacher.answers(hunt.every_word())
        report("learn")
        run_Lstar(hunt.alphabet, sul, hunt, "dfa" if out_type == BOOL else "moore", cex_processing="rs",
                  all_prefixes_in_obs_table=False, cache_and_non_det_check=False, print_level=0,
                  max_learning_rounds=MAX_ROUNDS)
    except Stopped as e:
        stop = e.reason
    if not hypotheses:
        return FamilyResult(None, 0.0, False, stop, seconds=time.monotonic() - start, queries=oracle.points,
                            notes=(f"stopped ({stop.value}) before the first hypothesis",),
                            figures=_figures(teacher, sul, hunt, None))
    if stop is StopReason.SOLVED and not hunt.converged:  # L* ran out of its MAX_ROUNDS rounds
        stop = StopReason.CANDIDATES
    automaton = free_start(hypotheses[-1])
    agreement, checked = hunt.agreement(automaton)
    report("long words")
    try:
        beyond = departures(automaton, teacher, spec.sequence.max_len, seed=options.seed)
    except Stopped:
        beyond = None
    pareto = _pareto(hypotheses, hunt)
    accepted = stop is StopReason.SOLVED and agreement >= options.min_agreement
    notes = [f"learned for words of {spec.sequence.min_len}..{spec.sequence.max_len} steps; the start "
             "state's output (the empty word, which the network never answers) chosen to minimise it"]
    if beyond and beyond["lengths"]:
        notes.append(f"the network departs from its automaton on longer words, from length {beyond['first']} "
                     f"(of {', '.join(str(r['length']) for r in beyond['checked'])} checked)")
    extra = {"dfa": automaton.to_dict(), "table": automaton.show(), "departures": beyond}
    regex = automaton.to_regex()
    if regex is not None:
        extra["regex"] = regex
    try:
        extra["svg"] = automaton.to_svg()
    except Exception as e:  # graphviz's ExecutableNotFound and friends: the DOT text instead
        extra["dot"] = automaton.to_dot()
        notes.append(f"no state diagram (SVG): {type(e).__name__}: {e}; the report keeps its DOT text")
    return FamilyResult(automaton, agreement, accepted, stop, pareto, time.monotonic() - start, oracle.points,
                        len(hypotheses), tuple(notes), _figures(teacher, sul, hunt, automaton, checked), extra)


def _check(spec: Any) -> None:
    seq = spec.sequence
    if seq is None or seq.per_step:
        raise SpecError(f"sequence.output: the automaton family needs a 'final' answer, got "
                        f"{'no sequence section' if seq is None else repr(seq.output)}")
    if spec.output.type not in (BOOL, INT):
        raise SpecError(f"output.type: the automaton family needs a bool or int answer, got {spec.output.type.name!r}")


def from_aalpy(hypothesis: Any, inputs: tuple[str, ...], letters: list[tuple[int, ...]], out_type: Any) -> Automaton:
    """An AALpy Dfa or MooreMachine over letter indices as an `Automaton` (states as AALpy lists them)."""
    states = list(hypothesis.states)
    index = {id(s): i for i, s in enumerate(states)}
    outputs = tuple(bool(s.is_accepting) if out_type == BOOL else int(s.output) for s in states)
    transitions = tuple(tuple(index[id(s.transitions[a])] for a in range(len(letters))) for s in states)
    return Automaton(inputs, tuple(letters), transitions, outputs, index[id(hypothesis.initial_state)], out_type)


def free_start(automaton: Automaton) -> Automaton:
    """The smallest minimal automaton answering as `automaton` on every non-empty word: a fresh
    start state (the old one's transitions, no way back into it) given each possible output."""
    n = automaton.size
    best = None
    for out in dict.fromkeys([automaton.outputs[automaton.initial], *automaton.outputs]):
        fresh = Automaton(automaton.inputs, automaton.letters,
                          (*automaton.transitions, automaton.transitions[automaton.initial]),
                          (*automaton.outputs, out), n, automaton.output_type).minimal()
        if best is None or fresh.size < best.size:
            best = fresh
    return best


def _pareto(hypotheses: list[Automaton], hunt: Hunt) -> tuple[FamilyPareto, ...]:
    """The hypotheses (minimised with their start state chosen) on the front of size against
    agreement on the checked words: each smaller than the next and less agreeing."""
    best: dict[int, tuple[float, Automaton]] = {}
    for h in hypotheses:
        m = free_start(h)
        agreement = hunt.agreement(m)[0]
        if m.size not in best or agreement > best[m.size][0]:
            best[m.size] = (agreement, m)
    front, top = [], -1.0
    for size in sorted(best):
        agreement, m = best[size]
        if agreement > top:
            front.append(FamilyPareto(m, size, agreement))
            top = agreement
    return tuple(front)


def _figures(teacher: Teacher, sul: NetworkSUL, hunt: Hunt, automaton: Automaton | None,
             checked: int = 0) -> dict:
    return {"membership_queries": sul.num_queries, "words_asked": teacher.asked,
            "equivalence_queries": hunt.rounds, "states": automaton.size if automaton else 0,
            "words_checked": checked, "exhaustive_length": hunt.exhaustive}
