"""Text for terminals: a report in its JSON form (what `netsynth run` prints, and `netsynth result`
for a job) rendered as a short summary. Works on the JSON form so that a client holding only a job's
result renders it exactly as the command that ran the search would."""

from __future__ import annotations

from typing import Any


def render(report: dict[str, Any]) -> str:
    """A readable summary of a report in its JSON form (`Report.to_dict()`, or a job's result)."""
    f, s = report["fidelity"], report["search"]
    lines = [f"netsynth: {report['spec'].get('name')}: {_headline(report)}"]
    if report["program"] is not None:
        title = "program  " if report["status"] != "nothing found" else "best try"
        lines += [f"{title} {report['program']}", "python", *("  " + ln for ln in
                                                          report["python"].splitlines())]
        scope = "whole domain" if f["exhaustive"] else "sample"
        lines.append(f"fidelity  {f['agree']}/{f['total']} ({100 * f['agreement']:.2f}%, "
                     f"{scope}){_errors(f)}")
        for d in f["disagreements"][:5]:
            lines.append(f"  differs at {_point(d['inputs'])}: network {d['network']}, "
                         f"program {d['program']}")
    startup = s.get("startup") or 0.0
    lines.append(f"search    {s['seconds']:.2f} s"
                 + (f" (+ {startup:.1f} s starting Ray)" if startup >= 0.05 else "")
                 + f", {s['candidates']:,} candidates, {s['distinct']:,} distinct, "
                 f"{s['rounds']} round(s), sample of {s['sample_size']}, "
                 f"{s['workers']} worker(s)")
    if s.get("portfolio"):
        lines.append("portfolio " + "; ".join(_outcome(o) for o in s["portfolio"]))
    if len(report["pareto"]) > 1:
        lines.append("pareto    size  agreement  program")
        lines += [f"          {p['size']:>4}  {100 * p['agreement']:>8.2f}%  {p['program']}"
                  for p in report["pareto"]]
    v = report.get("verification")
    if v:
        lines.append("reference " + _reference(v))
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
                     f"{sp['program_us_per_query']:.4f} us/query: {_ratio(sp['speedup'])}")
    lines += [f"note      {n}" for n in report.get('notes', ())]
    return "\n".join(lines)


def _outcome(o: dict[str, Any]) -> str:
    """One strategy of a portfolio: "plain cancelled", "conditional won (solved, 100.0%)"."""
    text = f"{o['name']} {o['outcome']}"
    if o["stop_reason"] is not None:
        text += f" ({o['stop_reason']}, {100 * o['agreement']:.1f}%)"
    return text + (f": {o['error']}" if o["error"] else "")


def _headline(report: dict[str, Any]) -> str:
    """"solved", "approximate: 98.05% right (stopped: time budget)", "nothing found (exhausted)"."""
    status, stop = report["status"], report["stop_reason"]
    if status == "solved":
        return "solved" if stop == "solved" else f"solved (stopped: {stop})"
    if status == "approximate":
        return f"approximate: {100 * report['fidelity']['agreement']:.2f}% right (stopped: {stop})"
    return f"{status} (stopped: {stop})"


def _errors(f: dict[str, Any]) -> str:
    e = f.get("errors") or {}
    if f["agree"] == f["total"] or "mean_abs_error" not in e and "rmse" not in e:
        return ""
    if "rmse" in e:
        return f"; RMSE {e['rmse']:.3g}, max error {e['max_abs_error']:.3g}"
    return f"; mean |error| {e['mean_abs_error']:.3g}, max {e['max_abs_error']}"


def _point(inputs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in inputs.items())


def _reference(v: dict[str, Any]) -> str:
    verdict = v["reference"]
    if verdict == "equivalent":
        return "equivalent (proved by Z3 on the training range)"
    if verdict == "counterexample":
        c = v["counterexample"]
        return (f"differs at {_point(c['inputs'])}: program {c['program']}, reference "
                f"{c['reference']}")
    if verdict == "unknown":
        return f"unknown ({v.get('reference_reason') or 'Z3 gave no answer'})"
    return "none given"


def _ratio(speedup: float) -> str:
    if speedup >= 1:
        return f"{speedup:,.3g}x faster" if speedup < 1000 else f"{speedup:,.0f}x faster"
    return f"{1 / speedup:.3g}x slower"


def html(report: dict[str, Any]) -> str:
    """A report as an HTML fragment (notebooks): the text summary and the Pareto front as a
    table. Everything inline: no script, no asset from elsewhere."""
    from html import escape

    rows = "".join(f"<tr><td>{p['size']}</td><td>{100 * p['agreement']:.2f}%</td>"
                   f"<td><code>{escape(p['program'])}</code></td></tr>" for p in report["pareto"])
    table = (f"<table><tr><th>size</th><th>agreement</th><th>program</th></tr>{rows}</table>"
             if rows else "")
    return (f"<div class=\"netsynth-report\"><pre>{escape(render(report))}</pre>"
            f"<p><b>Pareto front</b> (size against agreement on the check points)</p>{table}</div>")
