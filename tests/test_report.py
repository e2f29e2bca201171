"""The typed report: programs through the Program protocol, one fidelity figure, a JSON round trip,
and the picture data the results page draws from.

Truths: numpy's own |x - y| and (x + y) % 16 on the whole domain, the exported Python run by
Python, the network queried directly through ONNX Runtime.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import netsynth
from dsl.program import Expression, Program
from netsynth.render import render
from netsynth.report import Report, Status
from oracle.sampling import domain
from synth.outcome import StopReason

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def abs_report() -> Report:
    return netsynth.extract(EXAMPLES / "abs_diff" / "model.onnx", EXAMPLES / "abs_diff" / "spec.json",
                            workers=1, timeout=60)


@pytest.fixture(scope="module")
def noisy_report() -> Report:
    return netsynth.extract(EXAMPLES / "noisy_add" / "model.onnx", EXAMPLES / "noisy_add" / "spec.json",
                            workers=1, timeout=60, min_agreement=0.97)


def test_the_program_is_a_program_that_computes_the_truth(abs_report: Report) -> None:
    program = abs_report.program
    assert isinstance(program, Program) and isinstance(program, Expression)
    assert abs_report.status is Status.SOLVED and abs_report.stop_reason is StopReason.SOLVED
    cols = domain(abs_report.spec)
    truth = np.abs(cols["x"] - cols["y"])
    assert np.array_equal(program.evaluate(cols).values, truth)
    namespace: dict = {}
    exec(compile(program.to_python(), "f.py", "exec"), namespace)
    assert [namespace["f"](int(a), int(b)) for a, b in zip(cols["x"], cols["y"])] == truth.tolist()
    assert abs_report.python == program.to_python() and abs_report.text == program.show()
    assert program.size == abs_report.verification.size.program_nodes


def test_fidelity_is_one_figure(noisy_report: Report) -> None:
    """The report's fidelity is the verification's: one point set, one count."""
    assert noisy_report.fidelity is noisy_report.verification.fidelity
    cols = domain(noisy_report.spec)
    import oracle

    net = oracle.load(EXAMPLES / "noisy_add" / "spec.json")
    wrong = int((noisy_report.program.evaluate(cols).values != net.query(cols)).sum())
    d = noisy_report.to_dict()
    assert d["fidelity"]["total"] - d["fidelity"]["agree"] == wrong == 5
    assert d["verification"]["fidelity"] == d["fidelity"]


def test_json_round_trip(abs_report: Report, noisy_report: Report) -> None:
    for report in (abs_report, noisy_report):
        data = json.loads(json.dumps(report.to_dict()))
        again = Report.from_dict(data)
        assert again.program == report.program and again.status is report.status
        assert json.loads(json.dumps(again.to_dict())) == data
        assert render(data) == report.render() == str(report)


def test_the_comparison_is_the_network_and_the_program_on_a_grid(noisy_report: Report) -> None:
    import oracle

    c = noisy_report.comparison
    assert c.names == ("x", "y") and c.network.shape == (16, 16)
    net = oracle.load(EXAMPLES / "noisy_add" / "spec.json")
    x, y = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    assert np.array_equal(c.network, net.query({"x": x.ravel(), "y": y.ravel()}).reshape(16, 16))
    assert np.array_equal(c.program, (x + y) % 16)
    assert np.array_equal(c.wrong, c.network != (x + y) % 16) and int(c.wrong.sum()) == 5


def test_a_share_short_of_one_never_prints_as_100_percent() -> None:
    from netsynth.render import percent

    assert percent(0.99995) == "99.995%" and percent(1.0) == "100.00%"
    assert percent(1 - 1e-6) == "99.9999%"
    assert percent(2e-6) == "0.0002%" and percent(0.0) == "0.00%"
    assert percent(0.98046) == "98.05%"


def test_the_text_says_whether_the_network_follows_the_program_beyond_its_range() -> None:
    from netsynth.wording import follows as _follows

    measured = {"network_follows_program_beyond_range": 0.5, "network_follows_points": 1800,
                "network_departs_from_program_at": [{"inputs": {"x": 40}, "network": 3,
                                                     "program": 4}],
                "network_follows_note": None}
    assert _follows(measured) == ("the network computes the program on 50.00% of 1,800 inputs "
                                  "beyond its training range; it departs at x=40 (network 3, "
                                  "program 4)")
    unmeasured = {"network_follows_program_beyond_range": None,
                  "network_follows_note": "x: one_hot has a column only for each value in [0, 15]"}
    assert _follows(unmeasured) == ("not measured: x: one_hot has a column only for each value "
                                    "in [0, 15]")


def test_a_rules_disagreements_are_told_by_boundary_not_by_class_index_distance() -> None:
    from netsynth.render import _errors
    from netsynth.wording import regions_text as _regions_text

    regions = {"disagreements": 4, "points": 100_000, "away_from_boundaries": 1,
               "by_boundary": [{"boundary": "loss > 0.02", "disagreements": 3,
                                "band_percent_of_range": 0.0262},
                               {"boundary": "x > 1", "disagreements": 0,
                                "band_percent_of_range": 0.0}]}
    f = {"agree": 99_996, "total": 100_000,
         "errors": {"mean_abs_error": 5e-5, "max_abs_error": 2, "regions": regions}}
    assert _errors(f) == ""
    assert _regions_text(regions) == ["near loss > 0.02: 3, within 0.0262% of the range",
                                      "away from every boundary: 1"]


def test_listed_points_are_called_differences_only_when_they_differ(noisy_report: Report) -> None:
    """A formula within its tolerance everywhere lists its largest errors, not "differs at"."""
    pendulum = netsynth.extract(EXAMPLES / "real_pendulum" / "model.onnx",
                                EXAMPLES / "real_pendulum" / "spec.json", workers=1, timeout=120)
    f = pendulum.to_dict()["fidelity"]
    listed = [ln for ln in render(pendulum.to_dict()).splitlines() if ln.startswith("  ") and
              ": network " in ln]
    assert f["agree"] == f["total"] and f["disagreements"]        # the law, within tolerance
    assert len(listed) == min(5, len(f["disagreements"]))
    assert all(ln.strip().startswith("largest error at") for ln in listed)
    noisy = [ln.strip() for ln in render(noisy_report.to_dict()).splitlines()
             if ": network " in ln]
    assert len(noisy) == 5 and all(ln.startswith("differs at") for ln in noisy)
