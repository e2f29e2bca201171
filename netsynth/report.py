"""The report of a synthesis: what `netsynth run --json`, the job API and notebooks return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsl.export import to_python
from synth.outcome import SearchResult, StopReason
from synth.problem import Problem

MAX_DISAGREEMENTS = 20


@dataclass(frozen=True)
class Report:
    status: str                           # "solved" | "partial" | "unsolved"
    program: str | None
    python: str | None
    fidelity: dict[str, Any]
    stop_reason: str
    pareto: tuple[dict[str, Any], ...]
    search: dict[str, Any]
    spec: dict[str, Any]
    verification: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def solved(self) -> bool:
        return self.status == "solved"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Report":
        """The inverse of `to_dict` (for clients that receive the JSON report)."""
        return cls(status=data["status"], program=data["program"], python=data["python"],
                   fidelity=data["fidelity"], stop_reason=data["stop_reason"],
                   pareto=tuple(data["pareto"]), search=data["search"], spec=data["spec"],
                   verification=data.get("verification"), notes=tuple(data.get("notes", ())))

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "program": self.program, "python": self.python,
                "fidelity": self.fidelity, "stop_reason": self.stop_reason,
                "pareto": list(self.pareto), "search": self.search,
                "verification": self.verification, "spec": self.spec, "notes": list(self.notes)}

    def render(self) -> str:
        """A readable summary for a terminal."""
        f, s = self.fidelity, self.search
        lines = [f"netsynth: {self.spec.get('name')}: {self.status} ({self.stop_reason})"]
        if self.program is not None:
            lines += [f"program   {self.program}", "python", *("  " + ln for ln in
                                                             self.python.splitlines())]
            scope = "whole domain" if f["exhaustive"] else "sample"
            lines.append(f"fidelity  {f['agree']}/{f['total']} ({100 * f['agreement']:.2f}%, "
                         f"{scope})")
            for d in f["disagreements"][:5]:
                lines.append(f"  differs at {d['inputs']}: network {d['network']}, "
                             f"program {d['program']}")
        lines.append(f"search    {s['seconds']:.2f} s, {s['candidates']:,} candidates, "
                     f"{s['distinct']:,} distinct, {s['rounds']} round(s), sample of "
                     f"{s['sample_size']}, {s['workers']} worker(s)")
        if s.get("portfolio"):
            lines.append("portfolio " + "; ".join(_outcome(o) for o in s["portfolio"]))
        if len(self.pareto) > 1:
            lines.append("pareto    " + "; ".join(f"size {p['size']}: {100 * p['agreement']:.1f}%"
                                                for p in self.pareto))
        v = self.verification
        if v:
            lines.append(f"reference {v['reference']}"
                         + (f" (counterexample {v['counterexample']})" if v["counterexample"]
                            else "")
                         + (f" ({v['reference_reason']})" if v.get("reference_reason") else ""))
            g = v["generalisation"]
            if g["holds"] is not None:
                lines.append(f"beyond    {'holds' if g['holds'] else 'fails'} on {g['checked']} "
                             f"inputs outside the training range"
                             + (f"; counterexample {g['counterexample']}"
                                if g["counterexample"] else ""))
            if g.get("network_agreement_beyond_range") is not None:
                lines.append(f"network   {100 * g['network_agreement_beyond_range']:.1f}% right "
                             f"beyond its training range")
            sp = v["speed"]
            lines.append(f"speed     network {sp['network_us_per_query']:.3f} us/query, program "
                         f"{sp['program_us_per_query']:.4f} us/query: {sp['speedup']:.0f}x")
        lines += [f"note      {n}" for n in self.notes]
        return "\n".join(lines)


def build(problem: Problem, result: SearchResult, *, workers: int,
          verification: Any = None) -> Report:
    """Assemble the report of `result`; fidelity is measured again on the full check set."""
    from oracle import sampling

    spec = problem.spec
    program = result.program
    full = sampling.domain(spec)
    exhaustive = full is not None
    if full is None:
        full = sampling.sample(spec, 1 << 16, seed=1)
    fidelity = {"agree": 0, "total": len(next(iter(full.values()))), "exhaustive": exhaustive,
                "agreement": 0.0, "disagreements": []}
    if program is not None:
        fidelity = _fidelity(problem, program, full, exhaustive)
    if result.accepted:
        status = "solved"
    else:
        status = "partial" if program is not None and fidelity["agree"] > 0 else "unsolved"
    return Report(
        status=status,
        program=problem.dsl.show(program) if program is not None else None,
        python=to_python(program, spec.input_names, dsl=problem.dsl) if program is not None
        else None,
        fidelity=fidelity,
        stop_reason=result.stop_reason.value,
        pareto=tuple({"program": problem.dsl.show(p.program), "size": p.size,
                      "agreement": p.agreement} for p in result.pareto),
        search={"seconds": result.seconds, "candidates": result.candidates,
                "distinct": result.distinct, "rounds": result.rounds,
                "sample_size": result.sample_size, "levels": result.levels,
                "workers": workers, "stop_detail": StopReason(result.stop_reason).describe(),
                "backend": result.backend},
        spec=spec.to_dict(),
        verification=verification.to_dict() if verification is not None else None,
        notes=result.notes,
    )


def _outcome(o: dict[str, Any]) -> str:
    """One strategy of a portfolio: "plain cancelled", "conditional won (solved, 100.0%)"."""
    text = f"{o['name']} {o['outcome']}"
    if o["stop_reason"] is not None:
        text += f" ({o['stop_reason']}, {100 * o['agreement']:.1f}%)"
    return text + (f": {o['error']}" if o["error"] else "")


def _fidelity(problem: Problem, program, full, exhaustive: bool) -> dict[str, Any]:
    from verifier.fidelity import compare

    f = compare(program, full, problem.oracle.query(full), exhaustive=exhaustive,
                max_disagreements=MAX_DISAGREEMENTS, dsl=problem.dsl)
    return {"agree": f.agree, "total": f.total, "exhaustive": exhaustive,
            "agreement": f.agreement, "disagreements": [
                {"inputs": dict(d.inputs), "network": d.network, "program": d.program}
                for d in f.disagreements]}
