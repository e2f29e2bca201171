"""The search: enumerator against brute force, conditionals, CEGIS, stop reasons.

The networks here are in-process torch modules that compute a known function exactly (the torch
back-end is the trusted notebook path), so the truth of each test is the function itself.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import oracle
from dsl import INT, BOOL, Var, const, evaluate, get_dsl
from synth import conditional
from synth.int_engine.engine import Enumerator, InProcess, productions_of
from synth.outcome import StopReason
from synth.problem import Problem
from synth.search import SearchOptions, run

DSL = get_dsl("int")


class Exact(torch.nn.Module):
    """A 'network' computing fn(x, y) exactly on raw inputs (decoded with `round`)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, inp):
        x, y = inp[:, 0].round().long(), inp[:, 1].round().long()
        return self.fn(x, y).float().unsqueeze(1)


def problem(fn, lo=0, hi=15, out=(-1000, 1000), constants=()) -> Problem:
    spec = {"name": "t", "inputs": [{"name": "x", "type": "int", "range": [lo, hi]},
                                    {"name": "y", "type": "int", "range": [lo, hi]}],
            "output": {"type": "int", "range": list(out), "decoding": "round"},
            "constants": list(constants)}
    return Problem.from_spec(oracle.load_spec(spec), oracle.load(spec, Exact(fn)))


def grid(lo=0, hi=15):
    xs, ys = np.meshgrid(np.arange(lo, hi + 1), np.arange(lo, hi + 1), indexing="ij")
    return {"x": xs.ravel(), "y": ys.ravel()}


# ---- enumerator against brute force ------------------------------------------------------------

TINY_OPS = ("add", "sub", "mul", "bitxor", "neg")


def brute_force(env, leaves, max_size, *, dsl=DSL, ops=TINY_OPS):
    """Minimal size of every distinct value vector, by plain recursive enumeration."""
    by_size = {1: list(leaves)}
    for s in range(2, max_size + 1):
        progs = []
        for op in ops:
            arity = dsl.operators[op].arity
            for sizes in itertools.product(range(1, s), repeat=arity):
                if sum(sizes) == s - 1:
                    progs += [dsl.app(op, *args)
                              for args in itertools.product(*(by_size[k] for k in sizes))]
        by_size[s] = progs
    minimal = {}
    for s in range(1, max_size + 1):
        for p in by_size[s]:
            ev = evaluate(p, env, dsl=dsl)
            if ev.ok:
                minimal.setdefault(tuple(ev.values.tolist()), s)
    return minimal


@pytest.fixture
def small_kernel_blocks(monkeypatch):
    """Compiled blocks of a few rows each way, so that tiny levels still span many blocks."""
    import synth.int_engine.enumerate

    monkeypatch.setattr(synth.int_engine.enumerate, "KERNEL_BLOCK", 12)
    monkeypatch.setattr(synth.int_engine.enumerate, "KERNEL_COLUMN_BYTES", 8 * 8 * 5)   # 5 rows at 8 points


@pytest.mark.parametrize("kernel_min_level", [0, 1 << 60], ids=["compiled", "numpy"])
def test_enumerator_finds_every_behaviour_at_its_minimal_size(kernel_min_level,
                                                              small_kernel_blocks):
    env = {"x": np.array([0, 1, 2, 3, 5, 7, 11, 13]), "y": np.array([1, 1, 4, 2, 3, 0, 6, 9])}
    leaves = [Var("x"), Var("y"), const(1)]
    prods = [p for p in productions_of(DSL, [INT]) if p.op in TINY_OPS]
    impossible = np.full(8, 10**9)
    enum = Enumerator(dsl=DSL, dsl_key="int", env=env, leaves={INT: leaves}, productions=prods,
                      target=impossible, target_type=INT, need=8, max_size_by_type={},
                      item_candidates=64, kernel_min_level=kernel_min_level)
    max_size = 5
    for s in range(2, max_size + 1):
        assert enum.grow(s, InProcess(), check=lambda c: None).hit is None
    bank = enum.banks[INT]
    found = {}
    for s, level in bank.levels.items():
        for seg in level.segments:
            for row in seg.values:
                found.setdefault(tuple(row.tolist()), s)
    assert found == brute_force(env, leaves, max_size)


@pytest.mark.parametrize("kernel_min_level", [0, 1 << 60], ids=["compiled", "numpy"])
def test_every_bank_row_is_the_value_of_the_program_it_records(kernel_min_level,
                                                               small_kernel_blocks):
    """Rows and their provenance stay together: the program rebuilt from each row's operator
    and argument ids evaluates to exactly that row (ints and Booleans, every storage width)."""
    from synth.int_engine.bank import rebuild

    env = {"x": np.array([0, 1, 2, 3, 5, 70, -4, 100]), "y": np.array([1, -1, 4, 2, 3, 0, 60, 9])}
    leaves = {INT: [Var("x"), Var("y"), const(1), const(200)]}
    prods = [p for p in productions_of(DSL, [INT, BOOL], exclude=["ite"])
             if p.op in TINY_OPS + ("lt", "eq", "and", "lshift")]
    enum = Enumerator(dsl=DSL, dsl_key="int", env=env, leaves=leaves, productions=prods,
                      target=np.full(8, 10**9), target_type=INT, need=8,
                      max_size_by_type={BOOL: 5}, item_candidates=64,
                      kernel_min_level=kernel_min_level)
    for s in range(2, 6):
        assert enum.grow(s, InProcess(batch_candidates=256), check=lambda c: None).hit is None
    checked = set()
    for t, bank in enum.banks.items():
        for s, level in bank.levels.items():
            for seg in level.segments:
                for k, values in enumerate(seg.values):
                    node = rebuild(enum.banks, t, seg.offset + k, dsl=DSL,
                                   productions=list(enum.productions), leaves=enum.leaves)
                    assert evaluate(node, env, dsl=DSL).values.tolist() == values.tolist(), node
                    checked.add((t, values.dtype))
    assert {(INT, np.dtype(np.int8)), (INT, np.dtype(np.int16)), (BOOL, np.dtype(bool))} <= checked


@pytest.mark.parametrize("kernel_min_level", [0, 1 << 60], ids=["compiled", "numpy"])
def test_enumerator_with_a_three_argument_operator_misses_nothing(kernel_min_level,
                                                                  small_kernel_blocks):
    """The same against brute force with the user DSL's clamp(v, lo, hi): blocks of the third
    argument read its whole level, across segments."""
    dsl = get_dsl(str(Path(__file__).with_name("dsl_user") / "clamp.lark"))
    ops = ("add", "neg", "clamp")
    # Values near 127 make rows of two storage widths, so levels hold several segments.
    env = {"x": np.array([0, 1, 2, 3, 5, 70, -4, 100]), "y": np.array([1, -1, 4, 2, 3, 0, 60, 9])}
    leaves = [Var("x"), Var("y"), const(1)]
    prods = [p for p in productions_of(dsl, [INT]) if p.op in ops]
    enum = Enumerator(dsl=dsl, dsl_key=str(Path(__file__).with_name("dsl_user") / "clamp.lark"),
                      env=env, leaves={INT: leaves}, productions=prods,
                      target=np.full(8, 10**9), target_type=INT, need=8, max_size_by_type={},
                      item_candidates=16, kernel_min_level=kernel_min_level)
    for s in range(2, 8):
        assert enum.grow(s, InProcess(batch_candidates=64), check=lambda c: None).hit is None
    levels = enum.banks[INT].levels
    assert len(levels[3].segments) > 1 and len(levels[4].segments) > 1   # third arguments
    found = {}
    for s, level in levels.items():
        for seg in level.segments:
            for row in seg.values:
                found.setdefault(tuple(row.tolist()), s)
    assert found == brute_force(env, leaves, 7, dsl=dsl, ops=ops)


def test_search_returns_the_smallest_program():
    prob = problem(lambda x, y: (x ^ y) + 1)
    result = run(prob, options=SearchOptions(timeout=30, workers=1), executor=InProcess())
    assert result.stop_reason is StopReason.SOLVED
    assert result.accepted and result.agreement == 1.0
    assert DSL.show(result.program) in ("(x ^ y) + 1", "1 + (x ^ y)")


# ---- conditionals ------------------------------------------------------------------------------

@pytest.mark.parametrize("fn, text", [
    (lambda x, y: torch.where(x > y, x * 2, y + 3), "x * 2 if x > y else y + 3"),
    (lambda x, y: torch.where(x < 5, x * y, x - y), "x * y if x < 5 else x - y"),
])
def test_conditional_search_finds_piecewise_programs(fn, text):
    prob = problem(fn)
    result = run(prob, options=SearchOptions(timeout=60, workers=1), executor=InProcess())
    assert result.accepted, result
    truth = evaluate(DSL.parse(text, prob.variables), grid(), dsl=DSL).values
    assert np.array_equal(evaluate(result.program, grid(), dsl=DSL).values, truth)
    assert any(n.op == "ite" for n in _apps(result.program))


def test_divide_and_conquer_builds_a_consistent_tree():
    env = grid(0, 7)
    x, y = env["x"], env["y"]
    target = np.where(x >= y, x - y, 3 * y)
    prods = productions_of(DSL, [INT, BOOL], exclude=["ite"])
    enum = Enumerator(dsl=DSL, dsl_key="int", env=env,
                      leaves={INT: [Var("x"), Var("y"), const(1), const(3)]}, productions=prods,
                      target=target, target_type=INT, need=len(target),
                      max_size_by_type={BOOL: 3})
    for s in range(2, 4):
        enum.grow(s, InProcess(), check=lambda c: None)
    program = conditional.solve(enum)
    assert program is not None
    assert np.array_equal(evaluate(program, env, dsl=DSL).values, target)


def _apps(node):
    from dsl.ast import walk
    return [n for n in walk(node) if hasattr(n, "op")]


# ---- CEGIS and the final judgement -------------------------------------------------------------

def test_counterexamples_refine_a_program_right_only_on_the_sample():
    # x + y everywhere but at (13, 13), a point the first sample (seed 0) does not contain;
    # x * y == 169 singles it out, and 169 is offered as a constant.
    prob = problem(lambda x, y: torch.where((x == 13) & (y == 13), 0, x + y), constants=[169])
    options = SearchOptions(timeout=20, workers=1, sample_size=32)
    result = run(prob, options=options, executor=InProcess())
    assert result.accepted, result
    env = grid()
    truth = np.where((env["x"] == 13) & (env["y"] == 13), 0, env["x"] + env["y"])
    assert np.array_equal(evaluate(result.program, env, dsl=DSL).values, truth)
    assert result.rounds > 1           # the first round's x + y was refuted on the domain


def test_min_agreement_accepts_a_program_and_reports_its_true_agreement():
    # 4 of 256 points are wrong on purpose.
    bad = {(3, 4), (7, 7), (9, 1), (15, 0)}

    def noisy(x, y):
        out = (x + y) % 16
        for a, b in bad:
            out = torch.where((x == a) & (y == b), out + 1, out)
        return out
    prob = problem(noisy)
    result = run(prob, options=SearchOptions(timeout=60, workers=1, min_agreement=0.95),
                 executor=InProcess())
    assert result.accepted
    assert DSL.show(result.program) == "(x + y) % 16"
    assert result.agreement == pytest.approx(1 - len(bad) / 256)


# ---- stop reasons ------------------------------------------------------------------------------

HARD = staticmethod(lambda x, y: (x * x * y + 7 * y * y * x + 3) % 11)


@pytest.mark.parametrize("options, reason", [
    (SearchOptions(timeout=0.5, workers=1, conditionals=False), StopReason.TIME),
    (SearchOptions(timeout=60, workers=1, max_candidates=20_000, conditionals=False),
     StopReason.CANDIDATES),
    (SearchOptions(timeout=60, workers=1, memory_bytes=1 << 20, conditionals=False),
     StopReason.MEMORY),
    (SearchOptions(timeout=60, workers=1, max_size=4, conditionals=False), StopReason.EXHAUSTED),
])
def test_each_budget_stops_the_search_with_its_reason(options, reason):
    result = run(problem(HARD.__func__), options=options, executor=InProcess())
    assert result.stop_reason is reason
    assert not result.accepted
    assert result.program is not None and result.agreement < 1.0   # the best it saw, honestly


def test_cancel_stops_the_search():
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        if p.candidates > 0:
            cancel.set()
    result = run(problem(HARD.__func__), options=SearchOptions(timeout=60, workers=1),
                 progress=progress, cancel=cancel, executor=InProcess())
    assert result.stop_reason is StopReason.CANCELLED
    assert seen and seen[0].level >= 1


def test_progress_reports_every_level_in_order():
    levels = []
    run(problem(lambda x, y: (x ^ y) + 1), options=SearchOptions(timeout=30, workers=1),
        progress=lambda p: levels.append(p.level), executor=InProcess())
    reached = sorted(set(levels))
    assert reached == list(range(1, max(levels) + 1))
