"""Unit tests of the samplers (pure numpy; no model)."""

from __future__ import annotations

import numpy as np
import pytest

from dsl.errors import EncodingError
from oracle.sampling import beyond_range, can_encode_beyond, domain, sample
from oracle.spec import load_spec


def make(inputs: list[dict]) -> "Spec":  # noqa: F821
    return load_spec({"inputs": inputs, "output": {"range": [0, 1]}})


RAW = make([{"name": "x", "range": [-50, 50]}, {"name": "y", "range": [-3, 1000]}])
ONE_HOT = make([{"name": "x", "range": [0, 112], "encoding": "one_hot"},
                {"name": "y", "range": [0, 112], "encoding": "one_hot"}])
BITS = make([{"name": "x", "range": [0, 255], "encoding": "bits"}, {"name": "b", "type": "bool"}])
WIDE_BITS = make([{"name": "x", "range": [0, 100], "encoding": "bits", "width": 10},
                  {"name": "y", "range": [0, 9], "encoding": "one_hot"}])


def rows(cols: dict[str, np.ndarray]) -> list[tuple]:
    return list(zip(*(c.tolist() for c in cols.values())))


def test_domain_is_mixed_radix_first_input_slowest() -> None:
    s = make([{"name": "a", "range": [1, 3]}, {"name": "b", "type": "bool"}, {"name": "c", "range": [-1, 0]}])
    got = domain(s)
    assert list(got) == ["a", "b", "c"] and got["b"].dtype == bool and got["a"].dtype == np.int64
    expected = [(a, b, c) for a in (1, 2, 3) for b in (False, True) for c in (-1, 0)]
    assert rows(got) == expected


def test_domain_none_when_too_big() -> None:
    assert domain(make([{"name": "x", "range": [0, 2**11]}, {"name": "y", "range": [0, 2**10]}])) is None
    assert len(domain(ONE_HOT)["x"]) == 113 * 113


@pytest.mark.parametrize("s", [RAW, ONE_HOT, BITS], ids=["raw", "one_hot", "bits"])
def test_sample_reproducible_distinct_and_covers_boundaries(s) -> None:
    a, b = sample(s, 300, seed=4), sample(s, 300, seed=4)
    assert list(a) == list(s.input_names)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len(set(rows(a))) == len(rows(a)) == 300
    for inp in s.inputs:
        values = set(a[inp.name].tolist())
        assert values >= {v for v in (inp.lo, inp.hi, 0, 1, -1) if inp.lo <= v <= inp.hi}
        assert all(inp.lo <= v <= inp.hi for v in values)
    other = sample(s, 300, seed=5)
    assert rows(other) != rows(a)


def test_sample_boundary_combinations_and_spread() -> None:
    got = set(rows(sample(RAW, 1000, seed=0)))
    corners = {(x, y) for x in (-50, -1, 0, 1, 50) for y in (-3, -1, 0, 1, 1000)}
    assert corners <= got
    ys = np.array([y for _, y in got])
    # stratified: every tenth of y's range is hit
    assert len(set(((ys + 3) * 10 // 1004).tolist())) == 10


def test_sample_small_domain_is_whole_domain() -> None:
    s = make([{"name": "x", "range": [0, 5]}, {"name": "y", "range": [0, 5]}])
    assert rows(sample(s, 1000)) == rows(domain(s))


@pytest.mark.parametrize("n", [0, 1, 3, 7])
def test_sample_tiny_n(n: int) -> None:
    got = sample(RAW, n, seed=0)
    assert len(set(rows(got))) == len(got["x"]) == n


def test_can_encode_beyond() -> None:
    assert can_encode_beyond(RAW)[0] is True
    ok, reason = can_encode_beyond(ONE_HOT)
    assert not ok and "x: one_hot has a column only for each value in [0, 112]" in reason
    ok, reason = can_encode_beyond(BITS)
    assert not ok and "bits of width 8 express [0, 255] only" in reason and "b: a bool" in reason
    assert can_encode_beyond(WIDE_BITS)[0] is True


def test_beyond_range_refuses_one_hot_with_reason() -> None:
    with pytest.raises(EncodingError, match="one_hot has a column only for each value in \\[0, 112\\]"):
        beyond_range(ONE_HOT, 10)


def test_beyond_range_raw() -> None:
    got = beyond_range(RAW, 500, seed=1)
    assert got["x"].tolist() == beyond_range(RAW, 500, seed=1)["x"].tolist()
    pts = rows(got)
    assert len(set(pts)) == len(pts) > 400
    assert all(not (-50 <= x <= 50 and -3 <= y <= 1000) for x, y in pts)
    assert min(got["x"]) < -50 and max(got["x"]) > 50 and min(got["y"]) < -3 and max(got["y"]) > 1000


def test_beyond_range_wide_bits_stays_encodable() -> None:
    got = beyond_range(WIDE_BITS, 200, seed=2)
    assert all(100 < x <= 1023 for x in got["x"].tolist())  # only x can leave its range
    assert all(0 <= y <= 9 for y in got["y"].tolist())
