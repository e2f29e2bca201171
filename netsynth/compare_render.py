"""One page for a comparison, from its JSON form (`CompareReport.to_dict()`): `render(data)` is the
terminal text of `netsynth compare`, `html(data)` the notebook's (`_repr_html_`). Both show the
same sections: the groups and their programs, the networks side by side against their group's
program (fidelity inside and beyond the training range, speed, size), where each departs from it,
where the networks disagree with each other, and what tells the groups apart."""

from __future__ import annotations

from typing import Any



def sections(data: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for each table of the page."""
    nets = data["networks"]
    networks = [[n["name"], _codecs(n["encodings"]), n["status"], n["program"] or "-",
                 str(n["group"] + 1)] for n in nets]
    against = []
    for n in nets:
        f, sp, sz = n["fidelity"], n["speed"], n["size"]
        against.append([n["name"], _share(f) if f else "-",
                        _beyond(n),
                        f"{sp['network_us_per_query']:.3f} / {sp['program_us_per_query']:.4f}"
                        if sp else "-",
                        _ratio(sp["speedup"]) if sp else "-",
                        f"{sz['network_parameters']:,} params, {_bytes(sz['network_bytes'])}"
                        if sz else "-",
                        f"{sz['program_nodes']} nodes" if sz else "-"])
    return [
        ("networks", ["network", "encodings", "extraction", "its program", "group"], networks),
        ("against the group's program", ["network", "fidelity (own domain)", "beyond its range",
                                         "us/query: network / program", "program is",
                                         "network size", "program size"], against),
    ]


def render(data: dict[str, Any]) -> str:
    """The comparison as text for a terminal."""
    groups, nets = data["groups"], data["networks"]
    lines = [f"netsynth compare: {len(nets)} networks, {_outcome(data)}",
             f"shared    {_domain(data)}: {data['points']:,} "
             f"{'sequences' if data.get('lengths') else 'points'}"
             f" ({'whole shared domain' if data['exhaustive'] else 'a sample'})"]
    for k, g in enumerate(groups):
        lines.append("")
        lines.append(f"group {k + 1}   {g['program'] if g['program'] is not None else '(no program)'}"
                     f"   shared by {', '.join(g['members'])}")
        if g.get("table"):
            lines += ["  program", *("    " + ln for ln in g["table"].splitlines())]
        if g["python"]:
            lines += ["  python", *("    " + ln for ln in g["python"].splitlines())]
        if g.get("skeleton"):
            lines += [f"  skeleton  {g['skeleton']}",
                      "  constants side by side: each network's formula's, and the skeleton's "
                      "fitted to the network itself",
                      *("  " + ln for ln in _table(*_constants(g)))]
        for member, proof in zip(g["members"], g["proofs"]):
            own = next(n for n in nets if n["name"] == member)["program"]
            if own is not None and own != g["program"]:
                lines.append(f"  {member} found {own}: {_proof(proof)}")
    for title, header, rows in sections(data):
        lines += ["", title, *_table(header, rows)]
    lines += ["", "departures from the group's program"]
    lines += _departures(nets) or ["  none: every network does exactly what its group's program does"]
    unit = "sequences" if data.get("lengths") else "points"
    lines += ["", f"between networks (on the {data['points']:,} {unit} of the shared domain"
                  f"{'' if data['exhaustive'] else ', sampled'})"]
    width = max((len(f"{p['a']} / {p['b']}") for p in data["pairs"]), default=0)
    for p in data["pairs"]:
        pair = f"{p['a']} / {p['b']}".ljust(width)
        if not p["differ"]:
            lines.append(f"  {pair}  agree on all {p['checked']:,}")
            continue
        shown = "; ".join(f"{_point(q['inputs'])}: {_num(q['a'])} vs {_num(q['b'])}"
                          for q in p["points"])
        lines.append(f"  {pair}  differ on {p['differ']:,} of {p['checked']:,}"
                     + (f", e.g. {shown}" if shown else ""))
    if data["relations"]:
        lines += ["", "between groups"]
        lines += [f"  group {r['a'] + 1} / group {r['b'] + 1}: {_apart(r)}" for r in data["relations"]]
    e = data["execution"]
    lines += ["", f"extracted {len(nets)} networks {_how(e)} in {e['seconds']:.2f} s"
                  + (f" (+ {e['startup']:.1f} s starting Ray)" if e["startup"] >= 0.05 else "")
                  + f"; the whole comparison took {e['total']:.2f} s"]
    lines += [f"note      {n}" for n in data["notes"]]
    return "\n".join(lines)


def html(data: dict[str, Any]) -> str:
    """The comparison as an HTML fragment: the same sections as tables, all inline."""
    from html import escape

    def table(header: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                       for row in rows)
        return f"<table><tr>{head}</tr>{body}</table>"

    groups = [[str(k + 1), g["program"] or "(no program)", ", ".join(g["members"])]
              for k, g in enumerate(data["groups"])]
    headline = f"{len(data['networks'])} networks, {_outcome(data)}"
    parts = [f"<p><b>{escape(headline)}</b> on {escape(_domain(data))}</p>",
             "<p><b>groups</b></p>", table(["group", "program", "networks"], groups)]
    for k, g in enumerate(data["groups"]):
        if g.get("table"):
            parts += [f"<p><b>group {k + 1}: program</b></p>", f"<pre>{escape(g['table'])}</pre>"]
        if g.get("skeleton"):
            parts += [f"<p><b>group {k + 1}: skeleton</b> <code>{escape(g['skeleton'])}</code>, "
                      f"fitted constants side by side</p>", table(*_constants(g))]
    for title, header, rows in sections(data):
        parts += [f"<p><b>{escape(title)}</b></p>", table(header, rows)]
    pairs = [[p["a"], p["b"], f"{p['differ']:,} of {p['checked']:,}",
              "; ".join(f"{_point(q['inputs'])}: {_num(q['a'])} vs {_num(q['b'])}"
                        for q in p["points"])]
             for p in data["pairs"]]
    parts += ["<p><b>between networks</b> (points where their outputs differ)</p>",
              table(["network", "network", "differ on", "e.g."], pairs)]
    departures = _departures(data["networks"])
    if departures:
        parts += ["<p><b>departures from the group's program</b></p>",
                  "<pre>" + escape("\n".join(d.strip() for d in departures)) + "</pre>"]
    if data["relations"]:
        parts += ["<p><b>between groups</b></p>", "<ul>" + "".join(
            f"<li>group {r['a'] + 1} / group {r['b'] + 1}: {escape(_apart(r))}</li>"
            for r in data["relations"]) + "</ul>"]
    parts += [f"<p>note: {escape(n)}</p>" for n in data["notes"]]
    return f"<div class=\"netsynth-compare\">{''.join(parts)}</div>"


def _outcome(data: dict[str, Any]) -> str:
    n = len(data["groups"])
    if data["outcome"] == "one program":
        return "one formula" if data.get("family") == "real" else "one program"
    if data["outcome"] == "several programs":
        return f"{n} groups, proved different"
    return f"{n} groups, not all proved different (undecided)"


def _ranges(ranges: dict[str, list[Any]]) -> str:
    return ", ".join(f"{name} in [{_num(lo)}, {_num(hi)}]" for name, (lo, hi) in ranges.items())


def _domain(data: dict[str, Any]) -> str:
    """The shared domain: the shared ranges, and for sequences their shared lengths."""
    lengths = data.get("lengths")
    if not lengths:
        return _ranges(data["ranges"])
    return f"sequences of {lengths[0]}..{lengths[1]} steps, {_ranges(data['ranges'])}"


def _num(v: Any) -> str:
    """A value as the page shows it: floats to 6 significant digits, the rest as they are."""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return "[" + ", ".join(_num(x) for x in v) + "]"
    return str(v)


def _beyond(n: dict[str, Any]) -> str:
    if n["beyond"]:
        return _share(n["beyond"])
    f = n.get("follows")
    if f and f["agreement"] is not None:
        from netsynth.wording import percent

        return f"{percent(f['agreement'])} of {f['points']:,}"
    return "not measurable"


def _constants(g: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The members' constants as a table: one column per parameter of the skeleton for those of
    its own formula, then for the skeleton fitted to the network, and that fit's error."""
    rows, width = g["constants"], len(_params(g["skeleton"]))
    params = [f"${k}" for k in range(width)]
    header = ["network", *(f"{p} formula" for p in params), *(f"{p} network" for p in params),
              "fit rel. RMS"]
    out = []
    for name, c in rows.items():
        own = c["formula"]
        cells = [f"{v:.6g}" for v in own] if isinstance(own, list) else \
            [own or "no formula"] + [""] * (width - 1)
        fitted = [f"{v:.6g}" for v in c["network"]] or [""] * width
        out.append([name, *cells[:width], *fitted[:width], f"{c['error']:.2g}"])
    return header, out


def _params(skeleton: str) -> set[str]:
    import re

    return set(re.findall(r"\$\d+", skeleton))


def _codecs(encodings: dict[str, str]) -> str:
    inputs = {k: v for k, v in encodings.items() if k != "output"}
    same = set(inputs.values())
    shown = same.pop() if len(same) == 1 else ", ".join(f"{k}: {v}" for k, v in inputs.items())
    return f"{shown} -> {encodings['output']}"


def _share(f: dict[str, Any]) -> str:
    """Agreement in a few words: 251/256 (98.05%), 256/256 (100%)."""
    from netsynth.wording import percent

    pct = "100%" if f["agree"] == f["total"] else percent(f["agree"] / f["total"])
    return f"{f['agree']:,}/{f['total']:,} ({pct})"


def _bytes(n: int | None) -> str:
    return "-" if n is None else f"{n:,} B"


def _departures(nets: list[dict[str, Any]]) -> list[str]:
    """Where each network departs from its group's program, inside its range then beyond it. A
    real formula's points are its largest errors, largest first."""
    lines = []
    for n in nets:
        f, follows = n["fidelity"], n.get("follows")
        if f and f["agree"] == f["total"] and (f.get("errors") or {}).get("max_abs_error"):
            worst = f["disagreements"][:1]
            lines.append(f"  {n['name']} inside its range: within the tolerance at every point "
                         f"checked; largest error {f['errors']['max_abs_error']:.3g}"
                         + (f", at {_disagreement(worst[0])}" if worst else ""))
        for where, f in (("inside its range", n["fidelity"]), ("beyond its range", n["beyond"])):
            if f and f["agree"] < f["total"]:
                shown = "; ".join(_disagreement(d) for d in f["disagreements"][:3])
                lines.append(f"  {n['name']} {where}: {f['total'] - f['agree']:,} of "
                             f"{f['total']:,} points{' (sampled)' if not f['exhaustive'] else ''}"
                             + (f", e.g. {shown}" if shown else ""))
        if follows and follows["departures"]:
            shown = "; ".join(_disagreement(d) for d in follows["departures"][:3])
            lines.append(f"  {n['name']} beyond its range: follows the program on "
                         f"{_pct(follows['agreement'])} of {follows['points']:,} inputs; departs "
                         f"first at {shown}" + (f" ({follows['note']})" if follows["note"] else ""))
        elif n["beyond"] is None and n["beyond_note"] and not (follows and follows["agreement"] is not None):
            lines.append(f"  {n['name']} beyond its range: not measurable ({n['beyond_note']})")
    return lines


def _pct(share: float) -> str:
    from netsynth.wording import percent

    return percent(share)


def _disagreement(d: dict[str, Any]) -> str:
    program = "overflow" if d.get("overflow") else _num(d["program"])
    return f"{_point(d['inputs'])}: network {_num(d['network'])}, program {program}"


def _proof(p: dict[str, Any]) -> str:
    if p["verdict"] == "equivalent":
        return p.get("reason") or "proved equal by Z3 on the shared ranges"
    return f"{p['verdict']} ({p['reason']})" if p.get("reason") else p["verdict"]


def _apart(r: dict[str, Any]) -> str:
    if r["verdict"] == "counterexample":
        c = r["counterexample"]
        how = f" ({r['reason']})" if r.get("reason") else ""
        return (f"{'different' if how else 'proved different by Z3'}: at {_point(c['inputs'])} group "
                f"{r['a'] + 1} gives {_num(c['reference'])}, group {r['b'] + 1} gives "
                f"{_num(c['program'])}{how}")
    return f"unknown: neither proved equal nor different ({r.get('reason') or 'Z3 gave no answer'})"


def _point(inputs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_num(v)}" for k, v in inputs.items())


def _ratio(speedup: float) -> str:
    if speedup >= 1:
        return f"{speedup:,.3g}x faster" if speedup < 1000 else f"{speedup:,.0f}x faster"
    return f"{1 / speedup:.3g}x slower"


def _how(e: dict[str, Any]) -> str:
    if e["mode"] == "ray tasks":
        return f"as Ray tasks ({e['workers']} at a time)"
    return "in-process, one after another"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
            for row in [header, *rows]]
