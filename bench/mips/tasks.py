"""The 62 MIPS tasks (Michaud et al. 2024), each with an exact reference implementation.

The task list, definitions and MIPS's / GPT-4's columns come from `mips_tasks.json` beside this
file (a copy of the benchmark's task definitions, ../shared/benchmarks/mips_tasks.json, kept in
the repository so that a clone needs nothing outside it). `Task.truth(x)` maps an int64 batch `(n, T, D)` to the outputs
`(n, T)` (or `(n, T, 2)` for the one task with a 2-D output); `Task.sample(n, T, rng)` draws
training and test sequences from the task's input domain (uniform per entry, except
Bit_Palindrome, whose sequences start with a palindrome).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

JSON = Path(__file__).resolve().parent / "mips_tasks.json"


def _shift(x: np.ndarray, k: int) -> np.ndarray:
    """x_(t-k) along axis 1, 0 before the start."""
    out = np.zeros_like(x)
    if k < x.shape[1]:
        out[:, k:] = x[:, :x.shape[1] - k]
    return out


def _window_sum(x: np.ndarray, k: int) -> np.ndarray:
    return sum(_shift(x, i) for i in range(k))


def _cum(x: np.ndarray, fn) -> np.ndarray:
    return fn.accumulate(x, axis=1)


def _add_base(base: int):
    def truth(x):
        a, b = x[..., 0], x[..., 1]
        y, c = np.zeros_like(a), np.zeros(len(a), dtype=np.int64)
        for t in range(a.shape[1]):
            v = a[:, t] + b[:, t] + c
            y[:, t], c = v % base, v // base
        return y
    return truth


def _divide(d: int):
    def truth(x):
        x = x[..., 0]
        y, r = np.zeros_like(x), np.zeros(len(x), dtype=np.int64)
        for t in range(x.shape[1]):
            v = 2 * r + x[:, t]
            y[:, t], r = v // d, v % d
        return y
    return truth


def _majority(k: int):
    def truth(x):
        x = x[..., 0]
        counts = np.stack([np.cumsum(x == v, axis=1) for v in range(k + 1)], axis=-1)
        return counts.argmax(axis=-1).astype(np.int64)      # argmax takes the first (smallest)
    return truth


def _palindrome(x):
    x = x[..., 0]
    y = np.zeros_like(x)
    for t in range(x.shape[1]):
        y[:, t] = (x[:, :t + 1] == x[:, t::-1]).all(axis=1)
    return y


def _balanced(x):
    x = x[..., 0]
    bal = np.cumsum(1 - 2 * x, axis=1)
    ok = np.minimum.accumulate(bal, axis=1) >= 0
    return ((bal == 0) & ok).astype(np.int64)


def _alternating(k: int):
    def truth(x):
        x = x[..., 0]
        w = [_shift(x, i) for i in range(k)]        # x_t, x_(t-1), ...
        alt = np.ones_like(x, dtype=bool)
        for i in range(k - 1):
            alt &= w[i] != w[i + 1]
        return alt.astype(np.int64)
    return truth


def _newton(kind: str):
    def truth(x):
        x = x[..., 0]
        v = p = np.zeros(len(x), dtype=np.int64)
        y = np.zeros_like(x)
        for t in range(x.shape[1]):
            a = x[:, t] - (1 if kind == "gravity" else 0) - (p if kind == "spring" else 0)
            v = v + a
            p = p + v
            y[:, t] = p
        return y
    return truth


def _magnetic(x):
    v = np.zeros((len(x), 2), dtype=np.int64)
    p = np.zeros_like(v)
    y = np.zeros(x.shape, dtype=np.int64)
    for t in range(x.shape[1]):
        a = x[:, t] + np.stack([-v[:, 1], v[:, 0]], axis=1)
        v = v + a
        p = p + v
        y[:, t] = p
    return y


def _dither(x):
    s = np.cumsum(x[..., 0], axis=1)
    return s // 15 - _shift(s, 1) // 15


X = lambda x: x[..., 0]  # noqa: E731
TRUTHS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "Binary_Addition": _add_base(2),
    **{f"Base_{b}_Addition": _add_base(b) for b in range(3, 8)},
    "Bitwise_Xor": lambda x: x[..., 0] ^ x[..., 1],
    "Bitwise_Or": lambda x: x[..., 0] | x[..., 1],
    "Bitwise_And": lambda x: x[..., 0] & x[..., 1],
    "Bitwise_Not": lambda x: 1 - X(x),
    "Parity_Last2": lambda x: _window_sum(X(x), 2) % 2,
    "Parity_Last3": lambda x: _window_sum(X(x), 3) % 2,
    "Parity_Last4": lambda x: _window_sum(X(x), 4) % 2,
    "Parity_All": lambda x: np.cumsum(X(x), axis=1) % 2,
    "Parity_Zeros": lambda x: np.cumsum(1 - X(x), axis=1) % 2,
    "Evens_Counter": lambda x: np.cumsum(X(x) % 2 == 0, axis=1).astype(np.int64),
    "Sum_All": lambda x: np.cumsum(X(x), axis=1),
    **{f"Sum_Last{k}": (lambda k: lambda x: _window_sum(X(x), k))(k) for k in range(2, 8)},
    "Current_Number": lambda x: X(x).copy(),
    **{f"Prev{k}": (lambda k: lambda x: _shift(X(x), k))(k) for k in range(1, 6)},
    "Previous_Equals_Current": lambda x: (X(x) == _shift(X(x), 1)).astype(np.int64),
    "Diff_Last2": lambda x: X(x) - _shift(X(x), 1),
    "Abs_Diff": lambda x: np.abs(X(x) - _shift(X(x), 1)),
    "Abs_Current": lambda x: np.abs(X(x)),
    "Diff_Abs_Values": lambda x: np.abs(X(x)) - np.abs(_shift(X(x), 1)),
    "Min_Seen": lambda x: np.minimum.accumulate(X(x), axis=1),
    "Max_Seen": lambda x: np.maximum.accumulate(X(x), axis=1),
    "Majority_0_1": _majority(1),
    "Majority_0_2": _majority(2),
    "Majority_0_3": _majority(3),
    "Evens_Detector": lambda x: (X(x) % 2 == 0).astype(np.int64),
    "Perfect_Square_Detector": lambda x: np.isin(X(x), [0, 1, 4, 9, 16]).astype(np.int64),
    "Bit_Palindrome": _palindrome,
    "Balanced_Parenthesis": _balanced,
    "Parity_Bits_Mod2": lambda x: np.broadcast_to(np.arange(x.shape[1]) % 2, X(x).shape).astype(np.int64),
    "Alternating_Last3": _alternating(3),
    "Alternating_Last4": _alternating(4),
    "Bit_Shift_Right": lambda x: _shift(X(x), 1),
    "Bit_Dot_Prod_Mod2": lambda x: np.cumsum(x[..., 0] * x[..., 1], axis=1) % 2,
    "Div_3": _divide(3), "Div_5": _divide(5), "Div_7": _divide(7),
    **{f"Add_Mod_{m}": (lambda m: lambda x: np.cumsum(X(x), axis=1) % m)(m) for m in range(3, 9)},
    "Dithering": _dither,
    "Newton_Freebody": _newton("free"),
    "Newton_Gravity": _newton("gravity"),
    "Newton_Spring": _newton("spring"),
    "Newton_Magnetic": _magnetic,
}

#: (lo, hi) of every entry of one step, by the input domain's text.
DOMAINS = {
    **{f"Base_{b}_Addition": (0, b - 1) for b in range(3, 8)},
    "Evens_Counter": (0, 9), "Sum_All": (0, 99),
    **{f"Sum_Last{k}": (0, 99) for k in range(2, 8)},
    "Current_Number": (0, 99), **{f"Prev{k}": (0, 99) for k in range(1, 6)},
    "Previous_Equals_Current": (0, 7),
    "Diff_Last2": (-100, 99), "Abs_Diff": (-100, 99), "Abs_Current": (-100, 99),
    "Diff_Abs_Values": (-100, 99), "Min_Seen": (0, 9), "Max_Seen": (0, 99),
    "Majority_0_1": (0, 1), "Majority_0_2": (0, 2), "Majority_0_3": (0, 3),
    "Evens_Detector": (0, 9), "Perfect_Square_Detector": (0, 19),
    **{f"Add_Mod_{m}": (0, m - 1) for m in range(3, 9)},
    "Dithering": (0, 15),
    "Newton_Freebody": (-10, 10), "Newton_Gravity": (-10, 10), "Newton_Spring": (-10, 10),
    "Newton_Magnetic": (-10, 10),
}   # every other task: bits (0, 1)


@dataclass(frozen=True)
class Task:
    name: str
    definition: str
    dim: int                  # D, entries per step
    lo: int
    hi: int
    outputs: int              # 1, or 2 for Newton_Magnetic
    seq_len: int
    mips: bool
    gpt4: bool

    def truth(self, x: np.ndarray) -> np.ndarray:
        """The task's outputs for an int64 batch (n, T, D): (n, T), or (n, T, 2)."""
        x = np.asarray(x, dtype=np.int64)
        if x.ndim != 3 or x.shape[2] != self.dim:
            raise ValueError(f"{self.name}: expected a batch (n, T, {self.dim}), got {x.shape}")
        return np.asarray(TRUTHS[self.name](x), dtype=np.int64)

    @property
    def alphabet(self) -> int:
        """How many different steps there are."""
        return (self.hi - self.lo + 1) ** self.dim

    def sample(self, n: int, t: int, rng: np.random.Generator) -> np.ndarray:
        """n sequences of t steps from the task's input distribution, int64 (n, t, D)."""
        x = rng.integers(self.lo, self.hi + 1, size=(n, t, self.dim), dtype=np.int64)
        if self.name == "Bit_Palindrome":       # a palindrome of length L in 2..10 first
            for i in range(n):
                length = min(int(rng.integers(2, 11)), t)
                half = rng.integers(0, 2, size=(length + 1) // 2)
                x[i, :length, 0] = np.concatenate([half, half[:length // 2][::-1]])
        return x

    def output_range(self, t: int | None = None) -> tuple[int, int]:
        """Lowest and highest output over many random sequences of length t (seq_len)."""
        rng = np.random.default_rng(0)
        x = self.sample(4000, t or self.seq_len, rng)
        extremes = [np.full((1, t or self.seq_len, self.dim), v, dtype=np.int64) for v in (self.lo, self.hi)]
        y = np.concatenate([self.truth(x).reshape(-1)] + [self.truth(e).reshape(-1) for e in extremes])
        return int(y.min()), int(y.max())


def _load() -> list[Task]:
    rows = json.loads(JSON.read_text())
    tasks = []
    for row in rows:
        lo, hi = DOMAINS.get(row["name"], (0, 1))
        tasks.append(Task(row["name"], row["definition"], int(row["input_dim"]), lo, hi,
                          int(row["output_dim"]), int(row["seq_len"]),
                          bool(row["solved_by_mips"]), bool(row["solved_by_gpt4"])))
    missing = {t.name for t in tasks} ^ set(TRUTHS)
    if missing:
        raise ValueError(f"mips_tasks.json and TRUTHS differ on {sorted(missing)}")
    return tasks


TASKS: list[Task] = _load()
BY_NAME: dict[str, Task] = {t.name: t for t in TASKS}
