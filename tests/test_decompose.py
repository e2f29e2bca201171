"""Decomposed search (synth/intprobes/decompose.py through synth.search.run) on real networks:
popcount and parity of a byte (bench/hackers_delight), past what enumeration reaches whole,
found part by part; the programs are checked against the numpy truth on the whole domain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import oracle
from bench_kit import bench_module
from dsl.ast import size
from dsl.evaluate import evaluate
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
    assert any(n.startswith(f"decomposition: {op}-separable") for n in result.notes)
    assert sum(n.startswith("part {bit ") for n in result.notes) == 8


def test_the_floor_average_joins_three_parts():
    problem, result = solve("hd14", max_size=6, timeout=40)
    assert result.accepted
    x, y = (v.ravel() for v in np.meshgrid(np.arange(256), np.arange(256), indexing="ij"))
    got = evaluate(result.program, {"x": x, "y": y}, dsl=problem.dsl)
    assert (got.values == BY_NAME["hd14"].truth(x, y)).all()
    assert any("3 parts {bit 0 of x, bit 0 of y}, {bits 1-7 of x}, {bits 1-7 of y}" in n
               for n in result.notes)


def test_a_function_that_does_not_split_is_searched_whole():
    problem, result = solve("hd01", timeout=30)
    assert result.accepted and problem.dsl.show(result.program) == "x & x - 1"
    assert "no split over the inputs or their bits under ^, | or +" in result.notes


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration
