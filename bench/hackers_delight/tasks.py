"""The Hacker's Delight tasks of ../shared/benchmarks/hackers_delight.md at 8 bits.

Each task has its inputs (name and bit width; every value is unsigned, 0 ... 2^width - 1), what
it computes written in numpy (the truth the networks are trained on, independent of netsynth's DSL)
and its known smallest program in the `bv8` DSL (the spec's `reference`, which `train.py` checks
against the truth on the whole domain). Signed readings are two's complement at 8 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

M = 255


def signed(v: np.ndarray) -> np.ndarray:
    return np.where(v >= 128, v - 256, v)


@dataclass(frozen=True)
class Task:
    name: str
    what: str
    inputs: tuple[tuple[str, int], ...]          # (name, bits); ranges are [0, 2^bits - 1]
    truth: Callable[..., np.ndarray]             # numpy, on int64 columns in input order
    reference: str                               # bv8 text
    output: str = "int"                          # "int" (8 bits) or "bool"

    def domain(self) -> list[np.ndarray]:
        """Every input point, the first input varying slowest (the oracle's order)."""
        grids = np.meshgrid(*[np.arange(1 << bits) for _, bits in self.inputs], indexing="ij")
        return [g.ravel().astype(np.int64) for g in grids]


def _hd19(x, m, k):
    t = ((x >> k) ^ x) & m
    return x ^ t ^ ((t << k) & M)


def _hd20(x):
    s = x & (-x & M)
    r = (x + s) & M
    q = np.where(s == 0, M, ((x ^ r) >> 2) // np.where(s == 0, 1, s))    # x /u 0 == 255
    return r | q


def _hd26(x, k):
    step = np.where(k < 8, 1 << np.minimum(k, 7), 0)       # 2^k modulo 256
    return (x + step - 1) & (-step & M) & M


X, Y = (("x", 8),), (("x", 8), ("y", 8))
TASKS = (
    Task("hd01", "turn off the rightmost 1-bit", X, lambda x: x & (x - 1) & M, "x & (x - 1)"),
    Task("hd02", "test if x is 2^n - 1 (0 if so)", X, lambda x: x & (x + 1) & M, "x & (x + 1)"),
    Task("hd03", "isolate the rightmost 1-bit", X, lambda x: x & -x & M, "x & -x"),
    Task("hd04", "mask of the rightmost 1-bit and the trailing zeros", X,
         lambda x: (x ^ (x - 1)) & M, "x ^ (x - 1)"),
    Task("hd05", "right-propagate the rightmost 1-bit", X, lambda x: (x | (x - 1)) & M,
         "x | (x - 1)"),
    Task("hd06", "turn on the rightmost 0-bit", X, lambda x: (x | (x + 1)) & M, "x | (x + 1)"),
    Task("hd07", "isolate the rightmost 0-bit", X, lambda x: ~x & (x + 1) & M, "~x & (x + 1)"),
    Task("hd08", "mask of the trailing zeros", X, lambda x: ~x & (x - 1) & M, "~x & (x - 1)"),
    Task("hd09", "absolute value (signed)", X, lambda x: np.abs(signed(x)) & M,
         "(x ^ (x >>s 7)) - (x >>s 7)"),
    Task("hd13", "sign: -1, 0 or 1 (signed)", X, lambda x: np.sign(signed(x)) & M,
         "(x >>s 7) | (-x >>u 7)"),
    Task("hd14", "floor of the average (unsigned)", Y, lambda x, y: (x + y) >> 1,
         "(x & y) + ((x ^ y) >>u 1)"),
    Task("hd15", "ceiling of the average (unsigned)", Y, lambda x, y: (x + y + 1) >> 1,
         "(x | y) - ((x ^ y) >>u 1)"),
    Task("hd16", "maximum (signed)", Y, lambda x, y: np.where(signed(x) < signed(y), y, x),
         "y if x <s y else x"),
    Task("hd17", "turn off the rightmost run of 1-bits", X,
         lambda x: (((x | (x - 1)) & M) + 1) & M & x, "((x | (x - 1)) + 1) & x"),
    Task("hd18", "is x a power of two", X, lambda x: (x != 0) & ((x & (x - 1)) == 0),
         "x != 0 and x & (x - 1) == 0", output="bool"),
    Task("hd19", "exchange the bit fields of mask m, k apart", (("x", 8), ("m", 8), ("k", 3)),
         _hd19, "x ^ (((x >>u k) ^ x) & m) ^ ((((x >>u k) ^ x) & m) << k)"),
    Task("hd20", "next higher number with the same number of 1-bits", X, _hd20,
         "(x + (x & -x)) | (((x ^ (x + (x & -x))) >>u 2) /u (x & -x))"),
    Task("hd26", "round x up to a multiple of 2^k", (("x", 8), ("k", 8)), _hd26,
         "(x + ~(255 << k)) & (255 << k)"),
)
#: Beyond the 18: functions of a byte that enumeration does not reach whole (15 or more nodes), but
#: that split over the input's bits (synth/intprobes): the searches find them through decomposition.
DECOMPOSED = (
    Task("popcount", "number of 1-bits of a byte", X,
         lambda x: sum((x >> i) & 1 for i in range(8)),
         " + ".join(["(x & 1)"] + [f"((x >>u {i}) & 1)" for i in range(1, 7)] + ["(x >>u 7)"])),
    Task("parity", "parity of a byte (1 if it has an odd number of 1-bits)", X,
         lambda x: np.bitwise_xor.reduce([(x >> i) & 1 for i in range(8)]),
         " ^ ".join(["(x & 1)"] + [f"((x >>u {i}) & 1)" for i in range(1, 7)] + ["(x >>u 7)"])),
    Task("nibbles", "the or of a byte's two nibbles (or-separable over its bits)", X,
         lambda x: (x & 15) | (x >> 4), "(x & 15) | (x >>u 4)"),
)
ALL = TASKS + DECOMPOSED
BY_NAME = {t.name: t for t in ALL}
