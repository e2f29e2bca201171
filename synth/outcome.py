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


@dataclass(frozen=True)
class FamilyPareto:
    program: object          # a dsl.program.Program
    size: int
    agreement: float


@dataclass(frozen=True)
class FamilyResult:
    """What a search family other than the int engine returns (`synth.<family>.run`).

    `program` is a `dsl.program.Program` (an `Expression` in its DSL, an `Automaton`, a
    `Stateful`), the accepted one or the most agreeing found; `agreement` its fidelity on the
    family's check points under the spec's metric. `figures` holds the family's own counts
    (JSON-able: membership queries, states, skeletons tried, ...), shown with the search figures;
    `extra` holds report sections of its own (JSON-able: a DFA as JSON, an SVG, a Pareto table of
    formulas, ...), carried verbatim into the report and the results page.
    """

    program: object | None
    agreement: float
    accepted: bool
    stop_reason: StopReason
    pareto: tuple[FamilyPareto, ...] = ()
    seconds: float = 0.0
    queries: int = 0               # points the network answered
    candidates: int = 0
    notes: tuple[str, ...] = ()
    figures: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
