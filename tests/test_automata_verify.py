"""verifier/automaton.py on trained networks in real ONNX Runtime sessions: the planted departure (a
transformer encoder trained on Tomita 4 with words of at most 6 letters, wrong on long words),
exact reference verdicts by product automaton, and predicate references. The truth is the
grammar's Python predicate, independent of the search and of the verifier."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import oracle
import synth.automata
from dsl.automaton import Automaton
from synth.options import SearchOptions
from verifier import automaton as verify
from verifier.equivalence import Verdict

MODELS = Path(__file__).resolve().parents[1] / "bench" / "tomita" / "models"


def tomita4(word) -> bool:
    return "000" not in "".join(map(str, word))


@pytest.fixture(scope="module")
def departure():
    net = oracle.load(MODELS / "departure.json")
    result = synth.automata.run(net.spec, net, options=SearchOptions(timeout=60))
    return net, result


def test_the_planted_departure_is_found_on_long_words(departure) -> None:
    net, result = departure
    dfa = result.program
    assert net.spec.sequence.max_len == 6 and result.accepted and dfa.size == 4
    assert all(dfa.run(w) == tomita4(w) for n in range(1, 13) for w in itertools.product((0, 1), repeat=n))
    found = verify.departures(dfa, net, 6)
    assert found.lengths and min(found.lengths) > 6  # it departs, and only past its training lengths
    assert found.agreement < 0.9
    for word, network, automaton in found.examples:  # the network is the one that is wrong
        assert automaton == tomita4(word) and network != tomita4(word)
    assert result.extra["departures"]["lengths"]  # the search's own long-word probe says so too
    assert any("departs from its automaton" in note for note in result.notes)


def test_check_reports_fidelity_reference_and_where_the_network_departs(departure) -> None:
    net, result = departure
    v = verify.check(result.program, net, net.spec)
    assert v.fidelity.exhaustive and v.fidelity.total == 2 ** 7 - 2 and v.fidelity.agreement == 1.0
    assert v.equivalence.verdict is Verdict.EQUIVALENT  # the spec's regex, by product automaton
    assert v.generalisation.holds
    assert "departs from the automaton" in v.follows.note and v.follows.agreement < 1.0
    assert v.network_beyond.agreement < 1.0  # against the reference too
    assert v.size.program_nodes == 4 and v.holds
    d = v.to_dict()
    assert d["reference"] == "equivalent" and d["generalisation"]["network_departs_from_program_at"]


def test_a_wrong_reference_gets_the_shortest_counterexample() -> None:
    net = oracle.load(MODELS / "tomita1_gru.json")
    one_star = Automaton(("x",), ((0,), (1,)), ((1, 0), (1, 1)), (True, False))
    v = verify.check(one_star, net, net.spec, reference="1*0?")
    assert v.fidelity.agreement == 1.0 and v.fidelity.exhaustive is False
    assert v.equivalence.verdict is Verdict.COUNTEREXAMPLE
    assert v.equivalence.counterexample.to_dict() == {"inputs": {"x": [0]}, "program": False, "reference": True}
    assert not v.holds
    wrong = Automaton(("x",), ((0,), (1,)), ((0, 0),), (True,))  # accepts everything
    v = verify.check(wrong, net, net.spec)
    assert v.fidelity.agreement < 1.0 and v.fidelity.disagreements[0].to_dict()["network"] is False
    assert v.equivalence.verdict is Verdict.COUNTEREXAMPLE


def test_predicate_references_are_evaluated_not_proved() -> None:
    net = oracle.load(MODELS / "tomita5_gru.json")
    result = synth.automata.run(net.spec, net, options=SearchOptions(timeout=60))
    v = verify.check(result.program, net, net.spec)  # the spec's reference is a lambda
    assert v.equivalence.verdict is Verdict.UNKNOWN and "evaluated, not proved" in v.equivalence.reason
    assert v.generalisation.checked == 200 and v.generalisation.holds
    v = verify.check(result.program, net, net.spec, reference="lambda w: w.count('0') % 2 == 0")
    ce = v.equivalence.counterexample
    assert v.equivalence.verdict is Verdict.COUNTEREXAMPLE and ce.reference is True and ce.program is False
    assert "".join(map(str, ce.inputs[0][1])).count("0") % 2 == 0


def test_several_classes_give_a_moore_machine_checked_against_a_dfa_reference() -> None:
    net = oracle.load(MODELS / "count3_gru.json")  # the number of 1s modulo 3, argmax of 3 logits
    assert net.spec.family == "automaton"
    result = synth.automata.run(net.spec, net, options=SearchOptions(timeout=60))
    moore = result.program
    assert result.accepted and moore.size == 3 and moore.output_type.name == "int"
    words = [w for n in range(1, 11) for w in itertools.product((0, 1), repeat=n)]
    assert all(moore.run(w) == sum(w) % 3 for w in words)
    reference = ('{"letters": [[0], [1]], "output_type": "int", "outputs": [0, 1, 2], '
                 '"transitions": [[0, 1], [1, 2], [2, 0]]}')
    v = verify.check(moore, net, net.spec, reference=reference)
    assert v.equivalence.verdict is Verdict.EQUIVALENT and v.fidelity.agreement == 1.0
    off_by_one = reference.replace('"outputs": [0, 1, 2]', '"outputs": [0, 2, 1]')
    v = verify.check(moore, net, net.spec, reference=off_by_one)
    assert v.equivalence.counterexample.to_dict() == {"inputs": {"x": [1]}, "program": 1, "reference": 2}


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration
