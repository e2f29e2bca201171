"""The Automaton program kind and the exact language comparisons, without a network: properties
drawn by Hypothesis and checked against brute force over every short word (and Python's `re`)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.automaton import Automaton
from dsl.errors import DSLError
from dsl.program import program_from_dict
from dsl.types import BOOL, INT
from oracle.spec import load_spec
from verifier.languages import Predicate, difference, reference_of

SPEC = load_spec({"inputs": [{"name": "x", "type": "int", "range": [0, 1], "encoding": "one_hot"}],
                  "output": {"type": "bool"}, "sequence": {"length": [1, 8]}})


@st.composite
def automata(draw, *, letters: int | None = None, out_type=BOOL, max_states: int = 6) -> Automaton:
    n = draw(st.integers(1, max_states))
    k = letters or draw(st.integers(1, 3))
    transitions = tuple(tuple(draw(st.integers(0, n - 1)) for _ in range(k)) for _ in range(n))
    values = st.booleans() if out_type == BOOL else st.integers(0, 2)
    outputs = tuple(draw(values) for _ in range(n))
    return Automaton(("x",), tuple((v,) for v in range(k)), transitions, outputs, draw(st.integers(0, n - 1)),
                     out_type)


def words(k: int, up_to: int):
    return [w for n in range(up_to + 1) for w in itertools.product(range(k), repeat=n)]


def brute_force_classes(a: Automaton) -> int:
    """The number of reachable states told apart by some word (words of fewer letters than states
    suffice): the minimal automaton's size."""
    reach = {a.initial}
    for w in words(len(a.letters), a.size):
        q = a.initial
        for letter in w:
            q = a.transitions[q][letter]
        reach.add(q)
    tests = words(len(a.letters), a.size)

    def signature(q: int) -> tuple:
        return tuple(Automaton(a.inputs, a.letters, a.transitions, a.outputs, q, a.output_type).run(w) for w in tests)

    return len({signature(q) for q in reach})


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([BOOL, INT]).flatmap(lambda t: automata(out_type=t)))
def test_minimal_answers_alike_and_is_as_small_as_brute_force_says(a: Automaton) -> None:
    m = a.minimal()
    assert all(m.run(w) == a.run(w) for w in words(len(a.letters), 6))
    assert m.size == brute_force_classes(a)
    assert m.minimal() == m  # canonical numbering: minimising again changes nothing


@settings(max_examples=60, deadline=None)
@given(automata(letters=2), st.lists(st.lists(st.integers(0, 1), min_size=0, max_size=9), min_size=1, max_size=20))
def test_evaluate_python_and_json_agree_with_run(a: Automaton, ws: list[list[int]]) -> None:
    namespace: dict = {}
    exec(a.to_python("g"), namespace)
    for w in ws:
        assert namespace["g"](w) == a.run(w)  # letters are the values 0 and 1 here
    same_length = [w for w in ws if len(w) == len(ws[0])]
    if ws[0]:
        ev = a.evaluate({"x": np.array(same_length)})
        assert ev.values.tolist() == [a.run(w) for w in same_length] and not ev.bad.any()
    ragged = a.evaluate({"x": [np.array(w, np.int64) for w in ws]})
    assert ragged.values.tolist() == [a.run(w) for w in ws]
    back = program_from_dict(a.to_dict(), SPEC)
    assert back == a and back.kind == "automaton"


@settings(max_examples=60, deadline=None)
@given(automata(letters=2, max_states=5))
def test_to_regex_means_what_python_re_reads(a: Automaton) -> None:
    text = a.minimal().to_regex()
    if text is None:
        return
    pattern = re.compile(text)
    for w in words(2, 8):
        assert bool(pattern.fullmatch("".join(map(str, w)))) == a.run(w), (text, w)


@settings(max_examples=80, deadline=None)
@given(automata(letters=2, max_states=3), automata(letters=2, max_states=3), st.integers(1, 3))
def test_difference_is_the_shortest_word_where_they_differ(a: Automaton, b: Automaton, min_len: int) -> None:
    found = difference(a, b, min_len)
    differing = [w for w in words(2, a.size * b.size + min_len) if len(w) >= min_len and a.run(w) != b.run(w)]
    if found is None:
        assert differing == []
    else:
        assert a.run(found) != b.run(found) and len(found) == len(differing[0])


def test_evaluate_marks_steps_that_are_no_letter_and_show_is_a_table() -> None:
    a = Automaton(("x",), ((0,), (1,)), ((1, 0), (1, 1)), (True, False))
    ev = a.evaluate({"x": np.array([[1, 1], [1, 0], [1, 5]])})
    assert ev.values[:2].tolist() == [True, False] and ev.bad.tolist() == [False, False, True]
    assert a.show().splitlines() == ["state  x=0  x=1  output", ">q0    q1   q0   accept",
                                     " q1    q1   q1   reject"]
    assert "<svg" in a.to_svg() and a.to_regex() == "1*"


@pytest.mark.parametrize("data, message", [
    ({"inputs": ["x"], "letters": [[0], [1]], "outputs": [True], "transitions": [[0]]},
     "automaton.transitions[0]: expected 2 states in 0..0, got [0]"),
    ({"inputs": ["x"], "letters": [[0], [0]], "outputs": [True], "transitions": [[0, 0]]},
     "automaton.letters: expected distinct steps"),
    ({"inputs": ["x"], "letters": [[0]], "outputs": [True], "transitions": [[0]], "initial": 3},
     "automaton.initial: expected a state in 0..0, got 3"),
    ({"inputs": ["y"], "letters": [[0]], "outputs": [True], "transitions": [[0]]},
     "automaton.inputs: expected the spec's step inputs ['x'], got ['y']"),
    ({"inputs": ["x"], "letters": "01", "outputs": [True], "transitions": [[0]]}, "automaton.letters: expected a list"),
])
def test_bad_automata_name_the_field(data: dict, message: str) -> None:
    with pytest.raises(DSLError) as caught:
        Automaton.from_dict(data, SPEC)
    assert message in str(caught.value)


# ---- references ---------------------------------------------------------------------------------

BINARY = Automaton(("x",), ((0,), (1,)), ((0, 0),), (True,))


@pytest.mark.parametrize("regex", ["1*", "(10)*", "0*1*0*1*", "(1|01|001)*(|0|00)", "[01]{2,3}", "(0|1)+0"])
def test_regular_expressions_read_as_python_re_does(regex: str) -> None:
    ref = reference_of(regex, BINARY)
    assert isinstance(ref, Automaton)
    pattern = re.compile(regex)
    assert all(ref.run(w) == bool(pattern.fullmatch("".join(map(str, w)))) for w in words(2, 9))


def test_dfa_and_predicate_references() -> None:
    dfa = reference_of('{"letters": [[1], [0]], "outputs": [true, false], "transitions": [[0, 1], [1, 1]]}', BINARY)
    assert all(dfa.run(w) == (0 not in w) for w in words(2, 6))  # letters listed in another order
    pred = reference_of("lambda w: w.count('0') % 2 == 0 and not w.startswith('00')", BINARY)
    assert isinstance(pred, Predicate) and pred("0110") and not pred("001")


@pytest.mark.parametrize("text, message", [
    ("lambda w: __import__('os')", "a call of '__import__'"),
    ("lambda w: __builtins__", "the name '__builtins__'"),
    ("lambda w: w.__class__", "the attribute '__class__'"),
    ("lambda w: open('/etc/passwd')", "a call of 'open'"),
    ("lambda w: len(w) * 10", "Mult"),
    ("lambda w: sum(range(10**9))", "Pow"),
    ("lambda w: len(w) < 99999999", "the constant 99999999"),
    ("lambda w, v: True", "expected a predicate 'lambda w: ...' of one argument"),
    ("lambda w: (", "cannot parse the predicate"),
    ('{"letters": [[0]], "outputs": [true], "transitions": [[0]]}', "reference.letters: expected the steps"),
    ("(10", "cannot read '(10' as a regular expression"),
])
def test_unsafe_or_bad_references_are_refused(text: str, message: str) -> None:
    with pytest.raises(DSLError) as caught:
        reference_of(text, BINARY)
    assert message in str(caught.value)


def test_check_reference_reads_a_sequence_specs_reference_before_any_program() -> None:
    from verifier.languages import check_reference

    assert check_reference("(10)*", SPEC).run((1, 0, 1, 0)) is True
    assert isinstance(check_reference("lambda w: '00' in w", SPEC), Predicate)
    with pytest.raises(DSLError, match=r"cannot read '10\[' as a regular expression"):
        check_reference("10[", SPEC)
