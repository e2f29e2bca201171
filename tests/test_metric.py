"""Metrics: exact agreement for int/bool outputs, a tolerance for reals (hand-computed truths)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from oracle.metric import Exact, Tolerance


def test_exact_is_equality_and_bad_points_never_agree() -> None:
    got = Exact().agree(np.array([1, 2, 3]), np.array([1, 5, 3]), np.array([False, False, True]))
    assert got.tolist() == [True, False, False]


def test_tolerance_by_hand() -> None:
    t = Tolerance(abs_tol=0.1, rel_tol=0.01)
    program = np.array([1.05, 100.5, 100.0, np.nan, np.inf, 0.0])
    network = np.array([1.0, 100.0, 102.0, 1.0, np.inf, 0.0])
    # |diff| <= 0.1 + 0.01 |n|: 0.05 <= 0.11; 0.5 <= 1.1; 2 > 1.12; NaN and inf never agree.
    assert t.agree(program, network).tolist() == [True, True, False, False, False, True]
    s = t.summary(program[:3], network[:3])
    assert s["max_abs_error"] == pytest.approx(2.0)
    assert s["rmse"] == pytest.approx(math.sqrt((0.05 ** 2 + 0.5 ** 2 + 4.0) / 3))
    assert s["max_rel_error"] == pytest.approx(max(0.05 / 1.0, 0.5 / 100.0, 2.0 / 102.0))


@pytest.mark.parametrize("bad", [{"abs_tol": -1}, {"rel_tol": float("nan")}, {"abs_tol": float("inf")}])
def test_tolerance_refuses_bad_bounds(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        Tolerance(**bad)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0, 1), st.floats(0, 1))
def test_tolerance_agrees_with_its_definition(values, abs_tol: float, rel_tol: float) -> None:
    network = np.array(values)
    program = network * 1.001 + 0.01
    got = Tolerance(abs_tol, rel_tol).agree(program, network)
    want = [abs(p - n) <= abs_tol + rel_tol * abs(n) for p, n in zip(program, network)]
    assert got.tolist() == want
