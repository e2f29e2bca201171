"""A smaller whole program after a decomposition, met in the middle (issue 22).

A decomposition joins its parts into a program of size S that is right on the whole domain, but
not always the natural one: hd14's floor average comes out as `(y & (x & 1)) + (x >>u 1) +
(y >>u 1)` (13 nodes) where `(x & y) + ((x ^ y) >>u 1)` has 9. Enumerating whole programs of two
bytes up to size 8 runs out of time and memory (docs/hackers_delight.md), but the natural programs
are one invertible operator over two small terms: f = a + b, a - b or a ^ b. So the terms are
enumerated on a small sample of the domain only up to size k (the ordinary engine, with the
problem's literals, those the network gave included), and for each term a the term b that the
target needs (f - a, a - f or f ^ a, modulo 2^W) is looked up among the terms by its fingerprint:
programs up to size 2k + 1 from banks of size k. The pairs smaller than S are checked on the whole
domain (every point when it is enumerable), smallest first; the first right everywhere replaces
the decomposition's. Sound (nothing is accepted unchecked) but not complete: two terms equal on
the sample share a row, and a program that is not an invertible operator at its root is not met.
"""

from __future__ import annotations

import time

import numpy as np

from dsl.ast import size
from dsl.types import INT

SAMPLE = 96                 # points the terms are enumerated on
MAX_LEVEL = 6               # largest term enumerated
MAX_ROWS = 300_000          # terms at most (the meet holds their values as int64)
CHECKS = 400                # candidate pairs checked on the whole domain at most
CHUNK = 1 << 15             # rows whose residuals are computed at once

#: The operators at the root, and the other argument each needs: b from (target, a, modulus).
TOPS = {
    "add": lambda t, a, m: (t - a) % m,           # a + b = t
    "sub": lambda t, a, m: (a - t) % m,           # a - b = t
    "bitxor": lambda t, a, m: t ^ a,              # a ^ b = t
}


def smaller(problem, options, bound: int, *, deadline: float, executor, cancel=None):
    """(program, note) for a program of fewer than `bound` nodes equal to the network on the
    whole domain, or None (nothing met, the DSL is not a bit-vector one, or time ran out)."""
    from oracle import sampling
    from synth.int_engine.engine import Enumerator, productions_of
    from synth.outcome import StopReason
    from synth.search import operators

    name = problem.dsl.name
    if problem.target_type != INT or not name.startswith("bv") or bound <= 3:
        return None
    modulus = 1 << int(name[2:])
    allowed = operators(problem.dsl, options.ops)
    tops = [op for op in TOPS if op in allowed]
    if not tops:
        return None
    began = time.monotonic()
    full = sampling.domain(problem.spec)
    if full is None:
        full = sampling.sample(problem.spec, 1 << 16, seed=options.seed + 1)
    full_target = np.asarray(problem.oracle.query(full))
    sample = sampling.sample(problem.spec, SAMPLE, seed=options.seed + 7)
    target = np.asarray(problem.oracle.query(sample)).astype(np.int64)
    excluded = ["ite", *(n for n in problem.dsl.operators if n not in allowed)]
    enum = Enumerator(dsl=problem.dsl, dsl_key=problem.dsl_key, env=sample,
                      leaves=problem.leaves(), productions=productions_of(problem.dsl, [INT],
                                                                          exclude=excluded),
                      target=target, target_type=INT, need=len(target) + 1,
                      max_size_by_type={}, memory_bytes=options.memory_bytes)

    def check(_candidates):
        if cancel is not None and cancel.is_set():
            return StopReason.CANCELLED
        return StopReason.TIME if time.monotonic() > deadline else None

    top_level = min(MAX_LEVEL, (bound - 2) // 2 + 1)
    for level in range(2, top_level + 1):
        if check(0) is not None:
            break
        out = enum.grow(level, executor, check=check)
        if out.stop is not None:
            break
        if enum.banks[INT].rows > MAX_ROWS:
            break
        found = _meet(enum, tops, target, modulus, bound, full, full_target, problem.dsl)
        if found is not None:
            program, a, b = found
            return program, (f"a smaller whole program replaces the decomposition's "
                             f"(size {bound}): {problem.dsl.show(program)} (size {size(program)}: "
                             f"terms of sizes {a} and {b} met on {SAMPLE} points, checked on "
                             f"{len(full_target)}; {time.monotonic() - began:.1f} s)")
    return None


def _rows(enum):
    """(values int64 (R, P), sizes (R,), global row ids (R,)) of the live int terms."""
    values, sizes, ids = [], [], []
    for level_size, level in sorted(enum.banks[INT].levels.items()):
        for seg in level.segments:
            keep = np.ones(len(seg.values), bool) if seg.alive is None else seg.alive
            values.append(seg.values[keep].astype(np.int64))
            sizes.append(np.full(int(keep.sum()), level_size, np.int64))
            ids.append(seg.offset + np.flatnonzero(keep))
    return np.concatenate(values), np.concatenate(sizes), np.concatenate(ids)


def _meet(enum, tops, target, modulus, bound, full, full_target, dsl):
    """The smallest right pair `top(a, b)` under `bound`, as (program, size a, size b)."""
    from dsl.evaluate import evaluate
    from synth.int_engine.bank import fingerprints, rebuild

    values, sizes, ids = _rows(enum)
    fps = fingerprints(values, enum.key)
    order = np.argsort(fps, kind="stable")
    sorted_fps = fps[order]
    pairs = []                        # (total size, op rank, size a, row a, row b)
    for rank, op in enumerate(tops):
        for start in range(0, len(values), CHUNK):
            a = slice(start, start + CHUNK)
            need = TOPS[op](target, values[a], modulus)
            got = fingerprints(need, enum.key)
            at = np.minimum(np.searchsorted(sorted_fps, got), len(sorted_fps) - 1)
            hit = np.flatnonzero(sorted_fps[at] == got)
            for i, j in zip(hit + start, order[at[hit]]):
                total = int(sizes[i] + sizes[j] + 1)
                if total < bound:
                    pairs.append((total, rank, int(sizes[i]), int(i), int(j)))
    pairs.sort()
    productions = list(enum.productions)
    for total, rank, _, i, j in pairs[:CHECKS]:
        a, b = (rebuild(enum.banks, INT, int(ids[k]), dsl=dsl, productions=productions,
                        leaves=enum.leaves) for k in (i, j))
        program = dsl.app(tops[rank], a, b)
        got = evaluate(program, full, dsl=dsl)
        if not got.bad.any() and np.array_equal(got.values, full_target):
            return program, int(sizes[i]), int(sizes[j])
    return None
