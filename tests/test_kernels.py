"""The enumerator's compiled kernels (synth/int_engine/kernels.py) against Python's own integers.

Wherever the enumerator lets a kernel run on a block (`_kernel_applies`: Boolean results, kernels
that check overflow at every point, or blocks whose intervals rule overflow out), each candidate's
values must be Python's answer at every point, its fingerprint that of those values, and a checked
kernel must flag exactly the candidates with a point whose true value does not fit int64; the
describing kernel gives each candidate's least and greatest value and its agreement with a
target.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from dsl import BOOL, INT, Var, compile_python, get_dsl
from dsl.ops import INT64_MAX, INT64_MIN
from synth.int_engine.bank import FingerprintSet, SortedFound, fingerprint_key, fingerprints, segment
from synth.int_engine.blocks import kernel_applies as _kernel_applies
from synth.int_engine.kernels import FingerprintTable, kernel, sorted_order

DSL = get_dsl("int")
ROOT = Path(__file__).resolve().parents[1]
KERNELS = sorted(name for name, row in DSL.operators.items() if row.scalar is not None)
EDGES = [0, 1, -1, 63, 64, 2**31, 2**52 - 1, 2**52, 2**53, 2**62, INT64_MAX]


def test_every_int_operator_has_a_kernel():
    assert KERNELS == sorted(DSL.operators)


@st.composite
def rows(draw, t, count: int, points: int, *, shift_count: bool = False):
    """`count` rows of `points` values of type t, ints within a drawn interval (edges often)."""
    if t == BOOL:
        return np.array(draw(st.lists(st.lists(st.booleans(), min_size=points,
                                               max_size=points),
                                      min_size=count, max_size=count)), bool)
    ends = st.one_of(st.integers(-3, 70), st.sampled_from([-1, 0, 62, 63, 64, 65, 100])) \
        if shift_count else st.one_of(
        st.integers(-300, 300), st.sampled_from(EDGES + [-e for e in EDGES]),
        st.integers(INT64_MIN, INT64_MAX))
    lo, hi = sorted((draw(ends), draw(ends)))
    inside = st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, min(max(0, lo), hi)]))
    return np.array(draw(st.lists(st.lists(inside, min_size=points, max_size=points),
                                  min_size=count, max_size=count)), np.int64).reshape(count,
                                                                                      points)


@pytest.mark.parametrize("name", KERNELS)
@settings(max_examples=120, deadline=None)
@given(at=st.sampled_from([INT, BOOL]), points=st.integers(1, 9), data=st.data())
def test_kernels_equal_python_ints_wherever_the_enumerator_runs_them(name, at, points, data):
    row = DSL.operators[name]
    types = [at if t.var else t for t in row.arg_types]          # `ite` at either type
    result = at if row.result_type.var else row.result_type
    args = [data.draw(rows(t, data.draw(st.integers(1, 3)), points,
                           shift_count=name in ("lshift", "rshift") and i == 1))
            for i, t in enumerate(types)]
    compiled = kernel("int", row)
    parts = [(segment(a, 0), 0, len(a)) for a in args]
    if not _kernel_applies(row, compiled, result, parts):
        event(f"{name}: numpy's checked path")
        return
    event(f"{name}: kernel{' (checked)' if compiled.checked else ''}")
    n = int(np.prod([len(a) for a in args]))
    fps, ok = np.empty(n, np.uint64), np.empty(n, bool)
    compiled.fingerprints(args, fingerprint_key(points), fps, ok)
    values = np.empty((n, points), result.np_dtype)
    lo, hi, agree = (np.empty(n, np.int64) for _ in range(3))
    target = data.draw(rows(result, 1, points))[0]
    compiled.describe(args, np.arange(n, dtype=np.int64), target, lo, hi, agree)
    compiled.values(args, np.arange(n, dtype=np.int64), values)

    names = ["a", "b", "c"][:row.arity]
    python = compile_python(DSL.app(name, *(Var(v, t) for v, t in zip(names, types))), names,
                            dsl=DSL)
    for c, picks in enumerate(np.ndindex(*(len(a) for a in args))):
        truth = [python(*(a[r, p].item() for a, r in zip(args, picks))) for p in range(points)]
        fits = all(INT64_MIN <= int(v) <= INT64_MAX for v in truth)
        assert bool(ok[c]) == fits, (name, picks, truth)
        if fits:
            assert values[c].tolist() == truth, (name, picks)
            assert (lo[c], hi[c]) == (min(truth), max(truth))
            assert agree[c] == sum(v == t for v, t in zip(truth, target.tolist()))
            assert fps[c] == fingerprints(values[c:c + 1], fingerprint_key(points))[0]


CALL_ADD = """
import json
import numpy as np
from dsl import get_dsl
from synth.int_engine import kernels
k = kernels.kernel("int", get_dsl("int").operators["add"])
a = np.array([[1, 2], [3, 4]], np.int64)
fps, ok = np.empty(4, np.uint64), np.empty(4, bool)
k.fingerprints([a, a], np.array([3, 5], np.uint64), fps, ok)
print(json.dumps({"fps": fps.tolist(), "file": getattr(k.module, "__file__", None),
                  "loaded": k.module.fingerprints.stats.cache_hits.total()}))
"""
#: The fingerprints of a + a for a's rows [1, 2] and [3, 4], with key [3, 5].
SUMS = np.array([[2, 4], [4, 6], [4, 6], [6, 8]])


def _run(code: str, cache: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "NETSYNTH_CACHE": str(cache)}, cwd=ROOT, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_kernels_are_compiled_once_per_machine_and_loaded_by_later_processes(tmp_path):
    truth = fingerprints(SUMS, np.array([3, 5], np.uint64)).tolist()
    first, second = _run(CALL_ADD, tmp_path), _run(CALL_ADD, tmp_path)
    assert first["fps"] == second["fps"] == truth
    assert first["loaded"] == 0 and second["loaded"] > 0    # compiled, then loaded from the cache
    assert first["file"] == second["file"] and first["file"].startswith(str(tmp_path))


def test_kernels_compile_in_memory_where_the_cache_cannot_be_written(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    out = _run(CALL_ADD, blocked)
    assert out["fps"] == fingerprints(SUMS, np.array([3, 5], np.uint64)).tolist()
    assert out["file"] is None and out["loaded"] == 0


class SmallTable(FingerprintTable):
    MIN_SLOTS = 8


# Fingerprints: 0 (a row of zeros), small values (repeats, neighbouring slots) and any others.
FPS = st.one_of(st.just(0), st.integers(0, 40), st.integers(0, 2**64 - 1))


@settings(max_examples=200, deadline=None)
@given(seen=st.lists(FPS, max_size=30),
       steps=st.lists(st.tuples(st.booleans(), st.lists(FPS, max_size=60)), max_size=12))
def test_fingerprint_table_keeps_the_first_copy_of_each_new_value(seen, steps):
    """The hash table and the sorted runs both keep, of each block, the positions of the values
    neither in the bank nor found before, as a Python set says; `add` (values another worker
    found) joins them. Tables start at 8 slots here, so they grow many times."""
    bank = FingerprintSet.of(np.unique(np.array(seen, np.uint64)))
    table, runs, truth = SmallTable(bank, expected=0), SortedFound(bank), set(seen)
    for elsewhere, values in steps:
        fps = np.array(values, np.uint64)
        if elsewhere:                       # distinct, in any order
            fps = np.random.default_rng(len(values)).permutation(np.unique(fps))
            table.add(fps)
            runs.add(fps)
            truth.update(values)
            continue
        expected = []
        for i, v in enumerate(values):
            if v not in truth:
                truth.add(v)
                expected.append(i)
        assert table.first_new(fps).tolist() == expected
        assert runs.first_new(fps).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(values=st.one_of(st.lists(FPS, max_size=700),
                        st.lists(st.integers(0, 1 << 20), min_size=65, max_size=300)))
def test_sorted_order_is_a_stable_argsort(values):
    """The linear-time sort of fingerprints orders them as numpy's stable argsort does, with
    repeats, 0, and small values crowding one bucket (past 64 of them, its fallback sort)."""
    fps = np.array(values, np.uint64)
    assert sorted_order(fps).tolist() == np.argsort(fps, kind="stable").tolist()


def test_hash_tables_start_no_larger_than_the_memory_cap_allows(monkeypatch):
    """A level's tables are sized from the last level's share of new rows, but never for more
    rows than the bank's memory cap leaves room for (a byte per value): a huge level under a
    small cap must not allocate a huge table up front."""
    from dsl.ast import const
    from synth.int_engine.engine import Enumerator, InProcess, productions_of

    rng = np.random.default_rng(3)
    env = {"x": rng.integers(0, 256, 64), "y": rng.integers(0, 256, 64)}
    dsl = get_dsl("int")
    productions = [p for p in productions_of(dsl, [INT, BOOL], exclude=["ite"])
                   if p.op in ("add", "mul", "bitxor")]
    asked = []
    original = FingerprintTable.__init__

    def spy(self, seen, *, expected=1 << 16):
        asked.append(expected)
        original(self, seen, expected=expected)
    monkeypatch.setattr(FingerprintTable, "__init__", spy)

    def grown(memory_bytes):
        enum = Enumerator(dsl=dsl, dsl_key="int", env=env,
                          leaves={INT: [Var("x"), Var("y"), const(1), const(2)]},
                          productions=productions, target=rng.integers(1 << 40, 1 << 41, 64),
                          target_type=INT, need=64, max_size_by_type={BOOL: 3},
                          memory_bytes=memory_bytes, kernel_min_level=0)
        asked.clear()
        for level in (3, 5, 7):
            enum.grow(level, InProcess(), check=lambda c: None)
        return enum, list(asked)

    enum, roomy = grown(4 << 30)                 # the cap leaves room: the share decides
    assert roomy[-1] > 1000
    cap = 32 << 10
    _, tight = grown(cap)
    assert max(tight) <= cap // 64 < roomy[-1]
