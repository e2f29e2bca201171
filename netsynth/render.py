"""Text for terminals: a report in its JSON form (what `netsynth run` prints, and `netsynth result`
for a job) rendered as a short summary. Works on the JSON form so that a client holding only a job's
result renders it exactly as the command that ran the search would."""

from __future__ import annotations

from typing import Any


def render(report: dict[str, Any]) -> str:
    """A readable summary of a report in its JSON form (`Report.to_dict()`, or a job's result)."""
    f, s = report["fidelity"], report["search"]
    lines = [f"netsynth: {report['spec'].get('name')}: {report['status']} ({report['stop_reason']})"]
    if report['program'] is not None:
        lines += [f"program   {report['program']}", "python", *("  " + ln for ln in
                                                         report['python'].splitlines())]
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
    if len(report['pareto']) > 1:
        lines.append("pareto    " + "; ".join(f"size {p['size']}: {100 * p['agreement']:.1f}%"
                                            for p in report['pareto']))
    v = report.get('verification')
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
    lines += [f"note      {n}" for n in report.get('notes', ())]
    return "\n".join(lines)


def _outcome(o: dict[str, Any]) -> str:
    """One strategy of a portfolio: "plain cancelled", "conditional won (solved, 100.0%)"."""
    text = f"{o['name']} {o['outcome']}"
    if o["stop_reason"] is not None:
        text += f" ({o['stop_reason']}, {100 * o['agreement']:.1f}%)"
    return text + (f": {o['error']}" if o["error"] else "")
