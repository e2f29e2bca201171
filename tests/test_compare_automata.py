"""`netsynth.compare` on automata (issue 20, extended to every kind): three networks of Tomita 4
(a GRU, examples/tomita4; a transformer trained on words of at most 6 letters,
examples/tomita4_short; an LSTM, examples/automaton_trio/tomita4_lstm) are one group by exact DFA
equivalence; a GRU of Tomita 3 in place of one makes two. The truth is each grammar, evaluated
here (Python's `re` on the regular expression, "no 000"), never the search's own output.
Programs with state and the refusals: tests/test_compare_stateful.py."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys

import pytest

from test_service_kit import EXAMPLES, ROOT

pytestmark = pytest.mark.integration

TOMITA4 = [EXAMPLES / "tomita4" / "spec.json", EXAMPLES / "tomita4_short" / "spec.json",
           EXAMPLES / "automaton_trio" / "tomita4_lstm" / "spec.json"]
TOMITA3 = EXAMPLES / "automaton_trio" / "tomita3_gru" / "spec.json"


def tomita4(word) -> bool:
    return "000" not in "".join(map(str, word))


def tomita3(word) -> bool:
    grammar = json.loads(TOMITA3.read_text())["reference"]
    return re.fullmatch(grammar, "".join(map(str, word))) is not None


def words(up_to: int):
    for n in range(1, up_to + 1):
        yield from itertools.product((0, 1), repeat=n)


@pytest.fixture(scope="module")
def automata():
    import netsynth

    return netsynth.compare(*TOMITA4, verify=False, timeout=60)


@pytest.fixture(scope="module")
def automata_swapped():
    import netsynth

    return netsynth.compare(TOMITA4[0], TOMITA3, TOMITA4[2], verify=False, timeout=60)


def test_three_networks_of_tomita4_are_one_automaton(automata) -> None:
    from netsynth.compare_result import Outcome

    assert automata.outcome is Outcome.ONE
    (group,) = automata.groups
    assert sorted(group.members) == ["tomita4", "tomita4_lstm", "tomita4_short"]
    assert all(group.program.run(w) == tomita4(w) for w in words(10))
    assert all(e.reason and "product automaton" in e.reason for e in group.proofs[1:])
    assert automata.lengths == (1, 6)                      # tomita4_short's words are shorter
    short = automata.member("tomita4_short")
    assert short.fidelity.agree == short.fidelity.total > 0
    # The transformer trained on short words departs beyond them; the GRU does not.
    assert short.follows.agreement < 0.9 and short.follows.departures
    assert automata.member("tomita4").follows.agreement == 1.0
    assert all(p.differ == 0 for p in automata.pairs)


def test_a_network_of_tomita3_makes_a_second_group(automata_swapped) -> None:
    from netsynth.compare_result import Outcome
    from verifier.equivalence import Verdict

    r = automata_swapped
    assert r.outcome is Outcome.SEVERAL and len(r.groups) == 2
    by = {g.members: g.program for g in r.groups}
    assert all(by[("tomita4", "tomita4_lstm")].run(w) == tomita4(w) for w in words(10))
    assert all(by[("tomita3_gru",)].run(w) == tomita3(w) for w in words(10))
    (relation,) = r.relations
    assert relation.verdict is Verdict.COUNTEREXAMPLE
    word = dict(relation.equivalence.counterexample.inputs)["x"]
    assert tomita4(word) != tomita3(word)
    pair = {(p.a, p.b): p for p in r.pairs}
    assert pair[("tomita4", "tomita4_lstm")].differ == 0
    differing = pair[("tomita4", "tomita3_gru")]
    assert differing.differ > 0
    for point in differing.points:
        w = dict(point.inputs)["sequence"]
        assert (point.a, point.b) == (tomita4(w), tomita3(w))


def test_the_page_and_its_json(automata_swapped) -> None:
    from netsynth.compare_render import html, render

    data = json.loads(json.dumps(automata_swapped.to_dict()))
    assert data["family"] == "automaton" and render(data) == str(automata_swapped)
    text = str(automata_swapped)
    assert "sequences of 1..16 steps" in text and "group 2" in text and "state" in text
    assert "group 1 / group 2: different" in text
    page = html(data)
    assert "tomita3_gru" in page and "<pre>state" in page      # each automaton's table


def test_cli_compare_of_automata(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "netsynth.cli", "compare", str(TOMITA4[0]),
                          str(TOMITA3), "--no-verify", "--no-progress", "--json",
                          str(tmp_path / "c.json")],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "2 groups, proved different" in out.stdout and "Traceback" not in out.stderr
    assert json.loads((tmp_path / "c.json").read_text())["family"] == "automaton"
