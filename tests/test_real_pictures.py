"""A real formula's pictures (issue 16, item 5): the network against the formula along each input,
past the training range, and the residuals on the training box.

The network is the bundled pendulum MLP (examples/real_pendulum, a real ONNX Runtime session);
the truths are computed here: the law 2 pi sqrt(L / g) in numpy, the slices' reach from the
training ranges (one range-width each side, a positive range kept positive), the points where a
formula is undefined from the sampler's own points. The notebook path runs a real search
(`netsynth.extract`), whose report must carry the pictures' data through its JSON form.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netsynth
import oracle
from dsl.program import Expression
from netsynth import pictures
from netsynth.report import Report
from netsynth.slices import POINTS, SAMPLE, Slices
from oracle import sampling
from oracle.spec import load_spec

PENDULUM = Path(__file__).resolve().parents[1] / "examples" / "real_pendulum"
ABS_TOL, REL_TOL = 0.01, 1e-3


def law(L: np.ndarray, g: np.ndarray) -> np.ndarray:
    return 2 * np.pi * np.sqrt(L / g)


@pytest.fixture(scope="module")
def pendulum():
    spec = load_spec(PENDULUM / "spec.json")
    return spec, oracle.load(spec)


def measured(pendulum, text: str) -> Slices:
    spec, net = pendulum
    program = Expression.parse(text, spec.variables(), dsl=spec.dsl)
    return Slices.measure(program, net, abs_tol=ABS_TOL, rel_tol=REL_TOL)


@pytest.mark.integration
def test_slices_sweep_each_input_past_its_range_with_the_others_held(pendulum) -> None:
    s = measured(pendulum, "2 * pi * sqrt(L / g)")
    assert s.names == ("L", "g") and s.box == ((0.5, 2.0), (5.0, 15.0))
    assert s.held == pytest.approx((0.5 + 0.6 * 1.5, 5 + 0.6 * 10))      # 60% across each range
    for (lo, hi), xs in zip(s.box, s.axes):
        # one range-width each side; both ranges are positive, so the lower end stops at lo / 2
        assert len(xs) == POINTS
        assert xs[0] == pytest.approx(lo / 2) and xs[-1] == pytest.approx(hi + (hi - lo))
    L, g = s.axes
    assert np.allclose(s.formula[0], law(L, 11.0), rtol=1e-12)          # g held at 11
    assert np.allclose(s.formula[1], law(1.4, g), rtol=1e-12)           # L held at 1.4
    for k in range(2):
        # the network follows the law inside its training ranges, within the tolerance
        inside = s.inside(k)
        truth = s.formula[k][inside]
        assert np.all(np.abs(s.network[k][inside] - truth) <= ABS_TOL + REL_TOL * np.abs(truth))
    assert len(s.sample_network) == SAMPLE


@pytest.mark.integration
def test_the_json_form_keeps_undefined_points_as_null(pendulum) -> None:
    spec, _ = pendulum
    s = measured(pendulum, "2 * pi * sqrt(L - 1) / sqrt(g)")              # undefined for L < 1
    data = json.loads(json.dumps(s.to_dict(), allow_nan=False))           # strict JSON
    assert data["kind"] == "slices"
    back = Slices.from_dict(data)
    L = s.axes[0]
    assert np.array_equal(np.isnan(back.formula[0]), L < 1)
    assert np.allclose(back.formula[0][L >= 1], 2 * np.pi * np.sqrt(L[L >= 1] - 1) / np.sqrt(11.0))
    points = sampling.sample(spec, SAMPLE, seed=0)                        # the residual points
    assert np.array_equal(np.isnan(back.sample_formula), points["L"] < 1)
    for a, b in zip(s.network + s.axes, back.network + back.axes):
        assert np.array_equal(a, b)
    assert back.held == s.held and back.box == s.box
    drawn = {p.kind: p for p in pictures.pictures({"comparison": data})}
    assert f"the formula is undefined at {int((points['L'] < 1).sum())}" in drawn["residuals"].alt


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
                min_size=1, max_size=30))
def test_values_round_trip_through_json(values: list) -> None:
    from netsynth.slices import _array, _json

    a = _array(values)
    assert _json(a) == values
    assert np.array_equal(_array(json.loads(json.dumps(_json(a)))), a, equal_nan=True)


@pytest.mark.integration
def test_the_pictures_say_where_the_network_leaves_the_formula(pendulum) -> None:
    import matplotlib.image

    s = measured(pendulum, "2 * pi * sqrt(L / g)")
    drawn = {p.kind: p for p in pictures.pictures({"comparison": s.to_dict()})}
    assert set(drawn) == {"slices", "residuals"}
    slices, residuals = drawn["slices"], drawn["residuals"]
    for p in drawn.values():
        image = matplotlib.image.imread(io.BytesIO(p.png), format="png")
        assert image.shape[:2] == (p.height * pictures.SCALE, p.width * pictures.SCALE)
        assert image[..., :3].std() > 0.05
    assert slices.legend == ("network", "formula", "training range")
    assert "L from 0.25 to 3.5 (trained on 0.5 to 2); g from 2.5 to 25 (trained on 5 to 15)" in slices.alt
    # the largest gaps, in tolerances, computed here from the slices' own values
    gaps = []
    for where in (True, False):
        worst = 0.0
        for k in range(2):
            m = s.inside(k) == where
            n, f = s.network[k][m], s.formula[k][m]
            worst = max(worst, float(np.max(np.abs(f - n) / (ABS_TOL + REL_TOL * np.abs(n)))))
        gaps.append(worst)
    m = re.search(r"at most ([\d.e+-]+) times the tolerance; beyond them, by up to ([\d,.e+-]+) "
                  r"times", slices.alt)
    inner, outer = float(m.group(1)), float(m.group(2).replace(",", ""))
    assert inner == pytest.approx(gaps[0], rel=0.06) and inner < 1       # it follows inside
    assert outer == pytest.approx(gaps[1], rel=0.06) and outer > 1       # and leaves it outside
    r = s.sample_formula - s.sample_network
    within = int(np.sum(np.abs(r) <= ABS_TOL + REL_TOL * np.abs(s.sample_network)))
    assert f"{within} of {SAMPLE} points lie within it" in residuals.alt
    assert residuals.legend[1] == f"within ({within} of {SAMPLE})"


@pytest.mark.integration
def test_a_real_report_carries_its_pictures_to_the_notebook() -> None:
    report = netsynth.extract(PENDULUM / "model.onnx", PENDULUM / "spec.json", workers=1,
                              timeout=60)
    assert isinstance(report.comparison, Slices)
    data = json.loads(json.dumps(report.to_dict()))
    again = Report.from_dict(data)
    assert isinstance(again.comparison, Slices)
    assert again.to_dict()["comparison"] == data["comparison"]
    html = again._repr_html_()
    assert "<h3>Network against formula</h3>" in html
    assert 'data-picture="slices"' in html and 'data-picture="residuals"' in html
    # the tolerance drawn is the one the verifier judged the formula by
    tol = data["fidelity"]["errors"]
    assert data["comparison"]["tolerance"] == {"abs_tol": tol["abs_tol"], "rel_tol": tol["rel_tol"]}
    # unverified, it is still the tolerance calibrated to the network's error (as the search's),
    # not the spec's default of 1e-6
    quick = netsynth.extract(PENDULUM / "model.onnx", PENDULUM / "spec.json", workers=1,
                             timeout=60, verify=False)
    drawn = quick.to_dict()["comparison"]["tolerance"]
    assert drawn["rel_tol"] == tol["rel_tol"]
    assert drawn["abs_tol"] == pytest.approx(tol["abs_tol"], rel=0.3) and drawn["abs_tol"] > 1e-4


class Figures(HTMLParser):
    """The `<figure data-picture=...>` elements of a page and the `src` of their images."""

    def __init__(self) -> None:
        super().__init__()
        self.kinds: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "figure" and "data-picture" in a:
            self.kinds.append(a["data-picture"])
        elif tag == "img":
            self.sources.append(a.get("src") or "")


@pytest.mark.integration
def test_netsynth_run_writes_the_report_as_a_page_with_its_pictures(tmp_path: Path) -> None:
    out = tmp_path / "pendulum.html"
    proc = subprocess.run([sys.executable, "-m", "netsynth.cli", "run", str(PENDULUM / "spec.json"),
                           "--workers", "1", "--no-progress", "--html", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.startswith("<!doctype html>") and "<title>real_pendulum: solved</title>" in text
    figures = Figures()
    figures.feed(text)
    assert figures.kinds[:2] == ["slices", "residuals"]
    for src in figures.sources:                   # inline PNGs, nothing fetched from elsewhere
        head, data = src.split(",", 1)
        assert head == "data:image/png;base64"
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in text and "https://" not in text


def test_the_front_plots_error_against_description_length() -> None:
    from netsynth import pictures_real

    rows = [{"formula": "a * t", "bits": 20.0, "relative_rmse": 0.3, "on_front": True, "chosen": False},
            {"formula": "a / (1 + t)", "bits": 31.5, "relative_rmse": 0.5, "on_front": False, "chosen": False},
            {"formula": "2.37 * a * exp(-0.61 * t)", "bits": 54.6, "relative_rmse": 2.9e-4,
             "on_front": True, "chosen": True}]
    fig = pictures_real.front(rows)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    front, dominated, star = (c.get_offsets() for c in ax.collections)
    assert np.allclose(front, [[20.0, 0.3], [54.6, 2.9e-4]])
    assert np.allclose(dominated, [[31.5, 0.5]]) and np.allclose(star, [[54.6, 2.9e-4]])
    (drawn,) = pictures.pictures({"family": "real", "extra": {"formulas": rows}})
    assert drawn.kind == "pareto"
    assert drawn.legend == ("on the front (2)", "dominated (1)", "chosen: 2.37 * a * exp(-0.61 * t)")
    assert "on the front: a * t (20 bits, 0.3); 2.37 * a * exp(-0.61 * t) (54.6 bits, 0.00029)" in drawn.alt


def hand_made(names: tuple[str, ...], network: list[np.ndarray], formula: list[np.ndarray],
              sample_network: np.ndarray, sample_formula: np.ndarray) -> Slices:
    """Slices over [0, 1] per input (the axes from -1 to 2), held at 0.6, tolerance 0.1 + 0."""
    axes = tuple(np.linspace(-1, 2, len(v)) for v in network)
    return Slices(names, tuple((0.0, 1.0) for _ in names), tuple(0.6 for _ in names), axes,
                  tuple(network), tuple(formula), sample_network, sample_formula, 0.1, 0.0)


def test_one_input_has_no_others_and_undefined_points_are_told_apart() -> None:
    x = np.linspace(-1, 2, 31)
    sample_network = np.array([0.0, 1.0, np.nan, 2.0])
    sample_formula = np.array([0.05, np.nan, 1.0, 2.5])
    s = hand_made(("x",), [x.copy()], [x + 0.05], sample_network, sample_formula)
    slices, residuals = pictures.pictures({"comparison": s.to_dict()})
    for text in (slices.alt, slices.caption):
        assert "other" not in text and "held" not in text
    # |formula - network| is 0.05 everywhere: half the tolerance, inside and beyond
    assert "differ by at most 0.5 times the tolerance; beyond them, by up to 0.5 times" in slices.caption
    # one point within (0.05), one outside (0.5); the formula undefined at one, the network at one
    assert "1 of 4 points lie within it" in residuals.alt
    assert "the formula is undefined at 1" in residuals.alt
    assert "the network gives no finite value at 1" in residuals.alt


def test_a_constant_slice_and_a_diverging_one_are_framed() -> None:
    from netsynth.pictures_real import slices as draw

    flat = np.full(31, 3.0)
    x = np.linspace(-1, 2, 31)
    blowup = 1 / (x - 1.45) ** 2                    # huge beyond the range, tame inside it
    s = hand_made(("a", "b"), [flat, blowup], [flat, blowup], flat[:4], flat[:4])
    fig = draw(s)
    (lo, hi), (lo2, hi2) = fig.axes[0].get_ylim(), fig.axes[1].get_ylim()
    assert lo < 3.0 < hi                            # a band around the constant
    inside = blowup[(x >= 0) & (x <= 1)]
    assert lo2 <= inside.min() and hi2 >= inside.max()
    assert hi2 < blowup.max()                       # the blow-up does not flatten the rest


def test_the_errors_table_is_named_for_a_tolerance() -> None:
    from netsynth.render import html

    listed = [{"inputs": {"x": float(i)}, "network": 1.0, "program": 1.2, "overflow": False}
              for i in range(20)]
    fidelity = {"agree": 19_990, "total": 20_000, "exhaustive": False, "agreement": 0.9995,
                "wilson_low": 0.999, "disagreements": listed,
                "errors": {"metric": "tolerance", "abs_tol": 0.1, "rel_tol": 0.0, "rmse": 0.01,
                           "max_abs_error": 0.2}}
    report = {"status": "approximate", "program": "x", "python": "", "fidelity": fidelity,
              "spec": {"name": "t", "inputs": [{"name": "x"}]}, "pareto": [],
              "search": {"seconds": 1.0, "candidates": 1, "distinct": 1, "rounds": 1,
                         "sample_size": 1, "workers": 1, "stop_detail": "time budget"},
              "stop_reason": "time budget"}
    page = html(report, figures={})
    assert "The largest errors (20 points; 10 of the 20,000 are outside the tolerance)" in page
    assert "Where they differ" not in page
    from netsynth.render import render

    listed_lines = [ln.strip() for ln in render(report).splitlines() if ": network 1.0" in ln]
    assert listed_lines and all(ln.startswith("largest error at") for ln in listed_lines)
