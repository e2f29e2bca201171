"""The spec's `sequence` section and the sequence oracle, on the project's own trained recurrent
networks (bench/tomita/models: a GRU for Tomita 1, final answer; a GRU answering after each step
whether the prefix is in Tomita 4) in real ONNX Runtime sessions."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import oracle
from dsl.errors import ModelError, SpecError
from oracle.domains import Sequences
from oracle.spec import load_spec

MODELS = Path(__file__).resolve().parents[1] / "bench" / "tomita" / "models"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
STEP = [{"name": "x", "type": "int", "range": [0, 1], "encoding": "one_hot"}]
GOOD = {"name": "t1", "inputs": STEP, "output": {"type": "bool"},
        "sequence": {"length": [1, 16], "output": "final"}}


def spec_with(**changes) -> dict:
    raw = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def tomita1(word) -> bool:
    return 0 not in word


def tomita4(word) -> bool:
    return "000" not in "".join(map(str, word))


# ---- the section -----------------------------------------------------------------------------

def test_sequence_fields_and_domain() -> None:
    spec = load_spec(GOOD)
    assert (spec.sequence.min_len, spec.sequence.max_len, spec.sequence.output) == (1, 16, "final")
    assert not spec.sequence.per_step
    domain = spec.domain()
    assert isinstance(domain, Sequences) and (domain.min_len, domain.max_len) == (1, 16)
    assert domain.size == sum(2 ** t for t in range(1, 17))
    assert load_spec(spec_with(sequence={"length": [2, 3]})).sequence.output == "final"  # the default


@pytest.mark.parametrize("raw, family", [
    (spec_with(), "automaton"),                                                   # final bool
    (spec_with(output={"type": "int", "range": [0, 3]}), "automaton"),            # four classes
    (spec_with(output={"type": "int", "range": [0, 99]}), "stateful"),            # too many classes
    (spec_with(sequence={"length": [1, 5], "output": "per_step"}), "stateful"),
    (spec_with(family="stateful"), "stateful"),                                   # the spec decides
    (spec_with(sequence=None), "function"),
])
def test_family_of_a_sequence_spec(raw: dict, family: str) -> None:
    assert load_spec(raw).family == family


@pytest.mark.parametrize("raw, message", [
    (spec_with(sequence=[1, 5]), "sequence: expected an object with 'length' and 'output', got [1, 5]"),
    (spec_with(sequence={"output": "final"}), "sequence.length: missing required field"),
    (spec_with(sequence={"length": [0, 5]}), "sequence.length: expected [lo, hi] with 1 <= lo <= hi <= 4096, got [0, 5]"),
    (spec_with(sequence={"length": [6, 5]}), "got [6, 5]"),
    (spec_with(sequence={"length": [1, 5000]}), "got [1, 5000]"),
    (spec_with(sequence={"length": [1, 2.5]}), "got [1, 2.5]"),
    (spec_with(sequence={"length": [1, 5], "output": "last"}),
     "sequence.output: expected one of ['per_step', 'final'], got 'last'"),
    (spec_with(sequence={"length": [1, 5], "steps": 3}), "sequence: unknown key 'steps'"),
    (spec_with(family="function"), "family: a spec with a 'sequence' section is searched by 'stateful' or "
                                   "'automaton', got 'function'"),
    (spec_with(family="automaton", sequence={"length": [1, 5], "output": "per_step"}),
     "family: 'automaton' needs sequence.output 'final'"),
    (spec_with(family="automaton", output={"type": "real"}), "output type 'real'"),
])
def test_bad_sequence_sections_name_the_field_and_value(raw: dict, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(raw)
    assert message in str(caught.value)


@settings(max_examples=60, deadline=None)
@given(lo=st.integers(1, 50), extra=st.integers(0, 50), output=st.sampled_from(["final", "per_step"]),
       classes=st.integers(1, 20))
def test_round_trip(lo: int, extra: int, output: str, classes: int) -> None:
    raw = spec_with(sequence={"length": [lo, lo + extra], "output": output},
                    output={"type": "int", "range": [0, classes], "decoding": "argmax"})
    spec = load_spec(raw)
    again = load_spec(spec.to_dict())
    assert again == spec and again.family == spec.family
    assert again.to_dict()["sequence"] == {"length": [lo, lo + extra], "output": output}


# ---- the oracle on real networks ----------------------------------------------------------------

@pytest.fixture(scope="module")
def final() -> "oracle.sequences.SequenceOracle":
    return oracle.load(MODELS / "tomita1_gru.json")


def test_load_returns_the_sequence_oracle_that_agrees_with_its_grammar(final) -> None:
    from oracle.sequences import SequenceOracle

    assert isinstance(final, SequenceOracle) and final.width == 1 and not final.per_step
    words = [w for n in range(1, 9) for w in itertools.product((0, 1), repeat=n)]
    assert final.query_words(words) == [tomita1(w) for w in words]
    batch = np.array(list(itertools.product((0, 1), repeat=8)))[:, :, None]
    assert final.query(batch).tolist() == [tomita1(w[:, 0].tolist()) for w in batch]


def test_time_is_dynamic_and_words_are_cached(final) -> None:
    for t in (1, 16, 48):  # 48: three times the training length
        ones = np.ones((3, t, 1), np.int64)
        ones[1, t // 2, 0] = 0
        assert final.query(ones).tolist() == [True, False, True]
    points = final.points
    again = final.query(np.ones((3, 48, 1), np.int64))
    assert again.tolist() == [True] * 3 and final.points == points  # the word was asked before


def test_per_step_oracle_answers_every_prefix() -> None:
    steps = oracle.load(MODELS / "steps4_gru.json")
    assert steps.per_step and steps.spec.family == "stateful"
    words = np.array(list(itertools.product((0, 1), repeat=7)))
    got = steps.query(words[:, :, None])
    assert got.shape == (len(words), 7) and got.dtype == bool
    want = [[tomita4(w[:i + 1]) for i in range(7)] for w in words.tolist()]
    assert got.tolist() == want


def test_bad_batches_name_the_shape(final) -> None:
    with pytest.raises(SpecError, match=r"expected an \(n, T, 1\) batch .* got shape \(4, 2\)"):
        final.query(np.zeros((4, 2), np.int64))
    with pytest.raises(SpecError, match=r"got shape \(2, 3, 1\) dtype float64"):
        final.query(np.zeros((2, 3, 1)))
    with pytest.raises(SpecError, match="letters are 0..1, got 2"):
        final.query_words([(0, 2)])


def test_models_that_do_not_fit_get_a_model_error_naming_the_shapes() -> None:
    model = MODELS / "tomita1_gru.onnx"
    wide = spec_with(inputs=[{"name": "x", "type": "int", "range": [0, 2], "encoding": "one_hot"}])
    with pytest.raises(ModelError, match="input width .* is 2 but the spec's encodings give 3 per step"):
        oracle.load(wide, model)
    per_step = spec_with(sequence={"length": [1, 16], "output": "per_step"})
    with pytest.raises(ModelError, match=r"output shape for input shape \(2, 1, 2\) is \(2, 1\) but the spec "
                                         r"\(per_step outputs, threshold decoding\) expects \(2, 1, 1\)"):
        oracle.load(per_step, model)
    function_model = EXAMPLES / "abs_diff" / "model.onnx"  # a (n, D) function network, not a sequence one
    with pytest.raises(ModelError, match="model: "):
        oracle.load(GOOD, function_model)


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration
