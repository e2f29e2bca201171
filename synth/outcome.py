"""What a search says about itself: why it stopped, how far it got, what it found."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from dsl.ast import Node


class StopReason(enum.Enum):
    SOLVED = "solved"
    TIME = "time budget"
    CANDIDATES = "candidate budget"
    MEMORY = "memory budget"
    EXHAUSTED = "exhausted"
    CANCELLED = "cancelled"

    def describe(self) -> str:
        return {
            StopReason.SOLVED: "found a program that meets the agreement threshold",
            StopReason.TIME: "ran out of time before finding a program",
            StopReason.CANDIDATES: "tried as many candidates as allowed",
            StopReason.MEMORY: "the value banks reached their memory cap",
            StopReason.EXHAUSTED: "every program up to the size bound was tried",
            StopReason.CANCELLED: "cancelled",
        }[self]


@dataclass(frozen=True)
class Progress:
    """Reported at least once per size level and at most a few times a second within one."""

    level: int
    candidates: int
    distinct: int
    best_agreement: float
    elapsed: float
    round: int = 1
    sample: int = 0
    phase: str = "enumerate"
    best: str | None = None          # the program of best_agreement, as its DSL's text


@dataclass(frozen=True)
class ParetoPoint:
    program: Node
    size: int
    agreement: float        # on the full domain (or the large check sample)


@dataclass(frozen=True)
class SearchResult:
    program: Node | None            # the accepted program, or the most agreeing one found
    agreement: float                # of `program`, on the full domain / check sample
    accepted: bool                  # whether `program` meets min_agreement
    stop_reason: StopReason
    pareto: tuple[ParetoPoint, ...]
    seconds: float
    candidates: int
    distinct: int
    rounds: int
    sample_size: int
    levels: int
    notes: tuple[str, ...] = field(default=())
    backend: dict = field(default_factory=dict)   # where it ran (see search._describe)
