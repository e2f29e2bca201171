"""What `netsynth.compare` and `netsynth compare` return: a `CompareReport`, a small immutable value.

- `outcome`: an `Outcome` (one program / several programs / undecided);
- `groups`: the networks grouped by equivalent program, each `Group` with the program its members
  share (the smallest of their programs), the members, and how each member's own program compares
  with it (a `verifier.Equivalence`: proved equal by Z3 on the shared ranges, or by the relation
  of its kind, whose reason says how: netsynth/compare_kinds.py); for real formulas, the group's
  skeleton and each member's constants side by side;
- `relations`: for every two groups, why they are apart: a counterexample (proved different) or
  UNKNOWN with its reason (never read as equal);
- `members`: per network, its own extraction (`netsynth.report.Report`), its fidelity to its
  group's program on its own domain and beyond its training range (`verifier.fidelity.Fidelity`,
  whose `disagreements` are the points where it departs), and its speed and size against that
  program (`verifier.speed.Speed`, `Size`);
- `pairs`: for every two networks, the points of the shared domain where their outputs differ.

`to_dict()` is the JSON form (`netsynth compare --json`); `render()` (and `str()`) the terminal
page, `_repr_html_()` the notebook page, both drawn from the JSON form
(`netsynth.compare_render`), so a client holding only the JSON renders it the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from dsl.program import Program
from verifier.equivalence import Equivalence, Verdict
from verifier.fidelity import Fidelity
from verifier.speed import Size, Speed

Value = int | bool | float | list


class Outcome(enum.Enum):
    ONE = "one program"                  # every network in one group
    SEVERAL = "several programs"         # several groups, every two proved different
    UNDECIDED = "undecided"              # some two groups neither proved equal nor different

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Group:
    """Networks whose programs were proved equal on the shared ranges (real formulas: or one
    skeleton within the networks' error, netsynth/compare_real.py). `program` is the smallest of
    their programs (None for a network from which nothing was extracted); `proofs[k]` compares
    `members[k]`'s own program with it."""

    program: Program | None
    members: tuple[str, ...]
    proofs: tuple[Equivalence, ...]
    # Real formulas: the program with its constants abstracted ($0, $1...), and per member its
    # constants in that order (a list), its own formula (text) when its skeleton differs, or None.
    skeleton: str | None = None
    constants: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {"program": one_line(self.program),
               "python": self.program.to_python() if self.program is not None else None,
               "size": self.program.size if self.program is not None else None,
               "members": list(self.members),
               "proofs": [_equivalence(e) for e in self.proofs]}
        if self.program is not None and "\n" in self.program.show():
            out["table"] = self.program.show()      # an automaton's table, a stateful program
        if self.skeleton is not None:
            out["skeleton"] = self.skeleton
            out["constants"] = {name: c for name, c in self.constants}
        return out


@dataclass(frozen=True)
class Relation:
    """Groups `a` and `b` (indices into `groups`, a < b): COUNTEREXAMPLE (with the point, `program`
    being group b's value and `reference` group a's) or UNKNOWN (with the reason)."""

    a: int
    b: int
    equivalence: Equivalence

    @property
    def verdict(self) -> Verdict:
        return self.equivalence.verdict

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, **_equivalence(self.equivalence)}


@dataclass(frozen=True)
class Member:
    """One network. `fidelity` is its agreement with its group's program over its own domain (the
    verifier's fidelity: exhaustive when the domain has at most 2^20 points); `beyond` the same on
    points outside its training range, or None with `beyond_note` saying why (its encodings cannot
    express such points, or there is no shared program)."""

    name: str
    model: str                        # where the network came from (a path, or what was given)
    spec: Any                         # oracle.spec.Spec
    report: Any                       # netsynth.report.Report: its own extraction
    group: int
    fidelity: Fidelity | None
    beyond: Fidelity | None
    beyond_note: str | None
    speed: Speed | None               # the network against its group's program
    size: Size | None
    # Kinds other than int and bool functions: the network against its group's program beyond
    # its training range, by its family's verifier (`verifier.generalisation.NetworkBeyond`).
    follows: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "group": self.group,
                "encodings": _encodings(self.spec), "status": self.report.status.value,
                "program": one_line(self.report.program),
                "fidelity": self.fidelity.to_dict() if self.fidelity is not None else None,
                "beyond": self.beyond.to_dict() if self.beyond is not None else None,
                "beyond_note": self.beyond_note,
                "speed": self.speed.to_dict() if self.speed is not None else None,
                "size": self.size.to_dict() if self.size is not None else None,
                "follows": None if self.follows is None else {
                    "agreement": self.follows.agreement, "points": self.follows.points,
                    "note": self.follows.note, "departures": self.follows.departures_dict()},
                "report": _report_dict(self.report)}


@dataclass(frozen=True)
class PairPoint:
    inputs: tuple[tuple[str, Value], ...]
    a: Value
    b: Value

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": dict(self.inputs), "a": self.a, "b": self.b}


@dataclass(frozen=True)
class Pair:
    """Networks `a` and `b` on the shared domain: `differ` of `checked` points give different
    outputs (all the points when `exhaustive`, else a sample); the first few are `points`."""

    a: str
    b: str
    checked: int
    differ: int
    exhaustive: bool
    points: tuple[PairPoint, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "checked": self.checked, "differ": self.differ,
                "exhaustive": self.exhaustive, "points": [p.to_dict() for p in self.points]}


@dataclass(frozen=True)
class Execution:
    """How the extractions ran: "in-process" one after another, or as "ray tasks" (at most
    `workers` at a time); `seconds` is the wall time of all of them, `startup` the seconds spent
    starting or joining Ray, `total` the whole comparison's."""

    mode: str
    workers: int
    seconds: float
    startup: float
    total: float

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "workers": self.workers, "seconds": self.seconds,
                "startup": self.startup, "total": self.total}


@dataclass(frozen=True)
class CompareReport:
    outcome: Outcome
    groups: tuple[Group, ...]
    relations: tuple[Relation, ...]
    members: tuple[Member, ...]
    pairs: tuple[Pair, ...]
    ranges: tuple[tuple[str, tuple[int, int]], ...]    # the shared training ranges
    points: int                                        # of the shared domain (or its sample)
    exhaustive: bool
    execution: Execution
    options: dict[str, Any]                            # the search options every network got
    notes: tuple[str, ...] = ()
    family: str = "function"                           # the kind of network (Spec.family)
    lengths: tuple[int, int] | None = None             # sequences: the shared training lengths

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(f"no network named {name!r}; expected one of {[m.name for m in self.members]}")

    def group_of(self, name: str) -> Group:
        return self.groups[self.member(name).group]

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "groups": [g.to_dict() for g in self.groups],
                "relations": [r.to_dict() for r in self.relations],
                "networks": [m.to_dict() for m in self.members],
                "pairs": [p.to_dict() for p in self.pairs],
                "ranges": {name: list(r) for name, r in self.ranges},
                "points": self.points, "exhaustive": self.exhaustive,
                "execution": self.execution.to_dict(), "options": dict(self.options),
                "notes": list(self.notes), "family": self.family,
                "lengths": list(self.lengths) if self.lengths is not None else None}

    def render(self) -> str:
        from netsynth.compare_render import render

        return render(self.to_dict())

    def __str__(self) -> str:
        return self.render()

    def _repr_html_(self) -> str:
        from netsynth.compare_render import html

        return html(self.to_dict())


def _report_dict(report: Any) -> dict[str, Any]:
    """`report.to_dict()`. A sequence network's report without fidelity (nothing extracted)
    cannot give it today: `Report.to_dict` asks `oracle.sampling.domain`, which has no columns
    for sequences (AttributeError); its status, stop reason and notes then stand for it."""
    try:
        return report.to_dict()
    except AttributeError:
        if report.fidelity is not None or report.spec.sequence is None:
            raise
        return {"status": report.status.value, "program": None,
                "stop_reason": str(report.stop_reason), "notes": list(report.notes)}


def one_line(program: Program | None) -> str | None:
    """The program on one line, for tables: an automaton as its regular expression (or "a
    k-state automaton" when it has none), a program with state with its lines joined by " | "."""
    if program is None:
        return None
    text = program.show()
    if "\n" not in text:
        return text
    if program.kind == "automaton":
        regex = program.to_regex()
        return f"/{regex}/" if regex is not None else f"a {program.size}-state automaton"
    return " | ".join(text.splitlines())


def _equivalence(e: Equivalence) -> dict[str, Any]:
    return {"verdict": e.verdict.value,
            "counterexample": e.counterexample.to_dict() if e.counterexample else None,
            "reason": e.reason}


def _encodings(spec: Any) -> dict[str, Any]:
    """How the network sees its inputs and output: {"x": "one_hot", ..., "output": "argmax"}."""
    def codec(name: str, params: Any) -> str:
        shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in dict(params).items())
        return f"{name}({shown})" if shown else name
    out = {i.name: codec(i.encoding, i.params) for i in spec.inputs}
    out["output"] = codec(spec.output.decoding, spec.output.params)
    return out
