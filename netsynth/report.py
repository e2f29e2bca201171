"""The report of a synthesis: what `netsynth run`, `netsynth.extract` and the job API return.

A `Report` is a small immutable value: the program found (a `dsl.program.Program`), a `Status`,
the search's `StopReason`, the fidelity to the network (measured once, on one point set: the
verifier's when the program was verified), the Pareto front, the search figures, the spec, the
verification, and the data of the network-against-program pictures. `to_dict()` is the JSON
schema of `netsynth run --json` and of the job API's `/jobs/{id}/result`; `from_dict` reads it
back; `render()` is the text a terminal shows.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

from dsl.program import Expression, Program
from synth.outcome import SearchResult, StopReason
from verifier.fidelity import Fidelity
from verifier.verify import Verification

MAX_DISAGREEMENTS = 20


#: Below this share of points right, the best program found is no answer at all.
APPROXIMATE_FLOOR = 0.5
#: A best program this close below the threshold gets a note saying how to accept it.
NEAR = 0.05


class Status(enum.Enum):
    SOLVED = "solved"                # a program meets the agreement threshold
    APPROXIMATE = "approximate"      # short of the threshold, but right on most points
    NOTHING = "nothing found"        # nothing right on even half of the points

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ParetoEntry:
    program: Program
    size: int
    agreement: float

    def to_dict(self) -> dict[str, Any]:
        out = {"program": self.program.show(), "size": self.size, "agreement": self.agreement}
        if self.program.kind != "expression":
            out["program_data"] = self.program.to_dict()
        return out


@dataclass(frozen=True)
class SearchFigures:
    seconds: float
    candidates: int
    distinct: int
    rounds: int
    sample_size: int
    levels: int
    workers: int
    stop_detail: str
    backend: dict[str, Any] = field(default_factory=dict)
    strategy: str | None = None                       # with a portfolio: whose program it is
    portfolio: tuple[dict[str, Any], ...] | None = None
    startup: float = 0.0                              # seconds starting Ray, not in `seconds`
    family: str = "function"                          # which search family ran
    figures: dict[str, Any] = field(default_factory=dict)   # the family's own counts

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("seconds", "candidates", "distinct", "rounds",
                                             "sample_size", "levels", "workers", "stop_detail",
                                             "backend", "startup", "family", "figures")}
        if self.portfolio is not None:
            out.update(strategy=self.strategy, portfolio=list(self.portfolio))
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SearchFigures":
        portfolio = d.get("portfolio")
        return cls(d["seconds"], d["candidates"], d["distinct"], d["rounds"], d["sample_size"],
                   d["levels"], d["workers"], d["stop_detail"], d.get("backend") or {},
                   d.get("strategy"), tuple(portfolio) if portfolio is not None else None,
                   d.get("startup", 0.0), d.get("family", "function"), d.get("figures") or {})


@dataclass(frozen=True)
class Report:
    status: Status
    program: Program | None
    stop_reason: StopReason
    fidelity: Fidelity | None
    pareto: tuple[ParetoEntry, ...]
    search: SearchFigures
    spec: Any                                  # oracle.spec.Spec
    verification: Verification | None = None
    notes: tuple[str, ...] = ()
    comparison: Any = None      # netsynth.comparison.Comparison (a real formula's: slices.Slices)
    extra: dict[str, Any] = field(default_factory=dict)  # a family's own sections (SVG, trace...)

    @property
    def solved(self) -> bool:
        return self.status is Status.SOLVED

    @property
    def text(self) -> str | None:
        """The program as text in its DSL."""
        return self.program.show() if self.program is not None else None

    @property
    def python(self) -> str | None:
        """The program as standalone Python source (`def f(...)`)."""
        return self.program.to_python() if self.program is not None else None

    def to_dict(self) -> dict[str, Any]:
        from oracle.sampling import domain

        fidelity = self.fidelity.to_dict() if self.fidelity is not None else {
            "agree": 0, "total": 0,
            "exhaustive": self.spec.sequence is None and domain(self.spec) is not None,
            "agreement": 0.0, "disagreements": []}
        return {"status": self.status.value, "program": self.text, "python": self.python,
                "fidelity": fidelity, "stop_reason": self.stop_reason.value,
                "pareto": [p.to_dict() for p in self.pareto], "search": self.search.to_dict(),
                "verification": self.verification.to_dict() if self.verification else None,
                "spec": self.spec.to_dict(), "notes": list(self.notes),
                "comparison": self.comparison.to_dict() if self.comparison is not None else None,
                "program_data": self.program.to_dict() if self.program is not None else None,
                "family": self.spec.family, "extra": self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Report":
        """The inverse of `to_dict` (for clients that receive the JSON report)."""
        from oracle.spec import load_spec

        from dsl.program import program_from_dict

        spec = load_spec(data["spec"])

        def program(text: str, described: dict[str, Any] | None = None) -> Program:
            if described is not None:
                return program_from_dict(described, spec)
            return Expression.parse(text, spec.variables(), dsl=spec.dsl)

        f = data.get("fidelity")
        return cls(
            status=Status(data["status"]),
            program=program(data["program"], data.get("program_data"))
            if data.get("program") is not None else None,
            stop_reason=StopReason(data["stop_reason"]),
            fidelity=Fidelity.from_dict(f) if f and f.get("total") else None,
            pareto=tuple(ParetoEntry(program(p["program"], p.get("program_data")), p["size"],
                                     p["agreement"]) for p in data["pareto"]),
            search=SearchFigures.from_dict(data["search"]), spec=spec,
            verification=Verification.from_dict(data["verification"])
            if data.get("verification") else None,
            notes=tuple(data.get("notes", ())),
            comparison=_comparison(data.get("comparison")),
            extra=dict(data.get("extra") or {}))

    def render(self) -> str:
        """A readable summary for a terminal."""
        from netsynth.render import render

        return render(self.to_dict())

    def __str__(self) -> str:
        return self.render()

    def _repr_html_(self) -> str:
        """The report in a notebook: the summary, the Pareto front, and the picture."""
        from netsynth.render import html

        return html(self.to_dict())

    # ---- the program, ready to use -------------------------------------------------------------

    @property
    def function(self) -> Any:
        """The program as a Python callable (its exported source, compiled); None if none."""
        return self.program.function() if self.program is not None else None

    def export(self, form: str) -> str:
        """The program as `python`, `latex`, `c`, `smtlib` or `sympy` (the expression's text)."""
        if self.program is None:
            raise ValueError("export: this report has no program")
        p = self.program
        forms = {"python": "to_python", "latex": "to_latex", "c": "to_c", "sympy": "to_sympy",
                 "smtlib": "to_smtlib", "numpy": "to_numpy", "json": "to_dict", "regex": "to_regex",
                 "svg": "to_svg", "dot": "to_dot"}
        if form not in forms:
            raise ValueError(f"export: expected one of {sorted(forms)}, got {form!r}")
        if not hasattr(p, forms[form]):
            have = sorted(f for f, m in forms.items() if hasattr(p, m))
            article = "an" if p.kind[:1] in "aeiou" else "a"
            raise ValueError(f"export: {article} {p.kind} program has no {form} form; it has "
                             f"{', '.join(have)}")
        if form == "smtlib" and p.kind == "expression":
            return p.to_smtlib(self.spec.ranges())
        value = getattr(p, forms[form])()
        if form == "json":
            import json

            return json.dumps(value, indent=2)
        return value if isinstance(value, str) else str(value)


def _comparison(data: dict[str, Any] | None) -> Any:
    """The data of a report's pictures from its JSON form: a real formula's slices, or the
    integer grid of `netsynth.comparison`."""
    if not data:
        return None
    if data.get("kind") == "slices":
        from netsynth.slices import Slices

        return Slices.from_dict(data)
    from netsynth.comparison import Comparison

    return Comparison.from_dict(data)


def build(problem: Any, result: SearchResult, *, workers: int, min_agreement: float = 1.0,
          verification: Verification | None = None, extra: dict[str, Any] | None = None,
          comparison: bool = True, startup: float = 0.0) -> Report:
    """The report of `result`. Fidelity is the verification's when there is one (one point set
    for every figure); otherwise it is measured here, on the verifier's points."""
    from verifier.fidelity import measure

    spec, dsl = problem.spec, problem.dsl
    inputs = spec.input_names
    types = tuple(spec.variables().values())
    program = Expression(result.program, dsl, inputs, types) if result.program is not None else None
    fidelity = None
    if verification is not None:
        fidelity = verification.fidelity
    elif program is not None:
        fidelity = measure(program, problem.oracle, max_disagreements=MAX_DISAGREEMENTS,
                           metric=problem.metric)
    notes = result.notes
    if result.accepted:
        status = Status.SOLVED
    elif fidelity is not None and fidelity.agreement >= APPROXIMATE_FLOOR:
        status = Status.APPROXIMATE
        if fidelity.agreement >= min_agreement - NEAR:
            accept = math.floor(fidelity.wilson_low * 1000) / 1000
            from netsynth.wording import percent

            notes += (f"the best program is right on {percent(fidelity.agreement)} of the "
                      f"points, just short of the {100 * min_agreement:g}% asked for; to accept "
                      f"it, ask for --min-agreement {accept:g} (min_agreement={accept:g} in "
                      f"Python)",)
    else:
        status = Status.NOTHING
    extra = extra or {}
    pictures = None
    if comparison and program is not None:
        from netsynth.comparison import Comparison

        pictures = Comparison.measure(program, problem.oracle)
    return Report(
        status=status, program=program, stop_reason=result.stop_reason, fidelity=fidelity,
        pareto=tuple(ParetoEntry(Expression(p.program, dsl, inputs, types), p.size, p.agreement)
                     for p in result.pareto),
        search=SearchFigures(result.seconds, result.candidates, result.distinct, result.rounds,
                             result.sample_size, result.levels, workers,
                             StopReason(result.stop_reason).describe(), result.backend,
                             extra.get("strategy"),
                             tuple(extra["portfolio"]) if "portfolio" in extra else None,
                             startup),
        spec=spec, verification=verification, notes=notes, comparison=pictures)


def build_family(spec: Any, result: Any, *, workers: int, min_agreement: float = 1.0,
                 verification: Verification | None = None, startup: float = 0.0,
                 comparison: Any = None) -> Report:
    """The report of a `synth.outcome.FamilyResult` (every family but the int one). Fidelity is
    the verification's when there is one; the status follows the same words as the int family's.
    `comparison` is the data of its pictures when the family has some (a real formula's
    `netsynth.slices.Slices`)."""
    fidelity = verification.fidelity if verification is not None else None
    agreement = fidelity.agreement if fidelity is not None else result.agreement
    notes = tuple(result.notes)
    if result.accepted and (verification is None or verification.holds):
        status = Status.SOLVED
    elif result.program is not None and agreement >= APPROXIMATE_FLOOR:
        status = Status.APPROXIMATE
        from netsynth.wording import percent, point
        from verifier.equivalence import Verdict

        if min_agreement - NEAR <= agreement < min_agreement:
            notes += (f"the best program agrees with the network on {percent(agreement)} of "
                      f"the points checked, short of the {100 * min_agreement:g}% asked for; "
                      f"ask for a lower --min-agreement to accept it",)
        elif (verification is not None and verification.equivalence.counterexample is not None
              and verification.equivalence.verdict is Verdict.COUNTEREXAMPLE):
            c = verification.equivalence.counterexample
            notes += (f"the program agrees with the network on {percent(agreement)} of the points "
                      f"checked, but it is not the spec's reference: at {point(dict(c.inputs))} "
                      f"it gives {c.program}, the reference {c.reference}",)
    else:
        status = Status.NOTHING
    stop = StopReason(result.stop_reason)
    figures = SearchFigures(result.seconds, result.candidates, result.candidates, 1,
                            result.queries, 0, workers, stop.describe(), {}, None, None, startup,
                            spec.family, dict(result.figures))
    return Report(status=status, program=result.program, stop_reason=stop, fidelity=fidelity,
                  pareto=tuple(ParetoEntry(p.program, p.size, p.agreement) for p in result.pareto),
                  search=figures, spec=spec, verification=verification, notes=notes,
                  comparison=comparison, extra=dict(result.extra))
