"""Compiled kernels: an operator applied to every combination of argument rows, fused with the
fingerprint of each result.

numpy evaluates a block of candidates operator by operator, writing every candidate's values to
memory and reading them back to fingerprint them, although most candidates repeat a value already
found and are dropped at once. A kernel computes each candidate's values point by point in
registers, fingerprints them on the way and writes only the fingerprint. The new candidates
(about a third of them on the benchmark) are computed again when they are kept: once for their
ranges and agreement (which decide their storage width), once into that storage.

Kernels are compiled by numba from an operator row's `scalar` column (the operator on single
values) and, where the row has one, its `overflow` column. Compiling costs about 0.6 s per
operator (the writer once per storage width), so it is done once per machine: each operator's
kernels live in a small generated module under the cache directory (`NETSYNTH_CACHE`, else
~/.cache/netsynth), whose name carries a digest of the operator's code, and numba caches their
machine code beside it. Other processes, Ray workers among them, load them in milliseconds.
Where nothing can be written, kernels are compiled in memory, once per process.

Compiled levels also keep what they found in a `FingerprintTable` (a hash set in a generated
module of its own, cached the same way): of every block of candidates, the first copy of each
value that is neither in the bank nor found before by this process, in one probe per candidate.
The same module sorts what a batch kept by fingerprint (`sorted_order`), in linear time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from dsl.language import get_dsl
from dsl.ops import Operator

if TYPE_CHECKING:
    from synth.int_engine.bank import FingerprintSet

_LOADED: dict[tuple[str, str], "Kernel"] = {}


@dataclass(frozen=True)
class Kernel:
    """`fingerprints(args, key, out, ok)` writes into `out` the fingerprint of every combination
    of the arguments' rows (int64 or bool arrays of shape (rows, points), first argument
    slowest), as `synth.int_engine.bank.fingerprints` computes it from the values, and into `ok` whether no
    point overflowed (always True unless `checked`); `describe(args, picks, target, lo, hi,
    agree)` writes into `lo`, `hi` and `agree` the least and greatest value of combination
    `picks[r]` and how many of its values equal `target`; `values(args, picks, out)` writes its
    values into row r of `out`, of any int or bool dtype (the caller makes sure they fit), so that
    new rows go straight to their narrow storage."""

    fingerprints: Callable[..., None]
    describe: Callable[..., None]
    values: Callable[..., None]
    checked: bool               # the operator's `overflow` column is evaluated at every point
    module: Any                 # the generated module (its file, when cached on disk)


def kernel(dsl_key: str, row: Operator) -> Kernel:
    """The kernels of an operator with a `scalar` column, loaded or compiled on first use."""
    loaded = _LOADED.get((dsl_key, row.name))
    if loaded is None:
        module = _module(dsl_key, row)

        # Inputs go in as read-only views: numba compiles a function apart for read-only arrays
        # (the rows a Ray worker reads from the object store) and writable ones; passing only
        # read-only ones keeps it to one compilation.
        def fingerprints(args, key, out, ok):
            module.fingerprints(*map(_read_only, args), _read_only(key), out, ok)

        def describe(args, picks, target, lo, hi, agree):
            module.describe(*map(_read_only, args), _read_only(picks), _read_only(target), lo,
                            hi, agree)

        def values(args, picks, out):
            module.values(*map(_read_only, args), _read_only(picks), out)
        loaded = _LOADED[(dsl_key, row.name)] = Kernel(fingerprints, describe, values,
                                                       row.overflow is not None, module)
    return loaded


class FingerprintTable:
    """The values a level's batches found so far in one process (see `synth.int_engine.bank.SortedFound`),
    in an open-addressing hash set of fingerprints, seeded with the bank's: one probe per
    fingerprint, where sorted runs need a sort and binary searches. Fingerprints are uniformly
    spread 64-bit values: a multiplicative hash of each picks its slot, 0 marks an empty slot
    (the fingerprint 0 has a flag of its own), and the table doubles before it is half full.
    Compiled levels use it (the compiler is loaded then anyway)."""

    #: The fewest slots a table starts with.
    MIN_SLOTS = 1 << 16

    def __init__(self, seen: "FingerprintSet", *, expected: int = 1 << 16) -> None:
        self._k = _table_module()
        held = sum(len(run) for run in seen.runs)
        self.slots = np.zeros(self._capacity(held + expected), np.uint64)
        self.zero = np.zeros(1, np.uint8)           # whether fingerprint 0 is held
        self.used = 0
        for run in seen.runs:
            self.add(run)

    def first_new(self, fps: np.ndarray) -> np.ndarray:
        """Positions, in order, of the fingerprints not held (nor earlier in `fps`); held now."""
        if self.used + len(fps) > len(self.slots) // 2:
            self._grow(self.used + len(fps))
        out = np.empty(len(fps), np.intp)
        n = self._k.insert(self.slots, np.uint64(_shift(self.slots)), self.zero,
                           _read_only(np.ascontiguousarray(fps, np.uint64)), out)
        self.used += n
        return out[:n]

    def add(self, fps: np.ndarray) -> None:
        self.first_new(fps)

    def _grow(self, held: int) -> None:
        old = self.slots[self.slots != 0]
        self.slots = np.zeros(self._capacity(held), np.uint64)
        self._k.insert(self.slots, np.uint64(_shift(self.slots)), np.ones(1, np.uint8),
                       _read_only(old), np.empty(len(old), np.intp))

    def _capacity(self, held: int) -> int:
        """Slots for `held` fingerprints at most half full: a power of two."""
        return max(self.MIN_SLOTS, 1 << (2 * held).bit_length())


def sorted_order(fps: np.ndarray) -> np.ndarray:
    """`np.argsort(fps, kind="stable")` in linear time for evenly spread fingerprints (about
    four times faster than numpy's sort on the benchmark's 3M), by the generated table module."""
    out = np.empty(len(fps), np.intp)
    _table_module().order_of(_read_only(np.ascontiguousarray(fps, np.uint64)), out)
    return out


def _shift(slots: np.ndarray) -> int:
    return 64 - (len(slots).bit_length() - 1)


def _read_only(values: np.ndarray) -> np.ndarray:
    if not values.flags.writeable:
        return values
    view = values.view()
    view.flags.writeable = False
    return view


def counts() -> tuple[int, int]:
    """(compiled functions loaded from the disk cache, compiled functions compiled) so far in
    this process."""
    loaded = compiled = 0
    fns = [f for k in _LOADED.values()
           for f in (k.module.fingerprints, k.module.describe, k.module.values)]
    for fn in fns + [m.insert for m in _TABLE_MODULE]:
        loaded += fn.stats.cache_hits.total()
        compiled += fn.stats.cache_misses.total()
    return loaded, compiled


def column(dsl_key: str, name: str, col: str) -> Callable:
    """A scalar column of an operator, as a generated module imports it (a row without an
    `overflow` column never overflows)."""
    row = get_dsl(dsl_key).operators[name]
    fn = getattr(row, col)
    return fn if fn is not None else _NEVER[row.arity]


#: The overflow test of an operator that has none, per arity (numba inlines no *args).
_NEVER = {1: lambda a: False, 2: lambda a, b: False, 3: lambda a, b, c: False}


# ---- generated modules -------------------------------------------------------------------------

_HEADER = '''\
# Generated by netsynth (synth/int_engine/kernels.py): the kernels of operator {name!r} of DSL {dsl!r}.
import numba
import numpy as np

from synth.int_engine.kernels import column

f = numba.njit(inline="always", error_model="numpy")(column({dsl!r}, {name!r}, "scalar"))
bad = numba.njit(inline="always", error_model="numpy")(column({dsl!r}, {name!r}, "overflow"))
jit = numba.njit(error_model="numpy", boundscheck=False, nogil=True, cache={cache})
_MIN, _MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max
'''

#: The kernels' source, per arity: numba inlines the operator only where its call is spelled out.
#: Argument k is the array "abc"[k], read at row "ijk"[k]; the first argument's rows are slowest.
_FINGERPRINTS = '''
@jit
def fingerprints({args}, key, out, ok):
    n = 0
{loops}'''
_FINGERPRINT_BODY = '''acc, over = np.uint64(0), False
for p in range(a.shape[1]):
    acc += np.uint64(f({point})) * key[p]
    over |= bad({point})
out[n], ok[n] = acc, not over
n += 1
'''
_VALUES = '''

@jit
def describe({args}, picks, target, lo, hi, agree):
    for r in range(picks.shape[0]):
        rest = picks[r]
{split}        least, most, same = np.int64(_MAX), np.int64(_MIN), 0
        for p in range(a.shape[1]):
            v = f({point})
            least, most = min(least, np.int64(v)), max(most, np.int64(v))
            same += v == target[p]
        lo[r], hi[r], agree[r] = least, most, same


@jit
def values({args}, picks, out):
    for r in range(picks.shape[0]):
        rest = picks[r]
{split}        for p in range(a.shape[1]):
            out[r, p] = f({point})
'''


def _loops(arity: int) -> str:
    if not 1 <= arity <= 3:
        raise ValueError(f"no kernel for operators of arity {arity}")
    names, rows = "abc"[:arity], "ijk"[:arity]
    args, point = ", ".join(names), ", ".join(f"{a}[{x}, p]" for a, x in zip(names, rows))
    loops = "".join(" " * 4 * (d + 1) + f"for {x} in range({a}.shape[0]):\n"
                    for d, (a, x) in enumerate(zip(names, rows)))
    loops += textwrap.indent(_FINGERPRINT_BODY.format(point=point), " " * 4 * (arity + 1))
    split = "".join(f"        {x}, rest = rest % {a}.shape[0], rest // {a}.shape[0]\n"
                    for a, x in zip(names[:0:-1], rows[:0:-1])) + "        i = rest\n"
    return (_FINGERPRINTS.format(args=args, loops=loops)
            + _VALUES.format(args=args, split=split, point=point))


_TABLE = '''\
# Generated by netsynth (synth/int_engine/kernels.py): a hash set of fingerprints, and their sorting.
import numba
import numpy as np

jit = numba.njit(boundscheck=False, nogil=True, cache={cache})
_MIX = np.uint64(0x9E3779B97F4A7C15)      # 2^64 / golden ratio: spreads keys over the top bits
PER_BUCKET, MAX_INSERTION = 8, 64


@jit
def insert(slots, shift, zero, fps, out):
    """Insert each of `fps` not in `slots` (linear probing from the top bits of its product with
    _MIX; 0 is an empty slot, `zero[0]` says whether the fingerprint 0 is held) and write its
    position into `out`; return how many were inserted."""
    mask, n = slots.shape[0] - 1, 0
    for i in range(fps.shape[0]):
        k = fps[i]
        if k == 0:
            if zero[0] == 0:
                zero[0] = 1
                out[n] = i
                n += 1
            continue
        h = np.int64((k * _MIX) >> shift)
        while True:
            held = slots[h]
            if held == k:
                break
            if held == 0:
                slots[h] = k
                out[n] = i
                n += 1
                break
            h = (h + 1) & mask
    return n


@jit
def order_of(fps, out):
    """Write into `out` the positions of `fps` in ascending order (equal values in position
    order), for fingerprints spread evenly over 64 bits: a counting sort on the top bits into
    buckets of about `PER_BUCKET`, then an insertion sort of each (a merge sort of the rare
    bucket holding more than `MAX_INSERTION`)."""
    n = fps.shape[0]
    bits = 0
    while (1 << bits) * PER_BUCKET < n and bits < 26:
        bits += 1
    buckets = 1 << bits
    starts = np.zeros(buckets + 1, np.int64)
    for i in range(n):
        starts[_bucket(fps[i], bits) + 1] += 1
    for b in range(buckets):
        starts[b + 1] += starts[b]
    fill = starts[:-1].copy()
    keys = np.empty(n, np.uint64)
    for i in range(n):
        b = _bucket(fps[i], bits)
        keys[fill[b]] = fps[i]
        out[fill[b]] = i
        fill[b] += 1
    for b in range(buckets):
        lo, hi = starts[b], starts[b + 1]
        if hi - lo > MAX_INSERTION:
            out[lo:hi] = out[lo:hi][np.argsort(keys[lo:hi], kind="mergesort")]
            continue
        for j in range(lo + 1, hi):
            k, v, m = keys[j], out[j], j - 1
            while m >= lo and keys[m] > k:
                keys[m + 1], out[m + 1] = keys[m], out[m]
                m -= 1
            keys[m + 1], out[m + 1] = k, v


@numba.njit(inline="always")
def _bucket(fp, bits):
    return np.int64(fp >> np.uint64(64 - bits)) if bits else 0
'''
_TABLE_MODULE: list = []


def _table_module():
    if not _TABLE_MODULE:
        stem = "table_" + hashlib.sha256(_TABLE.encode()).hexdigest()[:16]
        _TABLE_MODULE.append(_load(stem, _TABLE.format(cache=True), _TABLE.format(cache=False)))
    return _TABLE_MODULE[0]


def _module(dsl_key: str, row: Operator):
    # numba keys its cache on a function's own code, not on the functions it inlines: the file
    # name carries a digest of those, so an edited operator gets a new module.
    digest = hashlib.sha256(repr((dsl_key, row.name, _loops(row.arity), _code(row.scalar),
                                  _code(row.overflow))).encode()).hexdigest()[:16]
    stem = f"k_{_slug(dsl_key)}_{row.name}_{digest}"
    return _load(stem, _source(dsl_key, row, cache=True), _source(dsl_key, row, cache=False))


def _load(stem: str, cached: str, in_memory: str):
    """The generated module `stem`: its file in the cache directory (source `cached`), or,
    where nothing can be written, `in_memory` compiled once per process."""
    path = _write(stem, cached)
    if path is not None:
        spec = importlib.util.spec_from_file_location(f"netsynth_kernels_{stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module     # numba finds its globals by name when loading
        spec.loader.exec_module(module)
        return module
    module = type(sys)(stem)
    exec(compile(in_memory, f"<{stem}>", "exec"), module.__dict__)
    return module


def _source(dsl_key: str, row: Operator, *, cache: bool) -> str:
    return _HEADER.format(name=row.name, dsl=dsl_key, cache=cache) + _loops(row.arity)


def _code(fn: Callable | None) -> str:
    """What a function computes, as text: its bytecode, names and constants (nested code
    included); stable across processes, unlike marshal's output."""
    def text(code) -> str:
        consts = tuple(text(c) if hasattr(c, "co_code") else repr(c) for c in code.co_consts)
        return repr((code.co_code, code.co_names, code.co_varnames, consts))
    code = getattr(fn, "__code__", None)
    return text(code) if code is not None else repr(fn)


def _write(stem: str, source: str) -> Path | None:
    """The generated module's file, written (atomically) unless it is there already; None when
    the cache directory cannot be written."""
    root = Path(os.environ.get("NETSYNTH_CACHE") or Path.home() / ".cache" / "netsynth") \
        / "kernels"
    path = root / f"{stem}.py"
    try:
        if path.is_file() and path.read_text() == source:
            return path
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=root, suffix=".tmp", delete=False) as tmp:
            tmp.write(source)
        os.replace(tmp.name, path)
        return path
    except OSError:
        return None


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)[-40:]
