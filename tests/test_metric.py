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


# ---- a real network's metric, calibrated to its measured error (issue 16) ----------------------

def _smooth_error(X: np.ndarray, level: float, seed: int) -> np.ndarray:
    """An error of RMS `level` that varies smoothly over the box (as a trained network's does):
    a sum of random sinusoids, scaled to that RMS."""
    rng = np.random.default_rng(seed)
    e = sum(np.sin(X @ rng.normal(0, 12, X.shape[1]) + rng.uniform(0, 6.3)) for _ in range(8))
    return level * e / np.sqrt(np.mean(e ** 2))


def _spec(tolerance=None):
    from types import SimpleNamespace

    from dsl.types import REAL
    return SimpleNamespace(output=SimpleNamespace(type=REAL, tolerance=tolerance))


LAW = lambda X: X[:, 0] * X[:, 1] ** 2 / (4 * np.pi)  # noqa: E731


@pytest.mark.parametrize("level", [3e-4, 1e-3, 2e-3])
def test_network_error_measures_a_planted_error(level: float) -> None:
    from oracle.metric import network_error, spread

    X = np.random.default_rng(1).uniform(1, 3, (2000, 2))
    y = LAW(X)
    noisy = y + _smooth_error(X, level, 2) * spread(y)
    got = network_error(X, noisy)
    assert level / 2 <= got <= max(2 * level, 3e-4) + 1e-12
    assert network_error(X, y) == 3e-4          # no error: the floor


def test_calibrated_metric_accepts_the_law_and_refuses_a_constant_one_percent_off() -> None:
    from oracle.metric import NOISE_MULTIPLE, Tolerance, calibrated, network_error, spread

    X = np.random.default_rng(3).uniform(1, 3, (20000, 2))
    y = LAW(X)
    network = y + _smooth_error(X, 1e-3, 4) * spread(y)
    metric = calibrated(_spec(), X, network)
    assert metric.noise == pytest.approx(network_error(X[:2000], network[:2000]))
    assert metric.abs_tol == pytest.approx(NOISE_MULTIPLE * metric.noise * spread(network[:2000]))
    assert metric.summary(y, network)["network_error"] == metric.noise
    assert metric.agree(y, network).mean() == 1.0                 # the exact law
    assert metric.agree(1.01 * y, network).mean() < 0.9           # a constant 1 % off
    assert Tolerance().agree(y, network).mean() < 0.99            # the uncalibrated default
    # a tolerance the spec states is kept as it is
    assert calibrated(_spec((1e-9, 1e-6)), X, network) == Tolerance(abs_tol=1e-9, rel_tol=1e-6)


def test_network_error_refuses_mismatched_shapes() -> None:
    from oracle.metric import network_error

    with pytest.raises(ValueError, match=r"X: expected \(n, k\) points"):
        network_error(np.zeros((10, 2)), np.zeros(9))
