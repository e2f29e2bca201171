"""Bank building blocks: the level's fingerprint set and the storage of rows by width."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.int_engine.bank import FingerprintSet, fingerprint_key, fingerprints
from synth.int_engine.enumerate import WIDTHS

# Small ints mapped one-to-one over all 64 bits (an odd multiplier is invertible mod 2^64), so that
# values repeat often and yet the set's top-bits filter sees fingerprint-like values.
MIX = 0x9E3779B97F4A7C15


def spread(values) -> np.ndarray:
    return np.array([v * MIX % 2**64 for v in values], np.uint64)


def unspread(values: np.ndarray) -> list[int]:
    inverse = pow(MIX, -1, 2**64)
    return [int(v) * inverse % 2**64 for v in values]


batches = st.lists(st.lists(st.integers(0, 300), max_size=60), max_size=40)


@settings(max_examples=300, deadline=None)
@given(batches=batches, queries=st.lists(st.integers(0, 320), max_size=80))
def test_fingerprint_set_answers_as_a_python_set(batches, queries):
    """Whatever the order and overlap of additions, membership is a Python set's."""
    fps, truth = FingerprintSet(), set()
    for batch in batches:
        fps.update(spread(set(batch)))
        truth.update(batch)
    q = np.sort(spread(queries))
    assert fps.contains(q).tolist() == [v in truth for v in unspread(q)]
    # The runs stay sorted and geometrically sized (so look-ups stay few).
    assert all((run[1:] >= run[:-1]).all() for run in fps.runs)
    assert all(len(a) >= FingerprintSet.RATIO * len(b) for a, b in zip(fps.runs, fps.runs[1:]))


@settings(max_examples=100, deadline=None)
@given(big=st.sets(st.integers(0, 10**6), min_size=64, max_size=200),
       small=st.sets(st.integers(0, 10**6), min_size=1, max_size=3),
       absent=st.sets(st.integers(10**6 + 1, 2 * 10**6), max_size=5))
def test_values_held_in_a_smaller_run_are_found(big, small, absent):
    """A set of several runs (a large one, then one of a few values): every value is found,
    in whichever run it is, and no other."""
    fps = FingerprintSet()
    fps.update(spread(big))
    fps.update(spread(small - big))
    assert len(fps.runs) == 2 or not small - big
    q = np.sort(spread(big | small | absent))
    assert fps.contains(q).tolist() == [v not in absent for v in unspread(q)]


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(st.integers(-2**63, 2**63 - 1), min_size=6, max_size=6),
                     min_size=1, max_size=8))
def test_fingerprints_do_not_depend_on_the_storage_width(rows):
    """A row stored narrow fingerprints as its int64 form: equal values, equal fingerprints."""
    key = fingerprint_key(6)
    wide = np.array(rows, np.int64)
    expected = fingerprints(wide, key)
    for dtype in WIDTHS:
        info = np.iinfo(dtype)
        fits = (wide >= info.min).all(axis=1) & (wide <= info.max).all(axis=1)
        if fits.any():
            narrow = wide[fits].astype(dtype)
            assert fingerprints(narrow, key).tolist() == expected[fits].tolist()


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(1, 7), min_size=1, max_size=6), data=st.data())
def test_a_block_of_rows_reads_across_segments_as_one_array(sizes, data):
    """`_Rows.block(a, b)` gives rows [a, b) of the level, whatever segments hold them: values
    (widened), ranges, liveness and global ids as if the level were one array."""
    from synth.int_engine.bank import segment
    from synth.int_engine.blocks import Rows as _Rows

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    segments, offset = [], 100
    for n in sizes:
        dtype = data.draw(st.sampled_from(WIDTHS))
        values = rng.integers(-100, 100, (n, 3)).astype(dtype)
        alive = rng.random(n) < 0.8 if data.draw(st.booleans()) else None
        segments.append(segment(values, offset, alive))
        offset += n
    whole = np.concatenate([s.values.astype(np.int64) for s in segments])
    alive = np.concatenate([np.ones(len(s.values), bool) if s.alive is None else s.alive
                            for s in segments])
    a = data.draw(st.integers(0, len(whole) - 1))
    b = data.draw(st.integers(a + 1, len(whole)))
    seg, x, y = _Rows(segments).block(a, b)
    assert seg.values[x:y].astype(np.int64).tolist() == whole[a:b].tolist()
    assert seg.lo[x:y].tolist() == whole[a:b].min(axis=1).tolist()
    assert seg.hi[x:y].tolist() == whole[a:b].max(axis=1).tolist()
    got_alive = np.ones(y - x, bool) if seg.alive is None else seg.alive[x:y]
    assert got_alive.tolist() == alive[a:b].tolist()
    assert seg.offset + x == 100 + a


def test_fingerprints_refuse_float_rows() -> None:
    """Two different float rows would both truncate to 0: the int engine refuses them."""
    from synth.int_engine.bank import fingerprints

    key = np.array([1, 3], np.uint64)
    with pytest.raises(TypeError, match="integer or boolean rows, got float64"):
        fingerprints(np.array([[0.25, 0.5], [0.75, 0.125]]), key)
    narrow = np.array([[-1, 2]], np.int8)
    assert fingerprints(narrow, key)[0] == fingerprints(narrow.astype(np.int64), key)[0]
