"""`netsynth.compare` on programs with state (issue 20, extended to every kind): the MIPS GRU of
Alternating_Last3 and an LSTM of the same task (examples/mips_alternating_last3_lstm) are one
group by Z3 bounded to the training length; with the Div_3 GRU beside the GRU, two. The truth is each spec's reference program (the task's definition), evaluated
here by the DSL, never the search's own output. Networks of different kinds, steps or lengths are
refused with an error naming the field."""

from __future__ import annotations

import itertools
import json

import pytest

from test_service_kit import EXAMPLES

pytestmark = pytest.mark.integration

ALT3 = EXAMPLES / "mips_alternating_last3"
ALT3_LSTM = EXAMPLES / "mips_alternating_last3_lstm"
DIV3 = EXAMPLES / "mips_div_3"
TOMITA4 = [EXAMPLES / "tomita4" / "spec.json", EXAMPLES / "tomita4_short" / "spec.json"]


@pytest.fixture(scope="module")
def stateful():
    import netsynth

    one = netsynth.compare(ALT3 / "spec.json", ALT3_LSTM / "spec.json", verify=False, timeout=60)
    two = netsynth.compare(ALT3 / "spec.json", DIV3 / "spec.json", verify=False, timeout=60)
    return one, two


def reference(spec_dir):
    from dsl.stateful import Stateful
    from netsynth.api import load_spec

    spec = load_spec(spec_dir / "spec.json")
    return Stateful.parse(spec.reference, spec.variables())


def test_programs_with_state_group_by_bounded_equivalence(stateful) -> None:
    import numpy as np

    from netsynth.compare_result import Outcome
    from verifier.equivalence import Verdict

    one, two = stateful
    assert one.outcome is Outcome.ONE and len(one.groups[0].members) == 2
    x = np.array(list(itertools.product((0, 1), repeat=8)))
    assert np.array_equal(one.groups[0].program.evaluate({"x": x}).values,
                          reference(ALT3).evaluate({"x": x}).values)
    assert "10 steps" in one.groups[0].proofs[1].reason or one.groups[0].proofs[1].reason == "the same program"
    assert two.outcome is Outcome.SEVERAL and len(two.groups) == 2
    for g in two.groups:
        ((name,),) = [g.members]
        truth = reference(ALT3 if name == "mips_alternating_last3" else DIV3)
        x = np.array(list(itertools.product((0, 1), repeat=8)))
        assert np.array_equal(g.program.evaluate({"x": x}).values, truth.evaluate({"x": x}).values)
    (relation,) = two.relations
    assert relation.verdict is Verdict.COUNTEREXAMPLE
    seq = dict(relation.equivalence.counterexample.inputs)["sequence"]
    a = reference(ALT3).evaluate({"x": np.array([seq])}).values[0]
    b = reference(DIV3).evaluate({"x": np.array([seq])}).values[0]
    assert not np.array_equal(a, b)


def test_networks_of_different_kinds_are_refused_naming_the_family(tmp_path) -> None:
    import netsynth
    from dsl.errors import SpecError

    with pytest.raises(SpecError, match=r"family is 'automaton', but .*'stateful'"):
        netsynth.compare(ALT3 / "spec.json", TOMITA4[0])
    spec = json.loads(TOMITA4[0].read_text())
    spec["inputs"][0]["range"] = [0, 2]
    spec["model"] = str(TOMITA4[0].parent / "model.onnx")
    with pytest.raises(SpecError, match=r"steps range over x in \[0, 2\].*same steps"):
        netsynth.compare(TOMITA4[0], spec)
    spec = json.loads(TOMITA4[0].read_text())
    spec["sequence"]["length"] = [8, 16]
    spec["model"] = str(TOMITA4[0].parent / "model.onnx")
    with pytest.raises(SpecError, match=r"sequence.length: .*do not overlap"):
        netsynth.compare(TOMITA4[1], spec)
