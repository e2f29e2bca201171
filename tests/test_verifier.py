"""Unit tests of verifier/: no model, no ONNX Runtime. Truths are computed independently in plain
Python (lambdas written out by hand), never with the code under test."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from dsl import BOOL, INT, get_dsl
from dsl.errors import DSLError
from oracle.spec import load_spec
from verifier import Verdict, check
from verifier.equivalence import prove
from verifier.fidelity import compare, wilson_lower
from verifier.generalisation import search
from verifier.speed import compare_speed

DSL_ = get_dsl("int")
X = {"x": INT}
XY = {"x": INT, "y": INT}
MOD_RANGES = {"x": (0, 112), "y": (0, 112)}


def p(text, variables=XY):
    return DSL_.parse(text, variables)


# ---- Z3 equivalence ------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, variables, ranges", [
    ("x & (x - 1)", "x - (x & -x)", X, {"x": (0, 255)}),
    ("x + y - 113 if x + y >= 113 else x + y", "(x + y) % 113", XY, MOD_RANGES),
    ("abs(x - y)", "x - y if x > y else y - x", XY, {"x": (-1000, 1000), "y": (-1000, 1000)}),
    ("x // 8", "x >> 3", X, {"x": (-10**6, 10**6)}),
    ("x if b else y", "y if not b else x", {"x": INT, "y": INT, "b": BOOL},
     {"x": (0, 9), "y": (0, 9), "b": (0, 1)}),
])
def test_z3_proves_known_equivalences(a, b, variables, ranges):
    result = prove(p(a, variables), p(b, variables), variables=variables, ranges=ranges)
    assert result.verdict is Verdict.EQUIVALENT
    assert result.counterexample is None and result.reason is None


@pytest.mark.parametrize("a, b, truth_a, truth_b, variables, ranges", [
    # equal except where x + y >= 200 (a corner of the square)
    ("x + y if x + y < 200 else 0", "x + y",
     lambda x, y: x + y if x + y < 200 else 0, lambda x, y: x + y, XY, MOD_RANGES),
    # off by one in the wrap-around test: wrong only on the anti-diagonal x + y == 113
    ("x + y - 113 if x + y > 113 else x + y", "(x + y) % 113",
     lambda x, y: x + y - 113 if x + y > 113 else x + y, lambda x, y: (x + y) % 113,
     XY, MOD_RANGES),
    # clearing the lowest set bit, except for x == 0 where x - 1 borrows: wrong at x == 0 only
    ("x & (x - 1)", "x - (x & -x) if x > 0 else 1",
     lambda x: x & (x - 1), lambda x: x - (x & -x) if x > 0 else 1, X, {"x": (0, 255)}),
    # the bool is free: the two differ only when b is False and x != y
    ("x if b else y", "x", lambda x, y, b: x if b else y, lambda x, y, b: x,
     {"x": INT, "y": INT, "b": BOOL}, {"x": (0, 9), "y": (0, 9), "b": (0, 1)}),
])
def test_z3_finds_real_counterexamples_to_near_misses(a, b, truth_a, truth_b, variables, ranges):
    result = prove(p(a, variables), p(b, variables), variables=variables, ranges=ranges)
    assert result.verdict is Verdict.COUNTEREXAMPLE
    cex = result.counterexample
    inputs = dict(cex.inputs)
    assert list(inputs) == list(variables)
    for name, (lo, hi) in ranges.items():
        if variables[name] == INT:
            assert lo <= inputs[name] <= hi
    assert truth_a(**inputs) == cex.program
    assert truth_b(**inputs) == cex.reference
    assert cex.program != cex.reference
    assert json.loads(json.dumps(cex.to_dict()))["inputs"] == inputs


def test_counterexample_on_a_single_point_is_that_point():
    result = prove(p("x + y - 113 if x + y > 113 else x + y"), p("(x + y) % 113"),
                   variables=XY, ranges=MOD_RANGES)
    x, y = (v for _, v in result.counterexample.inputs)
    assert x + y == 113  # the only points where the two differ, found by enumeration:
    assert {(a, b) for a, b in itertools.product(range(113), repeat=2)
            if (a + b - 113 if a + b > 113 else a + b) != (a + b) % 113} == \
        {(a, 113 - a) for a in range(1, 113)}


def test_a_hard_query_with_a_tiny_time_limit_is_unknown_not_yes():
    wide = {"x": (-2**30, 2**30), "y": (-2**30, 2**30)}
    result = prove(p("(x * y) // y if y != 0 else x"), p("x"), variables=XY, ranges=wide,
                   timeout_ms=1)
    assert result.verdict is Verdict.UNKNOWN
    assert isinstance(result.reason, str) and result.reason
    assert result.counterexample is None


def test_too_wide_bit_vectors_are_unknown_with_the_reason():
    result = prove(p("x << y"), p("x * (1 << y)"), variables=XY,
                   ranges={"x": (1, 3), "y": (0, 10_000)})
    assert result.verdict is Verdict.UNKNOWN
    assert "bit" in result.reason


def test_no_reference_and_mismatched_types():
    assert prove(p("x"), None, variables=XY, ranges=MOD_RANGES).verdict is Verdict.NO_REFERENCE
    with pytest.raises(DSLError, match="type"):
        prove(p("x < y"), p("x"), variables=XY, ranges=MOD_RANGES)


# ---- generalisation beyond the range --------------------------------------------------------------

def test_hypothesis_finds_a_small_real_failure_beyond_the_range():
    program = p("x + y - 113 if x + y >= 113 else x + y")
    result = search(program, p("(x + y) % 113"), variables=XY, ranges=MOD_RANGES, examples=300)
    assert not result.holds
    assert result.checked >= 1
    inputs = dict(result.counterexample.inputs)
    x, y = inputs["x"], inputs["y"]
    assert not (0 <= x <= 112 and 0 <= y <= 112)
    assert abs(x) + abs(y) <= 230  # shrunk: the nearest failures are x + y == -1 or 226
    truth = x + y - 113 if x + y >= 113 else x + y
    assert truth != (x + y) % 113
    assert (result.counterexample.program, result.counterexample.reference) == (truth, (x + y) % 113)


def test_generalisation_holds_for_a_real_identity_and_counts_examples():
    result = search(p("x - (x & -x)"), p("x & (x - 1)"), variables=X, ranges={"x": (0, 255)},
                    examples=200)
    assert result.holds and result.counterexample is None
    assert result.checked == 200


def test_generalisation_search_follows_its_seed():
    """The same seed draws the same inputs; other seeds draw others (runs are deterministic)."""
    program, reference = p("x % 7"), p("x % 7 if x < 1000 else x % 5")   # differ on rare x
    runs = {seed: search(program, reference, variables=X, ranges={"x": (0, 255)}, examples=40,
                         seed=seed) for seed in range(6)}
    again = search(program, reference, variables=X, ranges={"x": (0, 255)}, examples=40, seed=3)
    assert (again.checked, again.counterexample) == (runs[3].checked, runs[3].counterexample)
    assert len({(r.checked, r.holds) for r in runs.values()}) > 1


def test_generalisation_respects_bool_inputs():
    variables = {"x": INT, "b": BOOL}
    result = search(p("x if b else -x", variables), p("x if b else abs(x)", variables),
                    variables=variables, ranges={"x": (0, 50), "b": (0, 1)}, examples=200)
    assert not result.holds
    inputs = dict(result.counterexample.inputs)
    assert inputs["b"] is False and not 0 <= inputs["x"] <= 50  # -x != abs(x) needs x != 0
    assert -inputs["x"] != abs(inputs["x"])


# ---- fidelity --------------------------------------------------------------------------------------

def test_fidelity_lists_exactly_the_disagreements():
    xs, ys = map(np.ravel, np.meshgrid(np.arange(10), np.arange(10), indexing="ij"))
    network = np.array([(a + b) % 10 if (a * b) % 7 else a for a, b in zip(xs, ys)])
    result = compare(p("(x + y) % 10"), {"x": xs, "y": ys}, network, exhaustive=True,
                     max_disagreements=1000)
    expected = [((int(a), int(b)), int(n), (int(a) + int(b)) % 10)
                for a, b, n in zip(xs, ys, network) if (a + b) % 10 != n]
    got = [((d.inputs[0][1], d.inputs[1][1]), d.network, d.program) for d in result.disagreements]
    assert got == expected
    assert result.agree == 100 - len(expected) and result.total == 100
    assert result.wilson_low == result.agreement == result.agree / 100
    short = compare(p("(x + y) % 10"), {"x": xs, "y": ys}, network, exhaustive=True,
                    max_disagreements=3)
    assert [d.inputs for d in short.disagreements] == [d.inputs for d in result.disagreements[:3]]


def test_overflow_counts_as_disagreement_even_when_the_wrapped_value_matches():
    xs = np.array([3, 2**40], dtype=np.int64)
    with np.errstate(over="ignore"):
        wrapped = xs * xs * xs  # what int64 arithmetic gives: wrong for 2**40
    result = compare(p("x * x * x", X), {"x": xs}, wrapped, exhaustive=True)
    assert result.agree == 1
    (d,) = result.disagreements
    assert d.overflow and d.program is None and dict(d.inputs) == {"x": 2**40}
    assert result.to_dict()["disagreements"][0]["overflow"] is True


def test_wilson_lower_bound_matches_closed_forms():
    z2 = 1.959963984540054 ** 2
    assert wilson_lower(10, 10) == pytest.approx(10 / (10 + z2))  # p = 1: n / (n + z^2)
    assert wilson_lower(0, 50) == 0.0
    assert 0.0 < wilson_lower(90, 100) < 0.9


# ---- speed -----------------------------------------------------------------------------------------

def test_speed_report_is_positive_and_its_ratios_are_the_time_ratios():
    xs = np.arange(1000, dtype=np.int64)
    weights = np.ones((1, 64), np.float32)
    result = compare_speed(p("x * 3 + 1", X), {"x": xs},
                           lambda: np.tanh(xs[:, None].astype(np.float32) @ weights), repeats=3)
    d = result.to_dict()
    assert all(v > 0 for v in d.values())
    assert d["speedup"] == pytest.approx(d["network_us_per_query"] / d["program_us_per_query"])
    assert d["python_speedup"] == pytest.approx(d["network_us_per_query"] / d["python_us_per_query"])


# ---- check() on a stand-in oracle -------------------------------------------------------------------

class FunctionOracle:
    """A network stand-in: the spec plus a numpy function; run_raw decodes nothing."""

    def __init__(self, spec, fn):
        self.spec, self.fn = spec, fn
        self.parameter_count, self.model_bytes = 7, None

    def query(self, columns):
        return self.fn(*(np.asarray(columns[n]) for n in self.spec.input_names))

    def run_raw(self, x):
        return np.tanh(x)


RAW_SPEC = {"name": "max", "inputs": [
    {"name": "x", "type": "int", "range": [-20, 20], "encoding": "raw"},
    {"name": "y", "type": "int", "range": [-20, 20], "encoding": "raw"}],
    "output": {"type": "int", "range": [-20, 20], "decoding": "round"}, "reference": "max(x, y)"}


def test_check_assembles_the_report_schema():
    spec = load_spec(RAW_SPEC)
    oracle = FunctionOracle(spec, lambda x, y: np.clip(np.maximum(x, y), -20, 20))
    result = check("x if x >= y else y", oracle, hypothesis_examples=100, timeout_ms=5000)
    d = json.loads(json.dumps(result.to_dict()))
    assert set(d) == {"fidelity", "reference", "counterexample", "reference_reason",
                      "generalisation", "speed", "size", "holds"}
    assert set(d["fidelity"]) == {"agree", "total", "exhaustive", "agreement", "wilson_low",
                                  "disagreements", "errors"}
    assert d["fidelity"]["errors"] == {"metric": "exact", "mean_abs_error": 0.0,
                                       "max_abs_error": 0, "untrusted": 0}
    assert set(d["generalisation"]) == {"checked", "holds", "counterexample", "note",
                                        "network_agreement_beyond_range",
                                        "network_beyond_range_note",
                                        "network_follows_program_beyond_range",
                                        "network_follows_points",
                                        "network_departs_from_program_at",
                                        "network_follows_note"}
    assert set(d["speed"]) == {"network_us_per_query", "program_us_per_query",
                               "python_us_per_query", "speedup", "python_speedup"}
    assert d["fidelity"]["total"] == 41 * 41 and d["fidelity"]["agreement"] == 1.0
    assert d["reference"] == "equivalent" and d["holds"] is True
    assert d["generalisation"]["holds"] is True
    # the stand-in clips at +-20, so beyond the range it disagrees with max(x, y) somewhere
    assert 0.0 < d["generalisation"]["network_agreement_beyond_range"] < 1.0
    assert d["size"] == {"program_nodes": 6, "program_chars": len(
        "def f(x, y):\n    return x if x >= y else y\n"), "network_parameters": 7,
        "network_bytes": None}


def test_check_without_reference_and_with_a_wrong_program():
    spec = load_spec({k: v for k, v in RAW_SPEC.items() if k != "reference"})
    oracle = FunctionOracle(spec, lambda x, y: np.maximum(x, y))
    d = check("max(x, y)", oracle, hypothesis_examples=10).to_dict()
    assert d["reference"] == "none" and d["counterexample"] is None
    assert d["generalisation"]["holds"] is None
    assert d["generalisation"]["network_beyond_range_note"]
    wrong = check("x", oracle, reference="max(x, y)", hypothesis_examples=10,
                  min_agreement=0.5).to_dict()
    assert wrong["reference"] == "counterexample" and wrong["holds"] is False
    cex = wrong["counterexample"]
    assert cex["program"] == cex["inputs"]["x"] != max(cex["inputs"].values()) == cex["reference"]
    # agreement: x == max(x, y) exactly when x >= y
    agree = sum(1 for a in range(-20, 21) for b in range(-20, 21) if a >= b)
    assert wrong["fidelity"]["agree"] == agree


# ---- Z3 verdicts agree with enumeration on random programs ----------------------------------------

def _programs():
    from hypothesis import strategies as st

    leaves = st.sampled_from(["x", "y", "0", "1", "2", "3", "-1", "5"])
    binary = ["+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>"]
    comparisons = ["<", "<=", "==", "!="]

    def grow(children):
        return st.one_of(
            st.tuples(children, st.sampled_from(binary), children).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(["min", "max"]), children, children).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]})"),
            children.map(lambda a: f"abs({a})"),
            st.tuples(children, children, st.sampled_from(comparisons), children, children).map(
                lambda t: f"({t[0]} if {t[1]} {t[2]} {t[3]} else {t[4]})"))

    return st.recursive(leaves, grow, max_leaves=6)


def test_z3_verdicts_agree_with_enumeration_on_random_programs():
    from hypothesis import given, settings

    from dsl import compile_python

    ranges = {"x": (-6, 6), "y": (-3, 5)}
    points = list(itertools.product(range(-6, 7), range(-3, 6)))

    from hypothesis import strategies as st

    rewrites = [  # equal everywhere, and near misses that differ on a single line of points
        "({0}) + 0", "-(-({0}))", "(({0}) ^ y) ^ y", "max({0}, {0})", "({0}) if x == x else 9",
        "({0}) if x != 3 else ({0}) + 1", "({0}) if y < 5 else ({0}) * 2"]
    pairs = st.one_of(st.tuples(_programs(), _programs()),
                      st.tuples(_programs(), st.sampled_from(rewrites)).map(
                          lambda t: (t[0], t[1].format(t[0]))))

    @settings(max_examples=150, deadline=None, database=None, derandomize=True)
    @given(pairs)
    def agree(pair):
        a, b = pair
        pa, pb = p(a), p(b)
        f, g = compile_python(pa, ["x", "y"]), compile_python(pb, ["x", "y"])
        differing = [pt for pt in points if f(*pt) != g(*pt)]
        result = prove(pa, pb, variables=XY, ranges=ranges, timeout_ms=20_000)
        assert result.verdict is not Verdict.UNKNOWN, result.reason
        counts[bool(differing)] += 1
        if differing:
            assert result.verdict is Verdict.COUNTEREXAMPLE
            inputs = dict(result.counterexample.inputs)
            assert (inputs["x"], inputs["y"]) in differing
        else:
            assert result.verdict is Verdict.EQUIVALENT

    counts = {False: 0, True: 0}
    agree()
    assert counts[False] >= 10 and counts[True] >= 10  # both verdicts really exercised


def test_check_refuses_a_program_of_the_wrong_type():
    oracle = FunctionOracle(load_spec(RAW_SPEC), lambda x, y: np.maximum(x, y))
    with pytest.raises(DSLError, match="output is int"):
        check("x < y", oracle)


def test_a_whole_width_bit_vector_function_has_no_beyond_and_a_narrower_one_has(tmp_path) -> None:
    """hd08 (a bv8 network on every byte): no input lies outside the range, so nothing is compared
    there (Hypothesis on ints that are no byte once called hd08's right program wrong); on half the
    bytes the same program is compared beyond the range, with the reference, and holds."""
    import oracle
    from pathlib import Path

    from verifier.verify import Verification

    folder = Path(__file__).resolve().parents[1] / "bench" / "hackers_delight" / "hd08"
    whole = check("~(x | -x)", oracle.load(folder / "spec.json"), hypothesis_examples=100)
    assert whole.generalisation is None and "every 8-bit value" in whole.beyond_note
    assert whole.equivalence.verdict is Verdict.EQUIVALENT and whole.holds
    data = whole.to_dict()
    assert Verification.from_dict(data).beyond_note == whole.beyond_note
    spec = json.loads((folder / "spec.json").read_text())
    spec["inputs"][0]["range"] = [0, 127]
    spec["output"]["range"] = [0, 255]
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    (tmp_path / "model.onnx").write_bytes((folder / "model.onnx").read_bytes())
    half = check("~(x | -x)", oracle.load(tmp_path / "spec.json"), hypothesis_examples=100)
    assert half.beyond_note is None and half.generalisation is not None
    assert half.generalisation.checked > 0 and half.generalisation.holds
