"""How far a rule's boundaries are from a reference rule's: `displacements(found, reference, spec)`.

Each comparison of a rule (`lhs > t`, `lhs < t`, ... with a linear `lhs`) is a boundary: the
hyperplane `sum c_k x_k = t`. A reference boundary is matched with the found boundary over the same
inputs that lies closest to it, and their distance is the largest gap between the two planes
along the axis of the input with the largest weight (`|c_k| * range_k`) across the training box,
as a share of that input's range: for an axis-aligned split, the difference of the thresholds
over the range. Non-linear comparisons are left out (listed with `found: None`).
"""

from __future__ import annotations

from typing import Any

from dsl.ast import App, Const, Node, Var
from dsl.language import get_dsl

COMPARISONS = ("gt", "ge", "lt", "le")


def linear(node: Node) -> tuple[dict[str, float], float] | None:
    """(coefficients by input, constant) of a linear real expression, or None."""
    if isinstance(node, Var):
        return {node.name: 1.0}, 0.0
    if isinstance(node, Const):
        return ({}, float(node.value)) if not isinstance(node.value, bool) else None
    if not isinstance(node, App):
        return None
    parts = [linear(a) for a in node.args]
    if any(p is None for p in parts):
        return None
    if node.op in ("add", "sub"):
        (a, ca), (b, cb) = parts
        sign = 1.0 if node.op == "add" else -1.0
        out = dict(a)
        for k, v in b.items():
            out[k] = out.get(k, 0.0) + sign * v
        return out, ca + sign * cb
    if node.op == "neg":
        a, ca = parts[0]
        return {k: -v for k, v in a.items()}, -ca
    if node.op == "mul":
        (a, ca), (b, cb) = parts
        if a and b:
            return None
        scale, (terms, c) = (ca, (b, cb)) if not a else (cb, (a, ca))
        return {k: scale * v for k, v in terms.items()}, scale * c
    if node.op == "div":
        (a, ca), (b, cb) = parts
        if b or cb == 0:
            return None
        return {k: v / cb for k, v in a.items()}, ca / cb
    return None


def planes(node: Node) -> list[tuple[str, dict[str, float] | None, float]]:
    """(text, coefficients, threshold) of every comparison: `sum c_k x_k` against `threshold`."""
    dsl = get_dsl("real")
    out = []

    def walk(n: Node) -> None:
        if isinstance(n, App) and n.op in COMPARISONS:
            lhs = linear(dsl.app("sub", n.args[0], n.args[1]))
            if lhs is None:
                out.append((dsl.show(n), None, 0.0))
            else:
                coefs = {k: v for k, v in lhs[0].items() if v != 0}
                out.append((dsl.show(n), coefs, -lhs[1]))
            return
        if isinstance(n, App):
            for a in n.args:
                walk(a)

    walk(node)
    return out


def gap(a: tuple[dict[str, float], float], b: tuple[dict[str, float], float], spec: Any) -> float:
    """The largest gap between two planes over the box along the heaviest input of `a`, as a share
    of its range (inf when they do not use the same inputs)."""
    ranges = spec.ranges()
    (ca, ta), (cb, tb) = a, b
    if set(ca) != set(cb):
        return float("inf")
    unit = max(ca, key=lambda k: abs(ca[k]) * ((ranges[k][1] - ranges[k][0]) or 1.0))
    if cb[unit] * ca[unit] <= 0:
        return float("inf")
    na = {k: v / ca[unit] for k, v in ca.items()}
    nb = {k: v / cb[unit] for k, v in cb.items()}
    dt = ta / ca[unit] - tb / cb[unit]
    centre, spread = dt, 0.0
    for k in ca:
        if k == unit:
            continue
        lo, hi = ranges[k]
        d = na[k] - nb[k]
        centre -= d * (lo + hi) / 2
        spread += abs(d) * (hi - lo) / 2
    span = (ranges[unit][1] - ranges[unit][0]) or 1.0
    return (abs(centre) + spread) / span


def displacements(found: Node, reference: Node, spec: Any) -> list[dict[str, Any]]:
    """Per reference boundary: the closest found boundary and its distance in % of the range."""
    mine = [(t, c, th) for t, c, th in planes(found) if c is not None]
    out = []
    for text, coefs, threshold in planes(reference):
        best = None
        if coefs is not None:
            for t, c, th in mine:
                d = gap((coefs, threshold), (c, th), spec)
                if best is None or d < best[0]:
                    best = (d, t)
        matched = best is not None and best[0] != float("inf")
        out.append({"reference": text, "found": best[1] if matched else None,
                    "percent_of_range": 100 * best[0] if matched else None})
    return out
