"""Literals from the oracle: constants the network shows, found before the search starts.

The network is read along each int input (every value of its range, when at most `MAX_AXIS`),
the other inputs held at a few base points (their lows, highs, middles and a random point).
Along such a slice, three things are constants a program is likely to need:
- the values the output plateaus at (runs of at least `MIN_RUN` equal outputs, at least 1/32
  of the axis, at two base points or more), e.g. 7 and 40 for `min(max(x, 7), 40)`;
- the output's extremes over everything read, when some slice is piecewise linear (at most
  `MAX_BREAKS` slope changes): a bit trick's extremes are noise in its pool;
- the inputs where the output's slope changes or it jumps (where its second difference is not
  0), kept only for a slice with at most `MAX_BREAKS` of them (a bit trick's output changes
  slope everywhere: those points say nothing).
A value one of the other inputs holds at that base point is theirs, not the network's (max(x, y)
plateaus at y), and left out. `discover` returns each new value with where it came from, for
the search's notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_AXIS = 4096          # an axis with more values is not read whole
MIN_RUN = 4              # a plateau is at least this many equal outputs in a row ...
RUN_SHARE = 1 / 32       # ... and at least this share of the axis
MAX_BREAKS = 6           # slices with more slope changes are too irregular to say anything
MAX_LITERALS = 12        # new literals at most (plateaus first, then breakpoints, then extremes)
BASES = 4                # base points per axis: lows, highs, middles, one random point


@dataclass(frozen=True)
class Found:
    value: int
    sources: tuple[str, ...]       # e.g. ("plateau of the output for x in [0, 7]",)


def slices(spec, oracle, *, seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray, list]]:
    """(axis name, the axis's values, outputs (BASES, n), the base points) for each int input of
    at most MAX_AXIS values, the other inputs at each base point. One oracle query for all."""
    from dsl.types import INT

    rng = np.random.default_rng(seed)
    ints = [i for i in spec.inputs if i.type == INT and i.hi - i.lo + 1 <= MAX_AXIS]
    bases = [{i.name: v for i, v in zip(spec.inputs, point)} for point in (
        [i.lo for i in spec.inputs], [i.hi for i in spec.inputs],
        [(i.lo + i.hi) // 2 for i in spec.inputs],
        [int(rng.integers(i.lo, i.hi + 1)) for i in spec.inputs])][:BASES]
    columns: dict[str, list[np.ndarray]] = {i.name: [] for i in spec.inputs}
    shapes = []
    for axis in ints:
        xs = np.arange(axis.lo, axis.hi + 1, dtype=np.int64)
        for base in bases:
            for i in spec.inputs:
                columns[i.name].append(xs if i is axis else np.full(len(xs), base[i.name], np.int64))
        shapes.append((axis.name, xs))
    if not shapes:
        return []
    out = np.asarray(oracle.query({k: np.concatenate(v) for k, v in columns.items()}))
    result, at = [], 0
    for name, xs in shapes:
        n = len(xs) * len(bases)
        result.append((name, xs, out[at:at + n].reshape(len(bases), len(xs)).astype(np.int64),
                       bases))
        at += n
    return result


def discover(spec, oracle, *, known: set[int] = frozenset(), seed: int = 0,
             fits=lambda v: True) -> list[Found]:
    """The new literals (not in `known`, `fits(value)` true) the network's slices suggest, with
    their sources, at most MAX_LITERALS, the most telling first."""
    from dsl.types import INT

    plateaus: dict[int, list[str]] = {}
    breaks: dict[int, list[str]] = {}
    extremes: dict[int, list[str]] = {}
    int_output = spec.output.type == INT
    regular = False
    seen_at: dict[int, set[int]] = {}      # plateau value -> the base points it was seen at
    for name, xs, outs, bases in slices(spec, oracle, seed=seed):
        for b, (ys, base) in enumerate(zip(outs, bases)):
            # a value the other inputs hold at this base is theirs, not a constant of the
            # network's (max(x, y) plateaus at y): left out
            others = {v for k, v in base.items() if k != name}
            if int_output:
                for value, lo, hi in _runs(ys, max(MIN_RUN, int(len(ys) * RUN_SHARE))):
                    if value in others:
                        continue
                    seen_at.setdefault(value, set()).add(b)
                    plateaus.setdefault(value, []).append(
                        f"plateau of the output for {name} in [{xs[lo]}, {xs[hi]}]")
            where = _breakpoints(ys)
            regular |= len(where) <= MAX_BREAKS
            if 0 < len(where) <= MAX_BREAKS:
                for i in where:
                    if int(xs[i]) in others:
                        continue
                    breaks.setdefault(int(xs[i]), []).append(
                        f"the output {'changes slope' if int_output else 'flips'} at {name} = {xs[i]}")
        if int_output and regular:
            extremes.setdefault(int(outs.min()), []).append("the output's minimum")
            extremes.setdefault(int(outs.max()), []).append("the output's maximum")
    # a plateau at one base point only is the base's (hd19's m-slices plateau at values of x
    # and k): kept when it recurs at another base, as a clamp's does at every one
    plateaus = {v: s for v, s in plateaus.items() if len(seen_at[v]) > 1}
    found: dict[int, list[str]] = {}
    for table in (plateaus, breaks, extremes):
        for value, sources in table.items():
            if value in known or not fits(value):
                continue
            if value in found or len(found) < MAX_LITERALS:
                found.setdefault(value, []).extend(dict.fromkeys(sources))
    return [Found(v, tuple(dict.fromkeys(s))) for v, s in found.items()]


#: Literals a note names with their sources; the rest are counted.
NOTED = 3


def note(found: list[Found], *, shown: int = NOTED) -> str:
    """The search's note on the literals read from the network, short: the first `shown` with
    their first source, then how many more (`literals from the network: 40 (plateau of the
    output for x in [40, 63]), ...; and 9 more: 17, 200, ...`)."""
    head = "; ".join(f"{f.value} ({f.sources[0]}" + (
        f", and {len(f.sources) - 1} more" if len(f.sources) > 1 else "") + ")"
        for f in found[:shown])
    rest = found[shown:]
    if rest:
        values = ", ".join(str(f.value) for f in rest[:6]) + (", ..." if len(rest) > 6 else "")
        head += f"; and {len(rest)} more: {values}"
    return "literals from the network: " + head


def _runs(ys: np.ndarray, min_run: int) -> list[tuple[int, int, int]]:
    """(value, first index, last index) of each run of at least `min_run` equal values."""
    edges = np.flatnonzero(np.diff(ys)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(ys)]]) - 1
    return [(int(ys[s]), int(s), int(e)) for s, e in zip(starts, ends) if e - s + 1 >= min_run]


def _breakpoints(ys: np.ndarray) -> np.ndarray:
    """Indices where the slope changes (second difference not 0): the first point of the new
    slope, e.g. 7 for a clamp from below at 7."""
    if len(ys) < 3:
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.diff(ys, 2)) + 1
