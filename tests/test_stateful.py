"""Programs with state (dsl/stateful.py): text, dict, evaluation and the three exports agree.

Fast tier: no model, no Ray. The independent truths are hand-written loops and the MIPS tasks'
definitions (bench/mips/tasks.py); Hypothesis draws programs from the search's own enumeration and
sequences of every length, and checks that `evaluate`, the exported Python, the vectorised numpy
export and the trace give the same outputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.errors import DSLError
from dsl.stateful import Register, Stateful
from dsl.types import BOOL, INT
from synth.stateful.terms import Bank

X = {"x": INT}


def test_running_sum_of_running_sum_against_a_hand_loop() -> None:
    p = Stateful.parse("init s = 0; r = 0\nstep s = s + x; r = r + s\nout r", X)
    seq = [3, -1, 4, 1, -5, 9]
    s = r = 0
    want = []
    for x in seq:
        s += x
        r += s
        want.append(r)
    assert p.function()(seq) == want
    assert p.evaluate({"x": np.array([seq])}).values.tolist() == [want]
    assert [row["y"] for row in p.trace(seq)] == want
    assert [row["r"] for row in p.trace(seq)] == want
    assert p.size == 9 and p.window == 0 and p.type == INT


def test_window_terms_are_zero_before_the_start() -> None:
    p = Stateful.parse("out x - x_2", X)
    assert p.window == 2
    assert p.function()([5, 7, 11, 13]) == [5, 7, 6, 6]
    ns: dict = {}
    exec(p.to_numpy("g"), ns)
    assert ns["g"](np.array([[5, 7, 11, 13]])).tolist() == [[5, 7, 6, 6]]


def test_two_inputs_read_as_pairs() -> None:
    p = Stateful.parse("init c = 0\nstep c = a + b + c // 2\nout c % 2", {"a": INT, "b": INT})
    # 3 + 5 = 8, least significant bit first: 110 + 101 -> 000 (the carry out is dropped)
    assert p.function()([(1, 1), (1, 0), (0, 1)]) == [0, 0, 0]
    assert p.function()([(1, 0), (0, 1), (1, 1)]) == [1, 1, 0]


def test_registers_update_in_order() -> None:
    # r reads s's new value; s reads r's old one
    p = Stateful.parse("init s = 0; r = 10\nstep s = s + r; r = s\nout s", X)
    assert p.function()([0, 0, 0]) == [10, 20, 40]


@pytest.mark.parametrize("text, message", [
    ("step s = s + x\nout s", "init"),
    ("init s = 0\nstep r = x\nout r", "differ"),
    ("init s = 0; s = 1\nstep s = x; s = x\nout s", "once"),
    ("init s = 0\nstep s = s + y\nout s", "y"),
    ("init s = 0\nstep s = x > 0\nout s", "bool"),
    ("init x = 0\nstep x = x\nout x", r"registers\[0\]\.name"),
    ("out x\nout x", "once"),
    ("init s = zero\nstep s = x\nout s", "zero"),
])
def test_bad_text_names_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(DSLError, match=message):
        Stateful.parse(text, X)


def test_a_bool_register() -> None:
    p = Stateful.parse("init odd = False\nstep odd = not odd if x % 2 == 1 else odd\nout odd", X)
    assert p.registers[0].type == BOOL
    assert p.function()([1, 2, 3, 3]) == [True, True, False, True]
    assert Stateful.from_dict(p.to_dict()) == p


def test_columns_must_be_sequences() -> None:
    p = Stateful.parse("out x", X)
    with pytest.raises(DSLError, match=r"\(n, T\)"):
        p.evaluate({"x": np.arange(3)})
    with pytest.raises(DSLError, match="'x'"):
        p.evaluate({"y": np.zeros((1, 3))})


# ---- properties: random programs from the enumeration, random sequences ---------------------

def _pool() -> dict[str, list]:
    grid = np.arange(-6, 7)
    s, x = [m.ravel() for m in np.meshgrid(grid, grid)]
    bank = Bank({"s": (INT, s), "x": (INT, x), "x_1": (INT, np.roll(x, 1)), "r": (INT, np.roll(s, 3))},
                [0, 1, 2, 3], max_terms=6000)
    ints = [n for size in range(1, 6) for n in bank.level(size, INT).nodes]
    return {"step": [n for n in ints if "x_1" not in str(n)], "out": ints}


POOL = _pool()


@st.composite
def programs(draw) -> Stateful:
    steps = [n for n in POOL["step"]]
    s_step = draw(st.sampled_from(steps))
    r_step = draw(st.sampled_from(steps))
    out = draw(st.sampled_from(POOL["out"]))
    registers = (Register("s", draw(st.integers(-3, 3)), s_step), Register("r", draw(st.integers(-3, 3)), r_step))
    return Stateful(("x",), registers, out, (INT,))


@settings(max_examples=150, deadline=None)
@given(programs(), st.lists(st.lists(st.integers(-9, 9), min_size=6, max_size=6), min_size=1, max_size=4))
def test_evaluate_python_numpy_and_trace_agree(program: Stateful, rows: list[list[int]]) -> None:
    x = np.array(rows, dtype=np.int64)
    ev = program.evaluate({"x": x})
    if ev.bad.any():       # values beyond int64: Python's ints and numpy's differ by design
        return
    python = [program.function()(r) for r in rows]
    ns: dict = {}
    exec(program.to_numpy("f"), ns)
    assert [[int(v) for v in row] for row in ev.values.tolist()] == [[int(v) for v in row] for row in python]
    assert ns["f"](x).tolist() == ev.values.tolist()
    assert [row["y"] for row in program.trace(rows[0])] == [int(v) for v in python[0]]


@settings(max_examples=100, deadline=None)
@given(programs())
def test_text_and_dict_round_trip(program: Stateful) -> None:
    assert Stateful.parse(program.show(), X) == program
    assert Stateful.from_dict(program.to_dict()) == program
    assert Stateful.parse(program.show(), X).show() == program.show()
