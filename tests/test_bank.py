"""Bank building blocks: the level's fingerprint set and the storage of rows by width."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.bank import FingerprintSet, fingerprint_key, fingerprints
from synth.enumerate import WIDTHS

batches = st.lists(st.lists(st.integers(0, 300), max_size=60), max_size=40)


@settings(max_examples=300, deadline=None)
@given(batches=batches, queries=st.lists(st.integers(0, 320), max_size=80))
def test_fingerprint_set_answers_as_a_python_set(batches, queries):
    """Whatever the order and overlap of additions, membership is a Python set's."""
    fps, truth = FingerprintSet(), set()
    for batch in batches:
        fps.update(np.array(batch, np.uint64))
        truth.update(batch)
        assert len(fps) == len(truth)
    q = np.array(sorted(queries), np.uint64)
    assert fps.contains(q).tolist() == [v in truth for v in sorted(queries)]
    # The runs stay sorted and geometrically sized (so look-ups stay few).
    assert all((run[1:] > run[:-1]).all() for run in fps.runs)
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
