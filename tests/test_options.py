"""Search options: one object, validated once, the same messages from every door.

The truths: the table's documented bounds (synth/options.py), checked value by value; the CLI and
`netsynth.extract` must refuse exactly what `SearchOptions` refuses, with its message.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

import netsynth
from dsl.errors import SpecError
from synth.options import API_OPTIONS, BY_NAME, OPTIONS, SearchOptions

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "abs_diff" / "spec.json"

BAD = [
    ("timeout", 0, "timeout: expected a number of seconds"),
    ("timeout", float("nan"), "timeout: expected a number of seconds"),
    ("timeout", "10", "timeout: expected a number of seconds"),
    ("max_size", 0, "max_size: expected an integer in [1, 64]"),
    ("max_size", 65, "max_size: expected an integer in [1, 64]"),
    ("max_size", 2.5, "max_size: expected an integer in [1, 64]"),
    ("min_agreement", 1.5, "min_agreement: expected a number in (0, 1]"),
    ("min_agreement", 0, "min_agreement: expected a number in (0, 1]"),
    ("workers", 0, "workers: expected a positive integer"),
    ("workers", True, "workers: expected a positive integer"),
    ("max_candidates", -3, "max_candidates: expected a positive integer or None"),
    ("sample_size", 1 << 17, "sample_size: expected an integer in [1, 65536]"),
    ("seed", -1, "seed: expected an integer in [0, 4294967295]"),
    ("conditionals", "yes", "conditionals: expected true or false"),
    ("memory_bytes", 10, "memory_bytes: expected an integer >= 1048576"),
]


def test_every_field_has_one_row_and_the_rows_are_the_fields() -> None:
    assert [o.name for o in OPTIONS] == [f.name for f in dataclasses.fields(SearchOptions)]
    assert "ray_address" not in API_OPTIONS and "memory_bytes" not in API_OPTIONS
    assert {"timeout", "max_size", "min_agreement", "workers"} <= set(API_OPTIONS)


@pytest.mark.parametrize("name, value, message", BAD)
def test_bad_values_are_refused_on_construction(name: str, value, message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("(", r"\(")):
        SearchOptions(**{name: value})


def test_text_values_are_read_by_the_rows() -> None:
    got = SearchOptions.from_mapping({"timeout": "2.5", "max_size": "7", "conditionals": "false",
                                      "max_candidates": "none", "min_agreement": "0.9"})
    assert (got.timeout, got.max_size, got.conditionals, got.max_candidates, got.min_agreement) == \
        (2.5, 7, False, None, 0.9)
    with pytest.raises(SpecError, match="max_size: expected an integer, got 'seven'"):
        SearchOptions.from_mapping({"max_size": "seven"})


def test_unknown_options_are_named() -> None:
    with pytest.raises(SpecError, match="unknown option 'max_sise'; expected some of"):
        SearchOptions.from_mapping({"max_sise": 3})
    with pytest.raises(SpecError, match="unknown option 'ray_address'"):
        SearchOptions.from_mapping({"ray_address": "x:1"}, allowed=API_OPTIONS)


@given(st.integers(1, 64), st.floats(0.01, 1.0), st.integers(0, 2**32 - 1))
def test_valid_values_round_trip_through_text(size: int, agreement: float, seed: int) -> None:
    typed = SearchOptions(max_size=size, min_agreement=agreement, seed=seed)
    text = {k: repr(v) for k, v in typed.to_dict().items() if k in ("max_size", "min_agreement", "seed")}
    assert SearchOptions.from_mapping(text) == typed


@pytest.mark.parametrize("name, value, message", [b for b in BAD if b[0] in API_OPTIONS and not isinstance(b[1], (bool, str))])
def test_extract_refuses_what_the_options_refuse(name: str, value, message: str) -> None:
    with pytest.raises(SpecError, match=message.split(":")[0]):
        netsynth.extract(ROOT / "examples" / "abs_diff" / "model.onnx", SPEC, **{name: value})
    with pytest.raises(SpecError, match="unknown option 'max_sise'"):
        netsynth.extract(ROOT / "examples" / "abs_diff" / "model.onnx", SPEC, max_sise=3)


@pytest.mark.parametrize("flag, value, message", [
    ("--max-size", "65", "expected an integer in [1, 64], got 65"),
    ("--min-agreement", "1.5", "expected a number in (0, 1], got 1.5"),
    ("--seed", "-1", "expected an integer in [0, 4294967295], got -1"),
    ("--conditionals", "maybe", "expected true or false, got 'maybe'"),
])
def test_the_cli_gives_the_same_message_and_exit_2(flag: str, value: str, message: str) -> None:
    out = subprocess.run([sys.executable, "-m", "netsynth.cli", "run", str(SPEC), flag, value],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    helped = subprocess.run([sys.executable, "-m", "netsynth.cli", "run", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60).stdout
    assert flag in helped and BY_NAME[flag[2:].replace("-", "_")].metavar in helped


def test_the_budget_covers_loading_and_verification() -> None:
    """The search gets the budget less what loading took and a reserve for verification (at
    most 5 s, at most a fifth), never less than half a second; verification scales its effort to
    what is left, and keeps its defaults when there is plenty."""
    from netsynth.api import _search_budget, _verify_effort

    opts = SearchOptions(timeout=40)
    assert _search_budget(opts, verify=True, spent=1.0).timeout == 40 - 1 - 5
    assert _search_budget(SearchOptions(timeout=8), verify=True, spent=1.0).timeout == 8 - 1 - 1.6
    assert _search_budget(SearchOptions(timeout=8), verify=False, spent=1.0).timeout == 7
    assert _search_budget(SearchOptions(timeout=1), verify=True, spent=3.0).timeout == 0.5
    assert _search_budget(SearchOptions(timeout=None), verify=True, spent=3.0).timeout is None
    assert _verify_effort(None) == {} and _verify_effort(100) == {}
    small = _verify_effort(2.0)
    assert small == {"timeout_ms": 800, "hypothesis_examples": 50, "speed_points": 8192}
    assert _verify_effort(-3) == {"timeout_ms": 200, "hypothesis_examples": 50, "speed_points": 8192}
