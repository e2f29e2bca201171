"""Unit tests of the domain objects (pure numpy; no model).

Truths: itertools' products for enumeration, Python's own arithmetic for positions and intervals,
counting for strata.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dsl.errors import EncodingError, ModelError, SpecError
from dsl.types import BOOL, INT, REAL
from oracle.domains import Axis, IntegerLattice, RealBox, Sequences
from oracle.encoding import Reach
from oracle.protocol import query_sequences
from oracle.spec import load_spec

ANY_INT = Reach(-(2**62 - 1), 2**62 - 1, "raw")
ANY_REAL = Reach(-math.inf, math.inf, "raw")


def axis(name: str, lo, hi, reach: Reach | None = None, typ=INT) -> Axis:
    return Axis(name, typ, lo, hi, reach or Reach(lo, hi, f"{name} is fixed"))


@st.composite
def small_lattice(draw, max_axes: int = 3):
    k = draw(st.integers(1, max_axes))
    axes = []
    for j in range(k):
        lo = draw(st.integers(-6, 6))
        axes.append(axis(f"v{j}", lo, lo + draw(st.integers(0, 5))))
    return IntegerLattice(tuple(axes))


@settings(max_examples=100, deadline=None)
@given(lattice=small_lattice())
def test_lattice_points_and_positions_agree_with_itertools(lattice: IntegerLattice) -> None:
    expected = list(itertools.product(*(range(a.lo, a.hi + 1) for a in lattice.axes)))
    points = lattice.points()
    assert lattice.size == len(expected)
    assert [tuple(p) for p in points.tolist()] == expected  # first axis slowest
    idx, inside = lattice.index(points)
    assert inside.all() and idx.tolist() == list(range(len(expected)))
    assert lattice.at(idx).tolist() == points.tolist()


@settings(max_examples=100, deadline=None)
@given(lattice=small_lattice(), data=st.data())
def test_lattice_index_marks_points_outside(lattice: IntegerLattice, data) -> None:
    rows = data.draw(st.lists(st.tuples(*(st.integers(a.lo - 3, a.hi + 3) for a in lattice.axes)),
                              min_size=1, max_size=30))
    batch = np.array(rows, dtype=np.int64)
    idx, inside = lattice.index(batch)
    truth = [all(a.lo <= v <= a.hi for a, v in zip(lattice.axes, row)) for row in rows]
    assert inside.tolist() == truth
    everything = list(itertools.product(*(range(a.lo, a.hi + 1) for a in lattice.axes)))
    assert idx.tolist() == [everything.index(row) for row, ok in zip(rows, truth) if ok]


def test_lattice_points_refuses_above_limit_and_huge_lattices_still_sample() -> None:
    wide = IntegerLattice((axis("x", -(2**62 - 1), 2**62 - 1, ANY_INT), axis("y", 0, 2**40)))
    assert wide.size == (2**63 - 1) * (2**40 + 1) and wide.points() is None
    got = wide.sample(50, seed=1)
    assert got.shape == (50, 2) and len({tuple(r) for r in got.tolist()}) == 50
    assert {-(2**62 - 1), -1, 0, 1, 2**62 - 1} <= set(got[:, 0].tolist())
    small = IntegerLattice((axis("x", 0, 9),))
    assert small.points(limit=9) is None and len(small.points(limit=10)) == 10


def test_lattice_columns_are_typed() -> None:
    lattice = IntegerLattice((axis("x", -1, 1), axis("b", 0, 1, typ=BOOL)))
    cols = lattice.columns(lattice.points())
    assert cols["x"].dtype == np.int64 and cols["b"].dtype == bool
    assert cols["b"].tolist() == [False, True] * 3


def test_beyond_interval_is_factor_widths_within_reach() -> None:
    # width 11, |lo| 0, |hi| 10: 4 * 11 = 44 either side, cut by what the encoding expresses
    assert axis("x", 0, 10, ANY_INT).beyond_interval(4) == (-44, 54)
    assert axis("x", 0, 10, Reach(0, 20, "bits")).beyond_interval(4) == (0, 20)
    assert axis("x", -3, 100, ANY_INT).beyond_interval(1) == (-3 - 104, 100 + 104)
    assert axis("x", 0, 10).beyond_interval(4) == (0, 10)  # one_hot-like: nothing beyond
    near = 2**62 - 1
    assert axis("x", -near, near, ANY_INT).beyond_interval(4) == (-near, near)
    assert axis("r", 1.0, 3.0, ANY_REAL, REAL).beyond_interval(2) == (1.0 - 6.0, 3.0 + 6.0)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_lattice_beyond_points_are_outside_and_expressible(data) -> None:
    axes = []
    for j in range(data.draw(st.integers(1, 3))):
        lo = data.draw(st.integers(0, 50))
        hi = lo + data.draw(st.integers(0, 50))
        top = data.draw(st.sampled_from([hi, hi + 1, 2 * hi + 7, None]))
        reach = ANY_INT if top is None else Reach(0 if top > hi else lo, top, "bounded")
        axes.append(axis(f"v{j}", lo, hi, reach))
    lattice = IntegerLattice(tuple(axes))
    able, reason = lattice.can_go_beyond()
    if not able:
        assert reason == "; ".join(f"{a.name}: bounded" for a in axes)
        with pytest.raises(EncodingError, match="no input can be encoded outside its training range"):
            lattice.beyond(10)
        return
    got = lattice.beyond(200, seed=data.draw(st.integers(0, 5)))
    rows = [tuple(r) for r in got.tolist()]
    assert len(set(rows)) == len(rows) > 0
    for row in rows:
        assert any(not a.lo <= v <= a.hi for a, v in zip(axes, row))
        for a, v in zip(axes, row):
            lo, hi = a.beyond_interval(4)
            assert lo <= v <= hi


def test_real_box_latin_hypercube_uses_every_stratum_once() -> None:
    box = RealBox((axis("a", -2.0, 6.0, ANY_REAL, REAL), axis("b", 0.5, 0.75, ANY_REAL, REAL)))
    n = 97
    got = box.sample(n, seed=3)
    assert got.shape == (n, 2) and got.dtype == np.float64
    for k, a in enumerate(box.axes):
        assert ((got[:, k] >= a.lo) & (got[:, k] <= a.hi)).all()
        strata = np.floor((got[:, k] - a.lo) / (a.hi - a.lo) * n).astype(int)
        assert sorted(strata.tolist()) == list(range(n))
    assert np.array_equal(box.sample(n, seed=3), got) and not np.array_equal(box.sample(n, seed=4), got)
    uniform = box.sample(500, seed=0, method="uniform")
    assert ((uniform >= box.lo) & (uniform <= box.hi)).all()
    assert box.size == math.inf and box.points() is None
    with pytest.raises(ValueError, match="expected method 'lhs' or 'uniform', got 'grid'"):
        box.sample(3, method="grid")


def test_real_box_beyond_is_strictly_outside_and_within_factor() -> None:
    box = RealBox((axis("a", -1.0, 1.0, ANY_REAL, REAL), axis("b", 10.0, 12.0, Reach(0.0, 13.0, "b"), REAL)))
    got = box.beyond(400, seed=2)
    assert len(got) == 400 and np.isfinite(got).all()
    outside = (got < box.lo) | (got > box.hi)
    assert outside.any(axis=1).all()
    assert (got[:, 0] >= -1.0 - 4 * 2.0).all() and (got[:, 0] <= 1.0 + 4 * 2.0).all()
    assert (got[:, 1] >= 0.0).all() and (got[:, 1] <= 13.0).all()  # the reach bounds b
    assert outside[:, 0].any() and outside[:, 1].any()


SEQ_STEP = IntegerLattice((axis("b", 0, 1, typ=BOOL), axis("d", 0, 2)))  # an alphabet of 6 steps


def test_sequences_enumerate_every_sequence_up_to_a_length() -> None:
    seqs = Sequences(SEQ_STEP, 0, 3)
    assert seqs.size == 1 + 6 + 36 + 216
    got = seqs.points()
    steps = [tuple(p) for p in SEQ_STEP.points().tolist()]
    assert sorted(got) == [0, 1, 2, 3]
    for t in range(4):
        assert got[t].shape == (6 ** t, t, 2)
        as_tuples = [tuple(tuple(step) for step in seq) for seq in got[t].tolist()]
        assert as_tuples == list(itertools.product(steps, repeat=t))
    again = seqs.sample(259)  # n >= size: every sequence
    assert sorted(again) == sorted(got) and all(np.array_equal(again[t], got[t]) for t in got)
    assert Sequences(SEQ_STEP, 1, 3).points(limit=257) is None


def test_sequences_sample_and_beyond() -> None:
    seqs = Sequences(SEQ_STEP, 2, 5)
    got = seqs.sample(300, seed=1)
    assert sum(len(b) for b in got.values()) == 300 and set(got) <= {2, 3, 4, 5}
    for t, batch in got.items():
        assert batch.shape[1:] == (t, 2)
        assert set(batch[..., 0].ravel().tolist()) <= {0, 1} and set(batch[..., 1].ravel().tolist()) <= {0, 1, 2}
    assert all(np.array_equal(got[t], seqs.sample(300, seed=1)[t]) for t in got)
    longer = seqs.beyond(100, seed=0, factor=3)
    assert sum(len(b) for b in longer.values()) == 100 and set(longer) <= set(range(6, 16))
    assert seqs.can_go_beyond()[0] is True
    reals = Sequences(RealBox((axis("r", 0.0, 1.0, ANY_REAL, REAL),)), 1, 2)
    assert reals.size == math.inf and reals.points() is None
    assert sum(len(b) for b in reals.sample(10).values()) == 10
    with pytest.raises(ValueError, match=r"expected 0 <= min_len <= max_len, got \[3, 2\]"):
        Sequences(SEQ_STEP, 3, 2)


class RunningSum:
    """A toy sequence model: the running sum of each step's `d` input."""

    width = 2

    def __init__(self, per_step: bool, broken: bool = False) -> None:
        self.per_step, self.broken = per_step, broken

    def query(self, batch: np.ndarray) -> np.ndarray:
        sums = np.cumsum(batch[..., 1], axis=1)
        if self.broken:
            return sums.T
        return sums if self.per_step else sums[:, -1]


def test_sequence_oracle_protocol_checks_shapes() -> None:
    batches = Sequences(SEQ_STEP, 1, 4).sample(50, seed=0)
    final = query_sequences(RunningSum(per_step=False), batches)
    steps = query_sequences(RunningSum(per_step=True), batches)
    for t, batch in batches.items():
        assert final[t].tolist() == [sum(step[1] for step in seq) for seq in batch.tolist()]
        assert steps[t].tolist() == [list(itertools.accumulate(step[1] for step in seq))
                                     for seq in batch.tolist()]
    with pytest.raises(SpecError, match=r"expected a batch of shape \(n, 3, 2\) for length 3, got \(4, 2, 2\)"):
        query_sequences(RunningSum(False), {3: np.zeros((4, 2, 2), np.int64)})
    with pytest.raises(ModelError, match=r"answered shape \(3, 4\) for a batch of shape \(4, 3, 2\), expected \(4, 3\)"):
        query_sequences(RunningSum(True, broken=True), {3: np.zeros((4, 3, 2), np.int64)})


def test_spec_domain_carries_each_encodings_reach() -> None:
    spec = load_spec({"inputs": [{"name": "x", "range": [0, 9], "encoding": "bits", "width": 6},
                                 {"name": "y", "range": [0, 9], "encoding": "one_hot"},
                                 {"name": "z", "range": [-5, 5]}, {"name": "b", "type": "bool"}],
                      "output": {"type": "bool"}})
    lattice = spec.domain()
    assert isinstance(lattice, IntegerLattice) and lattice.size == 10 * 10 * 11 * 2 == spec.domain_size()
    assert [(a.reach.lo, a.reach.hi) for a in lattice.axes] == [(0, 63), (0, 9), (-(2**62 - 1), 2**62 - 1), (0, 1)]


def test_spec_types_are_dsl_types() -> None:
    from dsl.types import seq, type_named

    assert REAL.np_dtype == np.float64 and type_named("real") is REAL and type_named(INT) is INT
    steps = seq(INT)
    assert str(steps) == "seq[int]" and steps != INT and steps == seq(INT) and steps != seq(BOOL)
    with pytest.raises(TypeError, match="type seq\\[int\\] has no array representation"):
        steps.np_dtype
