"""Structure probes (synth/intprobes/separability.py) on real networks through ONNX Runtime:
the Hacker's Delight byte networks of bench/hackers_delight, each trained on a function whose
structure is known by construction (the truth is bench/hackers_delight/tasks.py's numpy).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import oracle
from bench_kit import bench_module
from oracle.spec import load_spec
from synth.intprobes import separability as sep

HD = Path(__file__).resolve().parents[1] / "bench" / "hackers_delight"
BY_NAME = bench_module("hackers_delight", "tasks").BY_NAME


@lru_cache(maxsize=None)
def net(name: str):
    spec = load_spec(HD / name / "spec.json")
    return spec, oracle.load(spec)


def splits(name: str, level: str) -> dict[str, sep.Split | None]:
    spec, o = net(name)
    return {op: sep.probe(spec, o, op=op, level=level, modulus=256) for op in sep.OPS}


def singletons(split: sep.Split) -> list[str]:
    return [sep.label(g) for g in split.groups]


def test_popcount_is_additive_over_its_bits_and_nothing_else():
    found = splits("popcount", "bits")
    assert found["^"] is None and found["|"] is None
    assert singletons(found["+"]) == [f"bit {k} of x" for k in range(8)]
    assert found["+"].constant == 0


def test_parity_is_xor_separable_over_its_bits_and_nothing_else():
    found = splits("parity", "bits")
    assert found["+"] is None and found["|"] is None
    assert singletons(found["^"]) == [f"bit {k} of x" for k in range(8)]


def test_the_or_of_two_nibbles_splits_by_bit_under_or_and_by_bit_pairs_otherwise():
    """(x & 15) | (x >> 4): under | every bit is its own part; under + and ^ bits k and k + 4
    meet in output bit k (1 | 1 is 1, not 2 or 0), and each such pair is a part."""
    found = splits("nibbles", "bits")
    assert singletons(found["|"]) == [f"bit {k} of x" for k in range(8)]
    for op in "+^":
        assert singletons(found[op]) == [f"bits {k}, {k + 4} of x" for k in range(4)]


def test_the_floor_average_splits_over_bits_with_the_carry_bits_together():
    """(x + y) >> 1 == (x >> 1) + (y >> 1) + (x & y & 1): bits 0 of x and y interact, the rest
    are apart."""
    assert splits("hd14", "inputs") == {op: None for op in sep.OPS}
    split = splits("hd14", "bits")["+"]
    groups = singletons(split)
    assert "bit 0 of x, bit 0 of y" in groups and len(groups) == 15


@pytest.mark.parametrize("name", ["hd01", "hd04", "hd17", "hd20"])
def test_bit_tricks_do_not_split(name):
    assert splits(name, "bits") == {op: None for op in sep.OPS}


def test_symmetry_is_found_where_it_is_and_only_there():
    spec, o = net("hd14")                    # (x + y) >> 1
    assert sep.symmetric(spec, o, "x", "y")
    spec, o = net("hd16")                    # signed max
    assert sep.symmetric(spec, o, "x", "y")
    spec, o = net("hd26")                    # round x up to a multiple of 2^k: not symmetric
    assert not sep.symmetric(spec, o, "x", "k")
    spec, o = net("hd19")                    # x and m: different roles, same range
    assert not sep.symmetric(spec, o, "x", "m")


def test_a_split_holds_on_the_whole_domain_by_the_truth():
    """The parts a split reports, joined, give the task's truth at every point."""
    spec, o = net("popcount")
    split = sep.probe(spec, o, op="+", level="bits", modulus=256)
    x = np.arange(256)
    total = sum(sep.part_values(o, split, g, {"x": x}) for g in split.groups) + split.constant
    assert (total % 256 == BY_NAME["popcount"].truth(x)).all()
    # each part is one bit's weight: 1 where the bit is set
    for k, g in enumerate(split.groups):
        assert (sep.part_values(o, split, g, {"x": x}) == (x >> k) & 1).all()


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration
