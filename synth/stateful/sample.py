"""The sequences the stateful search asks the network about, and its answers.

`Sample.build(steps, length, oracle, seed)`: every sequence of the longest length L0 whose
sequences number at most `EXHAUSTIVE` (so every sequence up to L0 is a prefix of one), continued
at random to the training length; random sequences of the training length; designed ones (each
step value held constant, the extremes alternating, a ramp). With per-step answers a prefix's
answers are those of the whole sequence's first steps, so one (n, L, D) batch holds them all.
`Sample.add(x)` adds counterexample sequences (CEGIS), `check_set` draws fresh ones.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from dsl.errors import SpecError
from dsl.types import BOOL, INT

EXHAUSTIVE = 4096
RANDOM = 1000


@dataclass(frozen=True)
class StepDomain:
    """Per input of a step: its name and [lo, hi]."""

    names: tuple[str, ...]
    lo: tuple[int, ...]
    hi: tuple[int, ...]

    @property
    def alphabet(self) -> int:
        return int(np.prod([h - l + 1 for l, h in zip(self.lo, self.hi)]))

    def letters(self) -> np.ndarray:
        """Every step value, (alphabet, D)."""
        axes = [range(l, h + 1) for l, h in zip(self.lo, self.hi)]
        return np.array(list(itertools.product(*axes)), dtype=np.int64).reshape(-1, len(self.names))

    def random(self, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
        cols = [rng.integers(l, h + 1, size=(n, length)) for l, h in zip(self.lo, self.hi)]
        return np.stack(cols, axis=-1).astype(np.int64)

    def exhaustive_length(self, cap: int, limit: int = EXHAUSTIVE) -> int:
        """The longest length (at most cap) whose sequences number at most `limit`; 0 if none."""
        length = 0
        while length < cap and self.alphabet ** (length + 1) <= limit:
            length += 1
        return length


def designed(domain: StepDomain, length: int) -> np.ndarray:
    """Constant sequences of each value (up to 64 of them), alternating extremes, ramps."""
    letters = domain.letters() if domain.alphabet <= 64 else domain.random(64, 1, np.random.default_rng(5))[:, 0]
    rows = [np.repeat(letter[None, :], length, axis=0) for letter in letters]
    lo, hi = np.array(domain.lo), np.array(domain.hi)
    rows.append(np.where((np.arange(length) % 2)[:, None] == 0, lo, hi))
    rows.append(np.where((np.arange(length) % 2)[:, None] == 0, hi, lo))
    ramp = np.linspace(0, 1, length)[:, None]
    rows.append(np.round(lo + (hi - lo) * ramp).astype(np.int64))
    rows.append(np.round(hi - (hi - lo) * ramp).astype(np.int64))
    return np.stack(rows).astype(np.int64)


class Sample:
    """Sequences x (n, L, D) and the network's per-step answers y (n, L)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    @classmethod
    def build(cls, domain: StepDomain, length: int, oracle, *, seed: int = 0,
              random: int = RANDOM) -> "Sample":
        rng = np.random.default_rng(seed)
        parts = []
        l0 = domain.exhaustive_length(length)
        if l0:
            letters = domain.letters()
            codes = np.array(list(itertools.product(range(len(letters)), repeat=l0)), dtype=np.int64)
            prefix = letters[codes]
            parts.append(np.concatenate([prefix, domain.random(len(prefix), length - l0, rng)], axis=1))
        parts.append(domain.random(random, length, rng))
        parts.append(designed(domain, length))
        x = np.unique(np.concatenate(parts), axis=0)
        return cls(x, _ask(oracle, x))

    def add(self, x: np.ndarray, oracle) -> None:
        self.x = np.concatenate([self.x, x])
        self.y = np.concatenate([self.y, _ask(oracle, x)])

    def columns(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {n: self.x[..., d] for d, n in enumerate(names)}


def check_set(domain: StepDomain, length: int, oracle, *, seed: int, n: int = 2000) -> Sample:
    """Fresh random sequences of the training length (CEGIS's check)."""
    x = domain.random(n, length, np.random.default_rng(seed + 1000))
    return Sample(x, _ask(oracle, x))


def _ask(oracle, x: np.ndarray) -> np.ndarray:
    y = np.asarray(oracle.query(x))
    if y.shape != x.shape[:2]:
        raise ValueError(f"oracle: expected per-step answers of shape {x.shape[:2]}, got {y.shape}")
    return y.astype(np.int64)


def step_domain(spec) -> StepDomain:
    """The spec's step inputs as a StepDomain; SpecError for what this family cannot search."""
    if spec.sequence is None:
        raise SpecError("sequence: the stateful family needs a spec with a 'sequence' section")
    if not spec.sequence.per_step:
        raise SpecError(f"sequence.output: the stateful family reads per-step answers, got "
                        f"{spec.sequence.output!r} (final answers: the automaton family)")
    if spec.output.type not in (INT, BOOL):
        raise SpecError(f"output.type: the stateful family finds int and bool outputs, got {spec.output.type}")
    for i, inp in enumerate(spec.inputs):
        if inp.type not in (INT, BOOL):
            raise SpecError(f"inputs[{i}].type: the stateful family reads int and bool steps, got {inp.type}")
    return StepDomain(tuple(i.name for i in spec.inputs), tuple(int(i.lo) for i in spec.inputs),
                      tuple(int(i.hi) for i in spec.inputs))


def constants(domain: StepDomain) -> list[int]:
    pool = set(range(0, 9)) | {h + 1 for h in domain.hi} | set(domain.hi) | {abs(l) for l in domain.lo}
    return sorted(c for c in pool if c <= 64)
