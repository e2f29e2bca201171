"""Literals from the oracle (synth/intprobes/literals.py) and the DSL a spec implies.

Real parts: the clamp network of tests/data/clamp (trained by bench/hackers_delight/train_clamp.py
on clamp(x, 7, 40), x in [0, 63]) and a Hacker's Delight network, both through ONNX Runtime.
"""

from __future__ import annotations

import json

import pytest
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import oracle
from oracle.spec import load_spec
from synth import search
from synth.intprobes import literals
from synth.options import SearchOptions
from synth.problem import Problem

ROOT = Path(__file__).resolve().parents[1]
CLAMP = ROOT / "tests" / "data" / "clamp" / "spec.json"
HD = ROOT / "bench" / "hackers_delight"


def test_the_clamp_networks_plateaus_are_found_with_their_sources():
    spec = load_spec(CLAMP)
    found = {f.value: f.sources for f in literals.discover(spec, oracle.load(spec))}
    assert {7, 40} <= set(found)
    assert "plateau of the output for x in [0, 7]" in found[7]
    assert "plateau of the output for x in [40, 63]" in found[40]
    assert "the output changes slope at x = 40" in found[40]
    assert "the output's maximum" in found[40]


def test_with_the_discovered_literals_the_search_finds_the_clamp():
    spec = load_spec(CLAMP)
    net = oracle.load(spec)
    problem = Problem.from_spec(spec, net)
    assert any(n.startswith("literals from the network: 40 (plateau") for n in problem.notes)
    result = search.run(problem, options=SearchOptions(max_size=5, timeout=30))
    assert result.accepted
    x = np.arange(64)
    from dsl.evaluate import evaluate

    values = evaluate(result.program, {"x": x}, dsl=problem.dsl).values
    assert (values == np.clip(x, 7, 40)).all()
    assert problem.dsl.show(result.program) == "min(max(x, 7), 40)"
    # Without the network's literals 40 must be built (32 + 8): nothing of size 5 or less fits.
    bare = Problem.from_spec(spec, net, discover=False)
    assert 40 not in {c.value for c in bare.literals}
    assert not search.run(bare, options=SearchOptions(max_size=5, timeout=30)).accepted


def test_a_bit_trick_shows_no_constants():
    """x & (x - 1) changes slope almost everywhere: no breakpoints, no extremes, no plateaus."""
    spec = load_spec(HD / "hd01" / "spec.json")
    assert literals.discover(spec, oracle.load(spec)) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(2, 30), st.integers(-5, 5)), min_size=1, max_size=5),
       st.integers(-50, 50))
def test_breakpoints_are_exactly_the_knots_of_a_piecewise_linear_sequence(pieces, start):
    """Pieces of (length, slope), each slope different from the last: the knots are where a
    new slope starts."""
    slopes, knots, at = [], [], 0
    for length, slope in pieces:
        if slopes and slope == slopes[-1]:
            slope += 1
        if slopes:
            knots.append(at)
        slopes += [slope] * length
        at += length
    ys = start + np.concatenate([[0], np.cumsum(slopes)])
    assert literals._breakpoints(ys).tolist() == knots


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-9, 9), st.integers(1, 9)), min_size=1, max_size=8))
def test_runs_are_the_maximal_runs_of_equal_values(pieces):
    ys = np.concatenate([[v] * n for v, n in pieces])
    truth, i = [], 0
    while i < len(ys):
        j = i
        while j + 1 < len(ys) and ys[j + 1] == ys[i]:
            j += 1
        if j - i + 1 >= 3:
            truth.append((int(ys[i]), i, j))
        i = j + 1
    assert literals._runs(ys, 3) == truth


def _raw(name: str) -> dict:
    raw = json.loads((HD / name / "spec.json").read_text())
    raw["model"] = str(HD / name / "model.onnx")
    return raw


def test_a_bits_encoded_spec_without_a_dsl_gets_the_bit_vector_dsl_of_its_width():
    raw = _raw("hd01")
    del raw["dsl"]
    spec = load_spec(raw)
    assert spec.dsl == "bv8"
    problem = Problem.from_spec(spec, oracle.load(spec))
    assert problem.dsl.name == "bv8"
    assert problem.notes[0].startswith("DSL bv8: the inputs are bits-encoded")
    # A 12-bit bits output beside 8-bit inputs: bv16.
    raw["output"]["range"], raw["output"]["width"] = [0, 4095], 12
    assert load_spec(raw).dsl == "bv16"
    # Named DSLs stay; raw encodings keep the int DSL.
    assert load_spec({**_raw("hd01"), "dsl": "int"}).dsl == "int"
    assert load_spec(CLAMP).dsl == "int"


def test_the_bit_vector_pool_holds_only_byte_values_below_255():
    spec = load_spec(HD / "hd01" / "spec.json")
    values = {c.value for c in Problem.from_spec(spec, oracle.load(spec)).literals}
    assert values and all(0 <= v < 255 for v in values)


def test_plateaus_at_the_other_inputs_values_are_not_constants():
    """max(x, y) plateaus at y along x, and hd19's slices along m plateau at values set by x and
    k at one base point each: neither is a constant of the network's."""
    for name in ("hd16", "hd19"):
        spec = load_spec(HD / name / "spec.json")
        sources = [s for f in literals.discover(spec, oracle.load(spec)) for s in f.sources]
        assert not [s for s in sources if s.startswith("plateau")], (name, sources)


def test_a_shift_by_an_input_becomes_a_shift_by_a_literal_where_the_network_agrees():
    """hd13 (the sign of a signed byte): `x >>s x` equals `x >>s 7` on every byte, and the
    search's accepted program reads the second; a count no literal can stand for stays."""
    from oracle import sampling

    spec = load_spec(HD / "hd13" / "spec.json")
    net = oracle.load(spec)
    problem = Problem.from_spec(spec, net)
    full = sampling.domain(spec)
    state = search._State(problem, SearchOptions(), full, net.query(full), None)
    found = problem.dsl.parse("x >>s x if x <s 1 else 1", spec.variables())
    assert problem.dsl.show(state.literal_counts(found)) == "x >>s 7 if x <s 1 else 1"
    # hd26 (round x up to a multiple of 2^k): the shifts by k are the function
    spec = load_spec(HD / "hd26" / "spec.json")
    net = oracle.load(spec)
    problem = Problem.from_spec(spec, net)
    full = sampling.domain(spec)
    state = search._State(problem, SearchOptions(), full, net.query(full), None)
    kept = problem.dsl.parse("-(-x >>u k << k)", spec.variables())
    assert state.agreement(kept)[0] == 1.0 and state.literal_counts(kept) == kept


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration


def test_the_literals_note_is_short():
    """The note names the first few literals with one source each, then counts the rest."""
    found = [literals.Found(v, (f"plateau of the output for x in [{v}, {v + 9}]",
                                "the output's maximum")) for v in range(100, 112)]
    text = literals.note(found)
    assert text.startswith("literals from the network: 100 (plateau of the output for x in "
                           "[100, 109], and 1 more); 101 (")
    assert text.endswith("; and 9 more: 103, 104, 105, 106, 107, 108, ...")
    assert len(text) < 260
    assert literals.note(found[:1]) == ("literals from the network: 100 (plateau of the output "
                                        "for x in [100, 109], and 1 more)")
