"""Generalisation: does the program still match the reference outside the training range?

`search(program, reference, variables=..., ranges=...)` uses Hypothesis as a library to draw inputs
with at least one int outside its range (each int from its range, below it or above it alike, up to
`factor` range-widths out on either side, negatives included: the programs are Python functions on
unbounded ints; bools stay bools) and compares the
two exported Python functions. On a failure Hypothesis shrinks it, and the result carries the
minimal counterexample it found, re-evaluated. Runs are deterministic for a seed (no database).

`network_beyond(oracle, program)` is the network's own agreement with a program (the reference,
or the program found: trust without a reference) on `oracle.sampling.beyond_range` points, with
the first points where they part, or None with the reason when the encodings cannot express such
inputs (one_hot, narrow bits) or there is no program to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from dsl import DSL, Node, Type, compile_python, get_dsl
from dsl.errors import EncodingError
from dsl.ops import signed_bits
from dsl.smt import interval
from dsl.types import INT
from verifier.equivalence import Counterexample

MAX_BITS = 1 << 16  # cap on intermediate sizes, so a shift cannot build a gigantic int


@dataclass(frozen=True)
class Generalisation:
    """`checked`: examples compared up to and including the first failure (all when `holds`);
    shrinking attempts are not counted."""

    checked: int
    holds: bool
    counterexample: Counterexample | None = None


@dataclass(frozen=True)
class NetworkBeyond:
    agreement: float | None
    points: int = 0
    note: str | None = None
    departures: tuple[tuple[tuple[tuple[str, Any], ...], Any, Any], ...] = ()   # (inputs, network, program)

    def departures_dict(self) -> list[dict[str, Any]]:
        return [{"inputs": dict(inputs), "network": net, "program": prog}
                for inputs, net, prog in self.departures]


def search(program: Node, reference: Node, *, variables: Mapping[str, Type],
           ranges: Mapping[str, tuple[int, int]], examples: int = 500, factor: int = 4,
           dsl: DSL | None = None, seed: int = 0) -> Generalisation:
    """Look for inputs outside `ranges` where `program` and `reference` differ (Python semantics).
    The same `seed` draws the same inputs."""
    import random

    import hypothesis
    from hypothesis import strategies as st

    dsl = dsl or get_dsl("int")
    names = list(variables)
    ints = [n for n in names if variables[n] == INT]
    if not ints or examples <= 0:
        return Generalisation(0, True)
    reach = _reach(program, reference, variables, ranges, factor, dsl)
    f = compile_python(program, names, dsl=dsl)
    g = compile_python(reference, names, dsl=dsl)
    width = getattr(dsl, "width", None)
    if width is not None and all(ranges[n] == (0, (1 << width) - 1) for n in ints):
        return Generalisation(0, True)          # every W-bit value is in range: nothing beyond
    strategies = {n: _int_values(ranges[n], reach[n], width) if variables[n] == INT
                  else st.booleans() for n in names}

    def outside(point: dict) -> bool:
        return any(not ranges[n][0] <= point[n] <= ranges[n][1] for n in ints)

    seen = {"checked": 0, "failed": False}

    def differs(point: dict) -> bool:
        if not seen["failed"]:
            seen["checked"] += 1
        bad = f(**point) != g(**point)
        seen["failed"] |= bad
        return bad

    settings = hypothesis.settings(database=None, deadline=None, max_examples=examples,
                                   phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink])
    try:
        found = hypothesis.find(st.fixed_dictionaries(strategies).filter(outside), differs,
                                settings=settings, random=random.Random(seed))
    except hypothesis.errors.NoSuchExample:
        return Generalisation(seen["checked"], True)
    inputs = tuple((n, found[n]) for n in names)
    return Generalisation(seen["checked"], False, Counterexample(inputs, f(**found), g(**found)))


def _int_values(bounds: tuple[int, int], reach: int, width: int | None = None) -> Any:
    """Ints within `reach` of [lo, hi], drawn from the range, below it or above it alike: drawn
    from one interval, Hypothesis favours small values, which for a range around 0 are nearly all
    inside it (and the filter then rejects most examples). With a `width` (a bit-vector DSL) only
    W-bit values are drawn: an int that is none is no input of such a function."""
    from hypothesis import strategies as st

    lo, hi = bounds
    below, above = (lo - reach, lo - 1), (hi + 1, hi + reach)
    if width is not None:
        below, above = (max(0, below[0]), below[1]), (above[0], min((1 << width) - 1, above[1]))
    return st.one_of(st.integers(lo, hi),
                     *(st.integers(a, b) for a, b in (below, above) if a <= b))


def _reach(program: Node, reference: Node, variables: Mapping[str, Type],
           ranges: Mapping[str, tuple[int, int]], factor: int, dsl: DSL) -> dict[str, int]:
    """How far past each int range to draw: `factor` widths, halved until values stay < MAX_BITS."""
    ints = [n for n, t in variables.items() if t == INT]
    reach = {n: factor * max(ranges[n][1] - ranges[n][0] + 1, abs(ranges[n][0]),
                             abs(ranges[n][1]), 16) for n in ints}
    while True:
        wide = {n: (ranges[n][0] - reach[n], ranges[n][1] + reach[n]) for n in ints}
        seen: list = []
        for node in (program, reference):
            interval(node, wide, dsl=dsl, seen=seen)
        if max((signed_bits(lo, hi) for lo, hi in seen), default=1) <= MAX_BITS or \
                all(r <= 1 for r in reach.values()):
            return reach
        reach = {n: max(1, r // 2) for n, r in reach.items()}


def network_beyond(oracle: Any, reference: Node | None, *, points: int = 4096, seed: int = 0,
                   dsl: DSL | None = None, departures: int = 5) -> NetworkBeyond:
    """Fraction of beyond-range points where the network gives `reference`'s value (any program:
    the reference, or the program found), with the first `departures` points where it does not."""
    from oracle import sampling

    if reference is None:
        return NetworkBeyond(None, note="no reference to compare the network with")
    able, reason = sampling.can_encode_beyond(oracle.spec)
    if not able:
        return NetworkBeyond(None, note=reason)
    try:
        columns = sampling.beyond_range(oracle.spec, points, seed=seed)
        network = oracle.query(columns).tolist()
    except EncodingError as e:
        return NetworkBeyond(None, note=str(e))
    names = list(oracle.spec.input_names)
    g = compile_python(reference, names, dsl=dsl)
    rows = list(zip(*(columns[n].tolist() for n in names)))
    values = [g(*row) for row in rows]
    parted = [k for k, (v, out) in enumerate(zip(values, network)) if v != out]
    total = len(network)
    listed = tuple((tuple(zip(names, rows[k])), network[k], values[k]) for k in parted[:departures])
    return NetworkBeyond((total - len(parted)) / total if total else None, total,
                         None if total else "no beyond-range points could be drawn", listed)
