"""The automaton family on the project's own trained GRUs for Tomita 1-7 (bench/tomita/models), in
real ONNX Runtime sessions: each gives the grammar's minimal DFA. The truth is independent of the
search: the grammar as a Python predicate on every word up to 12 letters, and the minimal state
count of ../shared/benchmarks/tomita.md."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import oracle
import synth.automata
from synth.options import SearchOptions
from synth.outcome import StopReason

MODELS = Path(__file__).resolve().parents[1] / "bench" / "tomita" / "models"


def _tomita3(w: str) -> bool:
    runs = [(c, len(list(g))) for c, g in itertools.groupby(w)]
    return not any(a == "1" and n % 2 and b == "0" and m % 2 for (a, n), (b, m) in zip(runs, runs[1:]))


TOMITA = {  # grammar -> (membership, states of the minimal complete DFA)
    1: (lambda w: "0" not in w, 2),
    2: (lambda w: w == "10" * (len(w) // 2), 3),
    3: (_tomita3, 5),
    4: (lambda w: "000" not in w, 4),
    5: (lambda w: w.count("0") % 2 == 0 and w.count("1") % 2 == 0, 4),
    6: (lambda w: (w.count("0") - w.count("1")) % 3 == 0, 3),
    7: (lambda w: w.count("10") <= 1, 5),
}
WORDS = ["".join(w) for n in range(1, 13) for w in itertools.product("01", repeat=n)]


@pytest.mark.parametrize("grammar", sorted(TOMITA))
def test_each_grammar_gives_its_minimal_dfa(grammar: int) -> None:
    accepts, minimal = TOMITA[grammar]
    net = oracle.load(MODELS / f"tomita{grammar}_gru.json")
    seen = []
    result = synth.automata.run(net.spec, net, options=SearchOptions(timeout=60), progress=seen.append)
    dfa = result.program
    assert result.accepted and result.stop_reason is StopReason.SOLVED and result.agreement == 1.0
    assert dfa.size == minimal == result.figures["states"]
    assert all(dfa.run(tuple(map(int, w))) == accepts(w) for w in WORDS)
    assert result.figures["membership_queries"] > 0 and result.figures["equivalence_queries"] >= 1
    assert {"learn", "hunt: every", "hunt: w-method", "hunt: random", "long words"} <= {p.phase for p in seen}
    assert result.extra["dfa"] == dfa.to_dict() and result.extra["svg"].lstrip().startswith("<?xml")
    if grammar in (1, 2, 4, 7):  # small enough for a short expression
        assert "regex" in result.extra


def test_cancel_and_timeout_stop_the_search() -> None:
    import threading

    net = oracle.load(MODELS / "tomita3_gru.json")
    cancel = threading.Event()
    cancel.set()
    result = synth.automata.run(net.spec, net, options=SearchOptions(timeout=60), cancel=cancel)
    assert result.stop_reason is StopReason.CANCELLED and not result.accepted and result.program is None
    calls = []

    def stop_after_first_hypothesis(p) -> None:
        calls.append(p.phase)
        if p.phase.startswith("hunt"):
            cancel.set()

    cancel.clear()
    result = synth.automata.run(net.spec, net, options=SearchOptions(timeout=60), cancel=cancel,
                                progress=stop_after_first_hypothesis)
    assert result.stop_reason is StopReason.CANCELLED and not result.accepted
    assert result.program is not None and result.program.size >= 1  # the hypothesis it had


def test_sequence_spec_that_is_not_an_automaton_is_refused() -> None:
    from dsl.errors import SpecError

    net = oracle.load(MODELS / "steps4_gru.json")
    with pytest.raises(SpecError, match="sequence.output: the automaton family needs a 'final' answer, got 'per_step'"):
        synth.automata.run(net.spec, net, options=SearchOptions(timeout=10))


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration
