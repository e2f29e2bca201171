"""The stateful search (synth/stateful) against independent truths.

The MIPS tasks' definitions (bench/mips/tasks.py, plain numpy loops) answer as the oracle, and the
program found must equal the definition on every sequence of 8 steps (random ones for larger
alphabets) and on sequences twice the training length; then the same on a real trained GRU opened
with ONNX Runtime through `oracle.load`. Also: progress, cancel, the time limit, and specs the
family refuses.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import numpy as np
import pytest

from bench_kit import bench_module
from dsl.errors import SpecError
from oracle.spec import load_spec
from synth.options import SearchOptions
from synth.outcome import StopReason
from synth.stateful import run

MIPS = Path(__file__).resolve().parents[1] / "bench" / "mips"
BY_NAME = bench_module("mips", "tasks").BY_NAME
spec_of = bench_module("mips", "train").spec_of


class Definition:
    def __init__(self, task) -> None:
        self.task, self.width, self.per_step, self.points = task, task.dim, True, 0

    def query(self, x):
        self.points += len(x)
        return self.task.truth(np.asarray(x, dtype=np.int64))


def spec_for(name: str):
    raw = spec_of(BY_NAME[name])
    raw.pop("model")
    return load_spec(raw)


def equals_definition(task, program) -> None:
    rng = np.random.default_rng(1)
    letters = np.array(list(itertools.product(range(task.lo, task.hi + 1), repeat=task.dim)))
    if len(letters) ** 8 <= 70000:
        short = letters[np.array(list(itertools.product(range(len(letters)), repeat=8)))]
    else:
        short = task.sample(20000, 8, rng)
    for x in (short, task.sample(300, 2 * task.seq_len, rng)):
        got = program.evaluate({n: x[..., d] for d, n in enumerate(program.inputs)})
        assert not got.bad.any()
        assert (got.values.astype(np.int64) == task.truth(x)).all(), program.show()
    f = program.function()
    x = task.sample(20, 2 * task.seq_len, rng)
    for row, want in zip(x, task.truth(x)):
        steps = [int(s[0]) if task.dim == 1 else tuple(map(int, s)) for s in row]
        assert [int(v) for v in f(steps)] == want.tolist()


@pytest.mark.parametrize("name, registers", [
    ("Bitwise_Xor", 0), ("Prev2", 0), ("Alternating_Last3", 0),       # window functions
    ("Parity_All", 1), ("Sum_All", 1), ("Max_Seen", 1), ("Parity_Bits_Mod2", 1),  # one register
])
def test_the_program_found_is_the_definition(name: str, registers: int) -> None:
    task = BY_NAME[name]
    result = run(spec_for(name), Definition(task), options=SearchOptions(timeout=100))
    assert result.accepted and result.stop_reason is StopReason.SOLVED
    assert len(result.program.registers) == registers
    equals_definition(task, result.program)
    assert result.extra["trace"][0]["t"] == 0 and "def f(xs)" in result.extra["python"]


@pytest.mark.parametrize("name", ["Newton_Freebody", "Newton_Gravity", "Newton_Spring"])
def test_two_registers_the_newton_tasks(name: str) -> None:
    """Spring's velocity reads the position's old value (the running-sum phase, integrate.py)."""
    task = BY_NAME[name]
    seen = []
    result = run(spec_for(name), Definition(task), options=SearchOptions(timeout=100), progress=seen.append)
    assert result.accepted and len(result.program.registers) == 2
    equals_definition(task, result.program)
    assert "output as a running sum" in {p.phase for p in seen}


def test_a_real_gru_through_onnx_runtime() -> None:
    import oracle

    spec = load_spec(MIPS / "models" / "Bit_Dot_Prod_Mod2" / "spec.json")
    network = oracle.load(spec, spec.model)
    seen = []
    result = run(spec, network, options=SearchOptions(timeout=100, min_agreement=0.999),
                 progress=seen.append)
    assert result.accepted, result.notes
    equals_definition(BY_NAME["Bit_Dot_Prod_Mod2"], result.program)
    assert result.queries > 0 and network.points == result.queries
    phases = {p.phase for p in seen}
    assert {"sample", "window", "done"} <= phases
    assert seen[-1].best == result.program.show()


def test_cancel_and_time_limit_stop_the_search() -> None:
    task = BY_NAME["Bit_Palindrome"]           # no program with two registers exists
    cancel = threading.Event()
    cancel.set()
    result = run(spec_for("Bit_Palindrome"), Definition(task), options=SearchOptions(timeout=30), cancel=cancel)
    assert result.stop_reason is StopReason.CANCELLED and not result.accepted
    result = run(spec_for("Bit_Palindrome"), Definition(task), options=SearchOptions(timeout=2))
    assert result.stop_reason is StopReason.TIME and not result.accepted
    assert result.seconds < 15
    # a long out enumeration (20 step values, outs of up to 11 nodes) is stopped inside too
    square = BY_NAME["Perfect_Square_Detector"]
    result = run(spec_for(square.name), Definition(square), options=SearchOptions(timeout=3, min_agreement=1.0))
    assert result.stop_reason is StopReason.TIME and result.seconds < 15


def test_specs_the_family_cannot_search_are_refused() -> None:
    raw = spec_of(BY_NAME["Parity_All"])
    raw.pop("model")
    raw["sequence"]["output"] = "final"
    raw["output"] = {"type": "bool", "decoding": "threshold"}
    raw["family"] = "automaton"
    with pytest.raises(SpecError, match="sequence.output"):
        run(load_spec(raw), Definition(BY_NAME["Parity_All"]), options=SearchOptions(timeout=5))


# Real trained networks through ONNX Runtime (tests/README.md: the integration tier).
pytestmark = pytest.mark.integration
