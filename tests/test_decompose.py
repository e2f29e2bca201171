"""Decomposed search (synth/intprobes/decompose.py through synth.search.run) on real networks:
popcount and parity of a byte (bench/hackers_delight), past what enumeration reaches whole,
found part by part; the programs are checked against the numpy truth on the whole domain."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import oracle
from bench_kit import bench_module
from dsl.ast import size
from dsl.evaluate import evaluate
from dsl.types import INT
from oracle.spec import load_spec
from synth import search
from synth.options import SearchOptions
from synth.problem import Problem

HD = Path(__file__).resolve().parents[1] / "bench" / "hackers_delight"
BY_NAME = bench_module("hackers_delight", "tasks").BY_NAME


def solve(name: str, **options):
    spec = load_spec(HD / name / "spec.json")
    problem = Problem.from_spec(spec, oracle.load(spec))
    return problem, search.run(problem, options=SearchOptions(**{"timeout": 50, **options}))


@pytest.mark.parametrize("name, op", [("popcount", "+"), ("parity", "^")])
def test_a_byte_function_is_found_through_its_bits(name, op):
    problem, result = solve(name, max_size=8)
    assert result.accepted
    x = np.arange(256)
    got = evaluate(result.program, {"x": x}, dsl=problem.dsl)
    assert not got.bad.any() and (got.values == BY_NAME[name].truth(x)).all()
    assert size(result.program) > 8              # past the size bound: the parts were searched
    # the report names the decomposition as one formula, not eight part lines
    fold = {"+": "sum", "^": "xor"}[op]
    modulo = " modulo 256" if op == "+" else ""
    assert f"decomposition found: {fold} over i in 0..7 of (x >>u i & 1); {op}-separable" \
           f"{modulo} over the bits: 8 parts" in result.notes
    assert not any(n.startswith("part {") for n in result.notes)


@pytest.mark.parametrize("ops", [None, ("add", "bitand", "lshr")])
def test_a_one_bit_part_is_read_off_with_the_natural_program(ops):
    """Every single-bit part of popcount is `x >>u k & 1` whatever other operators the DSL has
    (with all of bv8's, the search's first fit for bit 3 was `x /u (x | 8)`); the joined program
    is the sum of the bits."""
    problem, result = solve("popcount", max_size=4, timeout=20, ops=ops)
    terms = " + ".join(["(x & 1)"] + [f"(x >>u {k} & 1)" for k in range(1, 8)])
    assert result.accepted and problem.dsl.show(result.program) == terms


def test_the_formula_is_given_only_when_the_parts_follow_one_pattern():
    """Parts that are not one program in the bit index are listed, not folded into a formula."""
    from dsl import get_dsl
    from synth.intprobes import decompose, separability as sep

    dsl = get_dsl("bv8")
    split = sep.Split("+", tuple((sep.Coordinate("x", 1 << k),) for k in range(4)), {"x": 0}, 0,
                      256)
    parts = [("", dsl.parse(f"x >>u {k} & 1", {"x": INT})) for k in range(4)]
    assert decompose.formula(split, parts, dsl) == "sum over i in 0..3 of (x >>u i & 1)"
    parts[2] = ("", dsl.parse("x >>u 2 & 1 & x", {"x": INT}))     # equal values, other shape
    assert decompose.formula(split, parts, dsl) is None
    parts[2] = ("", dsl.parse("x >>u 1 & 1", {"x": INT}))         # another bit: wrong values
    assert decompose.formula(split, parts, dsl) is None


#: Hacker's Delight's operators (bench/hackers_delight/run.py's `--ops core`).
CORE = ("add", "sub", "mul", "negate", "bitand", "bitor", "bitxor", "invert", "shl", "lshr",
        "ashr", "eq", "ne", "ult", "ule", "ugt", "uge", "slt", "sle", "sgt", "sge", "and", "or",
        "not", "ite")


@pytest.mark.parametrize("name", ["hd14", "hd15"])
def test_the_averages_are_the_natural_nine_node_programs(name):
    """The decomposition joins 13 nodes; the meet in the middle (synth/intprobes/meet.py) replaces
    it with a whole program of at most 9 nodes, right on all 65536 pairs against the numpy truth
    (the book's `(x & y) + ((x ^ y) >>u 1)` and `(x | y) - ((x ^ y) >>u 1)` have 9)."""
    problem, result = solve(name, timeout=55, ops=CORE, max_size=6)   # whole search: to 5
    assert result.accepted and size(result.program) <= 9
    x, y = (v.ravel() for v in np.meshgrid(np.arange(256), np.arange(256), indexing="ij"))
    got = evaluate(result.program, {"x": x, "y": y}, dsl=problem.dsl)
    assert not got.bad.any() and (got.values == BY_NAME[name].truth(x, y)).all()
    if name == "hd14":
        assert any("3 parts {bit 0 of x, bit 0 of y}, {bits 1-7 of x}, {bits 1-7 of y}" in n
                   for n in result.notes)
    joined = [n for n in result.notes if n.startswith("the decomposition joined: ")]
    assert joined and joined[0].endswith("(size 13)")
    assert any(n.startswith("a smaller whole program replaces the decomposition's (size 13): ")
               for n in result.notes)


def test_a_function_that_does_not_split_is_searched_whole():
    problem, result = solve("hd01", timeout=30)
    assert result.accepted and problem.dsl.show(result.program) == "x & x - 1"
    assert "no split over the inputs or their bits under ^, | or +" in result.notes


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 10_000), bound=st.integers(8, 13))
def test_the_meet_returns_only_smaller_programs_right_on_the_whole_domain(seed, bound):
    """Whatever the 96 sampled points (the seed) and the size to beat, the meet's program is
    smaller than the bound and equal to the numpy truth on all 65536 pairs, or there is none;
    with room for 9 nodes it is found."""
    from synth.int_engine.distributed import make_executor
    from synth.intprobes import meet

    spec = load_spec(HD / "hd15" / "spec.json")
    problem = Problem.from_spec(spec, oracle.load(spec))
    executor = make_executor(1, address=None)
    try:
        found = meet.smaller(problem, SearchOptions(ops=CORE, seed=seed), bound,
                             deadline=time.monotonic() + 30, executor=executor)
    finally:
        executor.close()
    if bound <= 9:
        assert found is None     # the book's 9 nodes: no smaller a + b, a - b or a ^ b was met
        return
    assert found is not None
    program, note = found
    assert size(program) < bound and note.startswith("a smaller whole program replaces")
    x, y = (v.ravel() for v in np.meshgrid(np.arange(256), np.arange(256), indexing="ij"))
    got = evaluate(program, {"x": x, "y": y}, dsl=problem.dsl)
    assert not got.bad.any() and (got.values == BY_NAME["hd15"].truth(x, y)).all()
