"""Words and numbers a report is told in, shared by its terminal text and its HTML
(netsynth/render.py): percentages that never round a shortfall away, programs on one line, how
each family proves a program equal to its reference, whether the network follows the program
beyond its range, a rule's disagreements by boundary."""

from __future__ import annotations

from typing import Any


def point(inputs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in inputs.items())


#: How each family's verifier proves a program equal to its reference (a verifier's own reason,
#: when it gives one with an equivalent verdict, is shown instead).
PROOF = {"function": "proved by Z3 on the training range",
         "real": "proved symbolically",
         "rule": "proved by Z3 over the reals on the training box",
         "stateful": "proved by Z3 on every sequence up to the unrolled length",
         "automaton": "decided exactly on the product automaton, for words of every length"}


def report_family(spec: dict[str, Any]) -> str:
    """The family of a report's spec (its JSON form), as `oracle.spec.Spec.family` infers it."""
    if spec.get("family"):
        return spec["family"]
    if spec.get("sequence"):
        return "automaton" if spec["sequence"].get("output") == "final" else "stateful"
    if (spec.get("output") or {}).get("type") == "real":
        return "real"
    return "rule" if any(i.get("type") == "real" for i in spec.get("inputs", ())) else "function"


def proof(v: dict[str, Any], family: str) -> str:
    return v.get("reference_reason") or PROOF.get(family, "proved")


def follows(g: dict[str, Any]) -> str | None:
    """Whether the network still computes the program found beyond its training range: the
    share of points, the first departure, and what the verifier says about it (or why it was
    not measured)."""
    share, note = g.get("network_follows_program_beyond_range"), g.get("network_follows_note")
    if share is None:
        return f"not measured: {note}" if note else None
    text = (f"the network computes the program on {percent(share)} of "
            f"{g.get('network_follows_points', 0):,} inputs beyond its training range")
    departs = g.get("network_departs_from_program_at") or []
    if departs:
        d = departs[0]
        text += (f"; it departs at {point(d['inputs'])} (network {d['network']}, program "
                 f"{d['program']})")
    if note and share < 1:
        text += f"; {note}"
    return text


def regions_text(regions: dict[str, Any] | None) -> list[str]:
    """A decision rule's disagreements by boundary: how many, and how thin the band they lie in."""
    if not regions or not regions.get("by_boundary") or not regions.get("disagreements"):
        return []
    lines = [f"near {b['boundary']}: {b['disagreements']:,}, within "
             f"{b.get('band_percent_of_range', 0):.3g}% of the range"
             for b in regions["by_boundary"] if b["disagreements"]]
    return lines + [f"away from every boundary: {regions.get('away_from_boundaries', 0):,}"]


def pareto_text(p: dict[str, Any]) -> str:
    """A Pareto row's program: an automaton by its states (its table is many lines), another
    program on one line."""
    if (p.get("program_data") or {}).get("kind") == "automaton":
        return f"{p['size']}-state automaton"
    return one_line(p["program"])


def one_line(program: str, width: int = 90) -> str:
    """A program's text on one line (a multi-line program's lines joined by " ; "), cut at
    `width` characters."""
    text = " ; ".join(" ".join(ln.split()) for ln in program.splitlines() if ln.strip())
    return text if len(text) <= width else text[:width - 3] + "..."


def point_label(fidelity: dict[str, Any]) -> str:
    """How a fidelity's listed points are introduced: where the program differs from the network,
    or where the error is largest (a real formula's: its verifier lists its largest errors, within
    the tolerance or not; and any list where every point agrees)."""
    largest = fidelity["agree"] == fidelity["total"] or \
        (fidelity.get("errors") or {}).get("metric") == "tolerance"
    return "largest error at" if largest else "differs at"


def percent(share: float, digits: int = 2) -> str:
    """A share as a percentage with `digits` decimals, more when those would round a share short
    of 1 up to "100.00%" or a share above 0 down to "0.00%" (99,995 of 100,000 is 99.995%)."""
    for d in range(digits, 7):
        text = f"{100 * share:.{d}f}"
        if not ((share < 1 and float(text) >= 100) or (share > 0 and float(text) == 0)):
            break
    return f"{text}%"
