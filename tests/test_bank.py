"""Bank building blocks: the level's fingerprint set and the storage of rows by width."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.bank import FingerprintSet, fingerprint_key, fingerprints
from synth.enumerate import WIDTHS

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
