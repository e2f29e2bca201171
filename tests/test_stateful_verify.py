"""verifier/stateful.py on a real trained GRU (Binary_Addition, ONNX Runtime) and real Z3.

Independent truths: the task's definition (bench/mips/tasks.py) for fidelity, and the exported
Python of both programs for every counterexample Z3 or Hypothesis reports.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench_kit import bench_module
from dsl.stateful import Stateful
from dsl.types import INT
from oracle.spec import load_spec
from verifier.equivalence import Verdict
from verifier.stateful import bounded_equivalence, check, generalise

MIPS = Path(__file__).resolve().parents[1] / "bench" / "mips"
BY_NAME = bench_module("mips", "tasks").BY_NAME

AB = {"a": INT, "b": INT}
FOUND = "init s = 0\nstep s = a + (b + s // 2)\nout s % 2"


@pytest.fixture(scope="module")
def network():
    import oracle

    spec = load_spec(MIPS / "models" / "Binary_Addition" / "spec.json")
    return spec, oracle.load(spec, spec.model)


def test_a_program_equal_to_its_reference_holds(network) -> None:
    spec, net = network
    program = Stateful.parse(FOUND, AB)
    reference = "init v = 0; c = 0\nstep v = a + b + c; c = v // 2\nout v % 2"   # the carry itself
    v = check(program, net, spec, reference=reference, hypothesis_examples=100)
    assert v.equivalence.verdict is Verdict.EQUIVALENT
    assert v.generalisation.holds and v.generalisation.checked > 0
    # fidelity: the network against the definition, counted independently
    rng = np.random.default_rng(0)
    x = BY_NAME["Binary_Addition"].sample(500, 10, rng)
    truth_agrees = (net.query(x) == BY_NAME["Binary_Addition"].truth(x)).mean()
    assert truth_agrees == 1.0 and v.fidelity.agreement == 1.0 and v.holds
    assert v.fidelity.errors["every_sequence_up_to_length"] == 7     # 4^7 <= 2^14 < 4^8
    assert v.follows.agreement is not None and v.follows.points == 200 * (20 + 50 + 100)
    d = v.to_dict()
    assert d["reference"] == "equivalent" and d["size"]["program_nodes"] == program.size


def test_a_wrong_reference_gets_a_real_counterexample(network) -> None:
    spec, net = network
    program = Stateful.parse(FOUND, AB)
    wrong = Stateful.parse("out (a + b) % 2", AB)        # forgets the carry
    v = check(program, net, spec, reference=wrong, hypothesis_examples=50)
    assert v.equivalence.verdict is Verdict.COUNTEREXAMPLE and not v.holds
    ce = dict(v.equivalence.counterexample.inputs)
    seq, t = ce["sequence"], ce["t"]
    assert program.function()(seq)[t] != wrong.function()(seq)[t]
    assert program.function()(seq)[t] == v.equivalence.counterexample.program
    assert not v.generalisation.holds


def test_bounded_unrolling_is_only_as_long_as_k() -> None:
    bits = {"x": INT}
    capped = Stateful.parse("init s = 0\nstep s = min(s + x, 12)\nout s", bits)
    total = Stateful.parse("init s = 0\nstep s = s + x\nout s", bits)
    assert bounded_equivalence(capped, total, [0], [1], 8).verdict is Verdict.EQUIVALENT
    late = bounded_equivalence(capped, total, [0], [1], 14)
    assert late.verdict is Verdict.COUNTEREXAMPLE
    seq = dict(late.counterexample.inputs)["sequence"]
    assert sum(seq) == 13 and capped.function()(seq) != total.function()(seq)
    g = generalise(capped, total, [0], [1], 100, 300, 0)
    assert not g.holds
    seq = dict(g.counterexample.inputs)["sequence"]
    assert sum(seq) > 12 and capped.function()(seq)[-1] != total.function()(seq)[-1]


def test_newton_spring_registers_reading_each_others_old_values() -> None:
    """The running-sum phase's Spring program against the task's own update order, by Z3; a
    spring constant off by one is caught, and its counterexample replays in both programs."""
    x = {"x": INT}
    found = Stateful.parse("init s = 0; r = 0\nstep s = x + s - r; r = r + s\nout r", x)
    reference = Stateful.parse("init v = 0; p = 0\nstep v = v + x - p; p = p + v\nout p", x)
    assert bounded_equivalence(found, reference, [-10], [10], 6).verdict is Verdict.EQUIVALENT
    task = BY_NAME["Newton_Spring"]
    seqs = task.sample(200, 12, np.random.default_rng(4))
    assert (found.evaluate({"x": seqs[..., 0]}).values == task.truth(seqs)).all()
    stiff = Stateful.parse("init s = 0; r = 0\nstep s = x + s - 2 * r; r = r + s\nout r", x)
    late = bounded_equivalence(stiff, reference, [-10], [10], 6)
    assert late.verdict is Verdict.COUNTEREXAMPLE
    seq, t = dict(late.counterexample.inputs)["sequence"], dict(late.counterexample.inputs)["t"]
    assert stiff.function()(seq)[t] != reference.function()(seq)[t]


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration
