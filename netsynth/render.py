"""A report in its JSON form (what `netsynth run --json` writes, and a job's result) for readers:
`render(report)` is the short text a terminal shows; `html(report)` is the HTML a notebook shows
(`Report._repr_html_`) and the body of the job service's results page. Both work on the JSON form,
so a client holding only a job's result renders it exactly as the command that ran the search."""

from __future__ import annotations

from typing import Any

from netsynth import sections
from netsynth.wording import (  # noqa: F401  (percent, follows, ... are also read from here)
    PROOF, follows, one_line, pareto_text, percent, point, point_label, proof, regions_text,
    report_family,
)


def render(report: dict[str, Any]) -> str:
    """A readable summary of a report in its JSON form (`Report.to_dict()`, or a job's result)."""
    f, s = report["fidelity"], report["search"]
    lines = [f"netsynth: {report['spec'].get('name')}: {_headline(report)}"]
    if report["program"] is not None:
        title = "program  " if report["status"] != "nothing found" else "best try"
        program = report["program"].splitlines() or [""]
        if len(program) == 1:
            lines.append(f"{title} {program[0]}")
        else:                       # a table (an automaton) or several lines (a program with state)
            lines += [title.rstrip(), *("  " + ln for ln in program)]
        lines += ["python", *("  " + ln for ln in report["python"].splitlines())]
        scope = "whole domain" if f["exhaustive"] else "sample"
        lines.append(f"fidelity  {f['agree']}/{f['total']} ({percent(f['agreement'])}, "
                     f"{scope}){_errors(f)}")
        for d in f["disagreements"][:5]:
            lines.append(f"  {point_label(f)} {_point(d['inputs'])}: network {d['network']}, "
                         f"program {d['program']}")
        lines += ["  " + ln for ln in regions_text((f.get("errors") or {}).get("regions"))]
    startup = s.get("startup") or 0.0
    if s.get("family", "function") == "function":
        lines.append(f"search    {s['seconds']:.2f} s"
                     + (f" (+ {startup:.1f} s starting Ray)" if startup >= 0.05 else "")
                     + f", {s['candidates']:,} candidates, {s['distinct']:,} distinct, "
                     f"{s['rounds']} round(s), sample of {s['sample_size']}, "
                     f"{s['workers']} worker(s)")
    else:
        lines.append(f"search    {s['seconds']:.2f} s"
                     + (f" (+ {startup:.1f} s starting Ray)" if startup >= 0.05 else "")
                     + f", {s['sample_size']:,} network queries, {s['candidates']:,} candidates, "
                     f"{s['workers']} worker(s); {s['stop_detail']}")
    if s.get("portfolio"):
        lines.append("portfolio " + "; ".join(_outcome(o) for o in s["portfolio"]))
    if s.get("figures") and sections.figures_text(s["figures"]):
        lines.append(f"{s.get('family', 'family'):<9} {sections.figures_text(s['figures'])}")
    lines += sections.text(report.get("extra") or {},
                           shown=(report.get("program"), report.get("python")))
    if len(report["pareto"]) > 1:
        lines.append("pareto    size  agreement  program")
        lines += [f"          {p['size']:>4}  {percent(p['agreement']):>9}  {pareto_text(p)}"
                  for p in report["pareto"]]
    v = report.get("verification")
    if v:
        lines.append("reference " + _reference(v, report.get("family")
                                               or report_family(report["spec"])))
        g = v["generalisation"]
        if g["holds"] is not None:
            lines.append(f"beyond    {'holds' if g['holds'] else 'fails'} on {g['checked']} "
                         f"inputs outside the training range"
                         + (f"; counterexample {g['counterexample']}"
                            if g["counterexample"] else ""))
        elif g.get("note"):
            lines.append(f"beyond    {g['note']}")
        if g.get("network_agreement_beyond_range") is not None:
            lines.append(f"network   {100 * g['network_agreement_beyond_range']:.1f}% right "
                         f"beyond its training range")
        beyond_text = follows(g)
        if beyond_text:
            lines.append(f"follows   {beyond_text}")
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
        return f"approximate: {percent(report['fidelity']['agreement'])} right (stopped: {stop})"
    return f"{status} (stopped: {stop})"


def _errors(f: dict[str, Any]) -> str:
    e = f.get("errors") or {}
    if f["agree"] == f["total"] or "mean_abs_error" not in e and "rmse" not in e:
        return ""
    if e.get("regions"):        # classes by index: their mean difference means nothing
        return ""
    if "rmse" in e:
        return f"; RMSE {e['rmse']:.3g}, max error {e['max_abs_error']:.3g}"
    return f"; mean |error| {e['mean_abs_error']:.3g}, max {e['max_abs_error']}"


_point = point


def _reference(v: dict[str, Any], family: str = "function") -> str:
    verdict = v["reference"]
    if verdict == "equivalent":
        return f"equivalent ({proof(v, family)})"
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



# ---- HTML (notebooks and the results page) --------------------------------------------------------

STYLE = """<style>
.netsynth-report { max-width: 1140px; }
.netsynth-report h3 { margin: 1.4em 0 .4em; font-size: 1.1em; }
.netsynth-report .headline { font-size: 1.15em; font-weight: 600; }
.netsynth-report pre { background: #f5f6f8; padding: .6em .8em; border-radius: 4px; overflow-x: auto; }
.netsynth-report table { border-collapse: collapse; margin: .4em 0; }
.netsynth-report td, .netsynth-report th { padding: .2em .8em; border-bottom: 1px solid #e2e2e2;
  text-align: left; }
.netsynth-report td.num, .netsynth-report th.num { text-align: right; font-variant-numeric: tabular-nums; }
.netsynth-report figure { margin: .6em 0; }
.netsynth-report figcaption { color: #555; font-size: .9em; max-width: 60em; }
.netsynth-report ul.notes { background: #fff8e1; border-left: 3px solid #e0a800; padding: .5em 1em .5em 2em; }
.netsynth-report .key { display: flex; flex-wrap: wrap; gap: .8em; margin: .8em 0; }
.netsynth-report .key > div { border: 1px solid #dfe3ea; border-radius: 6px; padding: .4em .9em;
  min-width: 9em; display: flex; flex-direction: column; }
.netsynth-report .key .label { font-size: .8em; color: #667; text-transform: uppercase; }
.netsynth-report .key .value { font-size: 1.35em; font-weight: 600; }
.netsynth-report .key .sub { font-size: .8em; color: #667; }
.netsynth-report .pareto { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
</style>"""


def html(report: dict[str, Any], *, figures: dict[str, str] | None = None,
         ids: bool = False) -> str:
    """A report in its JSON form as an HTML fragment: headline, program and Python, fidelity as a
    sentence with the disagreements as a table, verification as a list, the search's figures,
    notes, the network-against-program pictures and the Pareto front (table and plot).

    `figures` maps a picture's kind ("comparison", "pareto"; "slices" and "residuals" for a real
    formula) to its `<figure>` HTML when the caller has drawn them already (the results page
    caches them); by default they are drawn here
    (`netsynth.pictures`). `ids` gives the program and Python blocks ids (one report per page).
    No script and no asset from elsewhere: images are inline. Every text from the report is
    escaped."""
    if figures is None:
        from netsynth import pictures

        figures = {p.kind: p.html() for p in pictures.pictures(report)}
    name = (report.get("spec") or {}).get("name") or "report"
    parts = [STYLE, f'<p class="headline">{escape(f"{name}: {_headline(report)}")}</p>']
    parts.append(_key_figures(report))
    if report.get("notes"):
        parts.append("<ul class=\"notes\">" + "".join(f"<li>{escape(n)}</li>"
                                                      for n in report["notes"]) + "</ul>")
    if report.get("program") is not None:
        title = "Program" if report["status"] != "nothing found" else "Best try"
        parts += [f"<h3>{title}</h3>{_pre('program', report['program'], ids)}",
                  f"<h3>Python</h3>{_pre('python', report['python'], ids)}"]
    if "comparison" in figures:
        parts.append(f"<h3>Network against program</h3>{figures['comparison']}")
    if "slices" in figures:
        parts.append(f"<h3>Network against formula</h3>{figures['slices']}"
                     f"{figures.get('residuals', '')}")
    if report.get("program") is not None:
        parts.append(f"<h3>Fidelity</h3>{_fidelity(report['fidelity'], report['spec'])}")
    v = report.get("verification")
    if v:
        parts.append(f"<h3>Verification</h3>{_verification(v, report['spec'])}")
    if report.get("extra"):
        parts.append(sections.html(report["extra"], shown=(
            report.get("program"), report.get("program_data"), report.get("python"))))
    parts.append(f"<h3>Search</h3><p>{escape(_search(report))}</p>")
    if report.get("pareto"):
        rows = "".join(f'<tr><td class="num">{p["size"]}</td><td class="num">'
                       f'{percent(p["agreement"])}</td><td><code>{escape(pareto_text(p))}'
                       f"</code></td></tr>" for p in report["pareto"])
        table = (f'<table><tr><th class="num">size</th><th class="num">agreement</th>'
                 f"<th>program</th></tr>{rows}</table>")
        about = "The best program found of each size, by agreement with the network."
        if report.get("family") == "real":
            about = "The formulas on the front, by agreement with the network." + (
                " The plot weighs every formula found by description length against error (the "
                "Formulas table)." if "pareto" in figures else "")
        parts.append(f"<h3>Pareto front</h3><p>{about}</p><div class=\"pareto\">{table}"
                     f"{figures.get('pareto', '')}</div>")
    return f'<div class="netsynth-report">{"".join(parts)}</div>'


def page(report: dict[str, Any]) -> str:
    """A report in its JSON form (or a compare job's result) as a standalone web page
    (`netsynth run --html`, `netsynth result --html`): `html(report)` with its pictures inline,
    nothing loaded from elsewhere."""
    if "outcome" in report:                             # a comparison of several networks
        from netsynth.compare_render import html as compare_html

        title, body = f"comparison: {report['outcome']}", compare_html(report)
    else:
        name = (report.get("spec") or {}).get("name") or "report"
        title, body = f"{name}: {_headline(report)}", html(report)
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f'</head><body style="max-width: 1100px; margin: 1.5em auto; padding: 0 1em">'
            f"{body}</body></html>\n")


def _pre(kind: str, text: str, ids: bool) -> str:
    attr = f'id="{kind}"' if ids else f'class="{kind}"'
    return f"<pre {attr}>{escape(text)}</pre>"


def _fidelity(f: dict[str, Any], spec: dict[str, Any]) -> str:
    """One sentence, and the disagreements listed in the report as a table."""
    where = ("points of the domain" if f["exhaustive"] else "points sampled from the domain")
    e = f.get("errors") or {}
    if f["agree"] == f["total"]:
        text = f"The program agrees with the network on all {f['total']:,} {where}"
        if e.get("rmse") is not None:
            text += (f", within its tolerance; RMSE {e['rmse']:.3g}, largest error "
                     f"{e['max_abs_error']:.3g}")
        text += "."
    else:
        text = (f"The program agrees with the network on {f['agree']:,} of the {f['total']:,} "
                f"{where} ({percent(f['agreement'])})")
        if e.get("rmse") is not None:
            text += f"; RMSE {e['rmse']:.3g}, largest error {e['max_abs_error']:.3g}"
        elif e.get("mean_abs_error") is not None and not e.get("regions"):
            text += (f"; off by {e['mean_abs_error']:.3g} on average over all points, at most "
                     f"{e['max_abs_error']}")
        text += "."
    if not f["exhaustive"] and f.get("wilson_low") is not None and f["total"]:
        text += (f" With 95% confidence it agrees on at least {100 * f['wilson_low']:.2f}% of "
                 "the domain.")
    out = f"<p>{escape(text)}</p>"
    shown = f.get("disagreements") or []
    if shown:
        names = [i["name"] for i in spec.get("inputs", ())] or list(shown[0]["inputs"])
        head = "".join(f'<th class="num">{escape(n)}</th>' for n in names)
        rows = "".join(
            "<tr>" + "".join(f'<td class="num">{escape(str(d["inputs"].get(n)))}</td>'
                             for n in names)
            + f'<td class="num">{escape(str(d["network"]))}</td><td class="num">'
            + escape("overflow" if d.get("overflow") else str(d["program"])) + "</td></tr>"
            for d in shown)
        missed = f["total"] - f["agree"]
        more = f"the first {len(shown)} of {missed:,}" if missed > len(shown) else f"all {missed:,}"
        if (f.get("errors") or {}).get("metric") == "tolerance":    # the largest errors, listed
            title = (f"The largest errors ({len(shown)} points, all within the tolerance)"
                     if missed == 0 else f"The largest errors ({len(shown)} points; {missed:,} "
                     f"of the {f['total']:,} are outside the tolerance)")
        else:
            title = f"Where they differ ({more})"
        out += (f"<p>{title}:</p><table class=\"disagreements\"><tr>{head}"
                f'<th class="num">network</th><th class="num">program</th></tr>{rows}</table>')
    regions = (f.get("errors") or {}).get("regions")
    if regions and regions.get("by_boundary"):
        rows = "".join(f"<tr><td><code>{escape(b['boundary'])}</code></td><td class=\"num\">"
                       f"{b['disagreements']:,}</td><td class=\"num\">"
                       f"{b.get('band_percent_of_range', 0):.3g}%</td></tr>"
                       for b in regions["by_boundary"])
        out += ("<p>The disagreements by boundary (the band: how far from it they lie, in % of "
                "the inputs' ranges):</p><table><tr><th>boundary</th><th class=\"num\">"
                f"disagreements</th><th class=\"num\">band</th></tr>{rows}</table>"
                f"<p>{regions.get('away_from_boundaries', 0):,} of them lie away from every "
                "boundary.</p>")
    return out


def _verification(v: dict[str, Any], spec: dict[str, Any]) -> str:
    reference = spec.get("reference")
    items = [("Reference", _against(v, reference, report_family(spec)))]
    g = v["generalisation"]
    if g["holds"] is not None:
        beyond = f"{'holds' if g['holds'] else 'fails'} on {g['checked']:,} inputs outside the training range"
        if g["counterexample"]:
            c = g["counterexample"]
            beyond += (f"; at {_point(c['inputs'])} the program gives {c['program']}, the "
                       f"reference {c['reference']}")
        items.append(("Beyond the training range", beyond))
    else:
        items.append(("Beyond the training range", g.get("note") or "not checked: there is no "
                      "reference to compare with there"))
    if g.get("network_agreement_beyond_range") is not None:
        items.append(("The network beyond its range", f"right on "
                      f"{100 * g['network_agreement_beyond_range']:.1f}% of the inputs tried"))
    elif g.get("network_beyond_range_note"):
        items.append(("The network beyond its range", f"not measured: "
                      f"{g['network_beyond_range_note']}"))
    beyond_text = follows(g)
    if beyond_text:
        items.append(("The network against this program beyond its range", beyond_text))
    sp, sz = v["speed"], v["size"]
    items.append(("Speed", f"network {sp['network_us_per_query']:.3g} \u00b5s per query, program "
                  f"{sp['program_us_per_query']:.3g} \u00b5s ({_ratio(sp['speedup'])})"
                  + (f", as exported Python {sp['python_us_per_query']:.3g} \u00b5s"
                     if sp.get("python_us_per_query") else "")))
    network = f"{sz['network_parameters']:,} parameters" + (
        f" ({sz['network_bytes']:,} bytes)" if sz.get("network_bytes") else "")
    unit = "states" if report_family(spec) == "automaton" else "nodes"
    items.append(("Size", f"the program has {sz['program_nodes']} {unit} "
                  f"({sz['program_chars']} characters of Python); the network has {network}"))
    verdict = ("holds: the program meets the agreement asked for and no counterexample to the "
               "reference is known" if v.get("holds") else
               "does not hold: the program falls short of the agreement asked for, or "
               "contradicts the reference")
    items.append(("Verdict", verdict))
    return "<ul class=\"verification\">" + "".join(
        f"<li><b>{escape(k)}</b>: {escape(text)}</li>" for k, text in items) + "</ul>"


def _against(v: dict[str, Any], reference: str | None, family: str = "function") -> str:
    """The reference verdict as a sentence naming the reference."""
    verdict = v["reference"]
    if verdict == "equivalent":
        if family == "function" and not v.get("reference_reason"):
            return f"equivalent to {reference} on the whole training range (proved by Z3)"
        return f"equivalent to {reference} ({proof(v, family)})"
    if verdict == "counterexample":
        c = v["counterexample"]
        return (f"differs from {reference} at {_point(c['inputs'])}: the program gives "
                f"{c['program']}, the reference {c['reference']}")
    if verdict == "unknown":
        return (f"not decided against {reference}: "
                f"{v.get('reference_reason') or 'Z3 gave no answer'}")
    return "none given in the spec"


def _key_figures(report: dict[str, Any]) -> str:
    """The figures a reader looks for first, side by side."""
    f, v = report["fidelity"], report.get("verification") or {}
    cells = []
    if report.get("program") is not None and f.get("total"):
        cells.append(("fidelity", f"{percent(f['agreement'])}",
                      f"{f['agree']:,} of {f['total']:,} "
                      + ("points (all)" if f["exhaustive"] else "sampled points")))
    if v:
        words = {"equivalent": "equivalent", "counterexample": "differs", "unknown": "unknown"}
        family = report.get("family") or report_family(report.get("spec") or {})
        how = {"function": "Z3", "rule": "Z3 over the reals", "stateful": "Z3, unrolled",
               "automaton": "the product automaton", "real": "sympy and Z3"}.get(family, "")
        cells.append(("reference", words.get(v["reference"], "none"),
                      f"proved by {how}" if v["reference"] == "equivalent" else f"checked by {how}"
                      if v["reference"] != "none" else "no reference given"))
        sz, sp = v["size"], v["speed"]
        unit = {"automaton": "states"}.get(family, "nodes")
        cells.append(("program size", f"{sz['program_nodes']} {unit}",
                      f"network: {sz['network_parameters']:,} parameters"))
        cells.append(("speed", _ratio(sp["speedup"]), "than the network"))
    s = report["search"]
    cells.append(("search", f"{s['seconds']:.2f} s", f"{s['candidates']:,} candidates"))
    return '<div class="key">' + "".join(
        f'<div><span class="label">{escape(k)}</span><span class="value">{escape(value)}</span>'
        f'<span class="sub">{escape(sub)}</span></div>' for k, value, sub in cells) + "</div>"


def _search(report: dict[str, Any]) -> str:
    s = report["search"]
    startup = s.get("startup") or 0.0
    text = (f"{s['seconds']:.2f} s" + (f" (+ {startup:.1f} s starting Ray)" if startup >= 0.05 else "")
            + f", {s['candidates']:,} candidates ({s['distinct']:,} distinct), "
            f"{s['rounds']} round{'s' if s['rounds'] != 1 else ''}, a sample of "
            f"{s['sample_size']} points, {s['workers']} worker{'s' if s['workers'] != 1 else ''}; "
            f"stopped: {s['stop_detail']}.")
    if s.get("family", "function") != "function":
        text = (f"{s['seconds']:.2f} s" + (f" (+ {startup:.1f} s starting Ray)" if startup >= 0.05
                                          else "")
                + f", {s['sample_size']:,} network queries, {s['candidates']:,} candidates, "
                f"{s['workers']} worker{'s' if s['workers'] != 1 else ''}; stopped: "
                f"{s['stop_detail']}.")
        if s.get("figures") and sections.figures_text(s["figures"]):
            text += f" {s['family'].capitalize()}: {sections.figures_text(s['figures'])}."
    if s.get("portfolio"):
        text += " Portfolio: " + "; ".join(_outcome(o) for o in s["portfolio"]) + "."
    return text


def escape(text: str) -> str:
    from html import escape as _escape

    return _escape(str(text))
