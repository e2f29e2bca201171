"""A real formula's pictures (`netsynth.pictures.pictures` hands a real report here): drawn from
the report alone, like the other families' (`netsynth.pictures`).

- `slices(s) -> Figure`: the network and the formula along each input
  (`netsynth.slices.Slices`), swept past its training range (shaded) with the others held fixed
  inside theirs, one panel per input;
- `residuals(s) -> Figure`: the formula minus the network on the training box against the
  network's value, inside the tolerance band or not;
- `front(rows) -> Figure`: the formulas the search weighed (the report's `extra["formulas"]`),
  relative error against description length, the Pareto front as a step line, the chosen
  formula starred (AI Feynman 2.0's plane);
- `pictures(report) -> list[Picture]`: those of them the report has data for.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from netsynth.pictures import DISAGREE, NETWORK, PROGRAM, TRAINING, Picture, _short, picture_of
from netsynth.slices import WIDEN, Slices


def pictures(report: dict[str, Any]) -> list[Picture]:
    out = []
    if (report.get("comparison") or {}).get("kind") == "slices":
        out += _real(Slices.from_dict(report["comparison"]))
    rows = [r for r in ((report.get("extra") or {}).get("formulas") or [])
            if r.get("relative_rmse") is not None and np.isfinite(r["relative_rmse"])]
    if len(rows) > 1:
        out.append(_front_picture(rows))
    return out


def slices(s: Slices) -> Any:
    """The network and the formula along each input (a matplotlib `Figure`), one panel per input,
    its training range shaded; see the module docstring."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    k = len(s.names)
    cols = min(k, 3)
    rows = -(-k // cols)
    fig = Figure(figsize=(3.4 * cols + 1.9, 2.7 * rows + 0.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for j, (name, ax) in enumerate(zip(s.names, axes)):
        lo, hi = s.box[j]
        ax.axvspan(lo, hi, color=TRAINING, lw=0)
        ax.plot(s.axes[j], s.network[j], color=NETWORK, lw=1.6)
        ax.plot(s.axes[j], s.formula[j], color=PROGRAM, lw=1.6, ls="--")
        ax.set_ylim(*_focus(s, j))
        ax.set_xlabel(name)
        if j % cols == 0:
            ax.set_ylabel("output")
        ax.grid(alpha=0.3)
    for ax in axes[k:]:
        ax.set_visible(False)
    fig.legend(handles=[axes[0].lines[0], axes[0].lines[1],
                        Patch(facecolor=TRAINING, label="training range")],
               labels=["network", "formula", "training range"], loc="outside right upper",
               frameon=False)
    title = "each input swept past its training range" + (", the others held fixed" if k > 1 else "")
    fig.suptitle(title, fontsize="medium")
    return fig


def residuals(s: Slices) -> Any:
    """Formula minus network on the training box against the network's value, with the
    tolerance band (a matplotlib `Figure`)."""
    from matplotlib.figure import Figure

    n, r = s.sample_network, s.sample_formula - s.sample_network
    ok = np.isfinite(r)
    inside = ok & (np.abs(r) <= s.band(n))
    fig = Figure(figsize=(7.4, 4.0), layout="constrained")
    ax = fig.subplots()
    grid = np.sort(n[np.isfinite(n)])
    band = s.band(grid)
    ax.fill_between(grid, -band, band, color=TRAINING, lw=0,
                    label=f"tolerance ±({s.abs_tol:.3g} + {s.rel_tol:g}·|network|)")
    ax.scatter(n[inside], r[inside], s=9, color=NETWORK,
               label=f"within ({int(inside.sum())} of {len(n)})")
    if (ok & ~inside).any():
        ax.scatter(n[ok & ~inside], r[ok & ~inside], s=16, color=DISAGREE,
                   label=f"outside ({int((ok & ~inside).sum())})")
    ax.axhline(0, color="#555", lw=0.8)
    ax.set_xlabel("network output")
    ax.set_ylabel("formula − network")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    ax.set_title(f"residuals at {len(n)} points of the training box", fontsize="medium")
    return fig


def _focus(s: Slices, j: int) -> tuple[float, float]:
    """A slice's y-limits: everything inside the training range, and beyond it no further than
    1.5 times that span (a diverging formula or network would flatten the rest)."""
    both = np.concatenate([s.network[j], s.formula[j]])
    inner = np.concatenate([s.network[j][s.inside(j)], s.formula[j][s.inside(j)]])
    both, inner = both[np.isfinite(both)], inner[np.isfinite(inner)]
    if not inner.size:
        inner = both if both.size else np.zeros(1)
    a, b = float(inner.min()), float(inner.max())
    span = (b - a) or abs(a) or 1.0
    lo = max(float(both.min(initial=a)), a - 1.5 * span)
    hi = min(float(both.max(initial=b)), b + 1.5 * span)
    margin = 0.05 * (hi - lo) or span / 2          # a constant slice gets a band around it
    return lo - margin, hi + margin


def _real(s: Slices) -> list[Picture]:
    out = []
    gaps = [(s.gap(j, s.inside(j)), s.gap(j, ~s.inside(j))) for j in range(len(s.names))]
    inner = max((g for g, _ in gaps if g is not None), default=None)
    outer = max((g for _, g in gaps if g is not None), default=None)
    sweeps = "; ".join(f"{n} from {a[0]:.4g} to {a[-1]:.4g} (trained on {lo:.4g} to {hi:.4g})"
                       for n, a, (lo, hi) in zip(s.names, s.axes, s.box))
    if inner is None:
        measured = "Inside the training ranges they are nowhere both defined along these slices."
    else:
        measured = (f"Along these slices, inside the training ranges they differ by at most "
                    f"{_times(inner)} the tolerance"
                    + (f"; beyond them, by up to {_times(outer)}." if outer is not None else "."))
    if len(s.names) == 1:
        held = alt_held = ""
    else:
        values = ", ".join(f"{n} = {c:.4g}" for n, c in zip(s.names, s.held))
        held = f", the others held at {values} (each where it is not swept)"
        alt_held = f", the other inputs held fixed inside theirs ({values})"
    alt = (f"Line charts, one per input, of the network (solid) and the formula (dashed) as that "
           f"input sweeps past its training range (shaded){alt_held}: {sweeps}. {measured}")
    caption = (f"Each input swept up to {WIDEN:g} range-width past its training range "
               f"(shaded){held}: the network (solid) and the formula (dashed). {measured}")
    out.append(picture_of(slices(s), "slices", alt, caption))
    n, f = s.sample_network, s.sample_formula
    r = f - n
    ok = np.isfinite(r)
    within = int((ok & (np.abs(r) <= s.band(n))).sum())
    worst = (f"; the largest |formula \u2212 network| is {np.abs(r[ok]).max():.3g}"
             if ok.any() else "")
    missing = ""
    if (~np.isfinite(f)).any():
        missing += f"; the formula is undefined at {int((~np.isfinite(f)).sum())}"
    if (~np.isfinite(n)).any():
        missing += f"; the network gives no finite value at {int((~np.isfinite(n)).sum())}"
    alt = (f"Scatter plot of the formula minus the network against the network's output at "
           f"{len(r)} points of the training box, with the tolerance band \u00b1({s.abs_tol:.3g} + "
           f"{s.rel_tol:g}\u00b7|network|) shaded: {within} of {len(r)} points lie within "
           f"it{worst}{missing}.")
    caption = (f"Residuals on the training box: {within:,} of {len(r):,} points within the "
               f"tolerance the formula was judged by (shaded){worst}{missing}.")
    out.append(picture_of(residuals(s), "residuals", alt, caption))
    return out


def _times(g: float) -> str:
    return f"{g:.2g} times" if g < 10 else f"{g:,.0f} times"


def front(rows: Sequence[dict[str, Any]]) -> Any:
    """Relative RMSE (log) against description length for the formulas weighed (dicts with
    `formula`, `bits`, `relative_rmse`, `on_front`, `chosen`), the front as a step line."""
    from matplotlib.figure import Figure

    bits = np.array([float(r["bits"]) for r in rows])
    err = np.maximum(np.array([float(r["relative_rmse"]) for r in rows]), 1e-12)
    on = np.array([bool(r.get("on_front")) for r in rows])
    fig = Figure(figsize=(7.4, 4.0), layout="constrained")
    ax = fig.subplots()
    order = np.argsort(bits, kind="stable")          # the least error within each length
    ax.step(bits[order], np.minimum.accumulate(err[order]), where="post", color="#999", lw=1,
            zorder=1)
    ax.scatter(bits[on], err[on], s=36, color=NETWORK, zorder=2,
               label=f"on the front ({int(on.sum())})")
    if (~on).any():
        ax.scatter(bits[~on], err[~on], s=22, color="#bbb", zorder=2,
                   label=f"dominated ({int((~on).sum())})")
    for r, b, e in zip(rows, bits, err):
        if len(rows) <= 8 or r.get("chosen"):
            ax.annotate(_short(r["formula"]), (b, e), textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize="small", color="#444")
    chosen = [i for i, r in enumerate(rows) if r.get("chosen")]
    if chosen:
        i = chosen[0]
        ax.scatter([bits[i]], [err[i]], marker="*", s=260, color=DISAGREE, zorder=3,
                   label=f"chosen: {_short(rows[i]['formula'])}")
    ax.set_yscale("log")
    pad = max(2.0, 0.08 * float(bits.max() - bits.min()))
    ax.set_xlim(bits.min() - pad, bits.max() + pad)            # room for the labels
    ax.set_ylim(err.min() / 4, err.max() * 8)
    ax.set_xlabel("description length (bits)")
    ax.set_ylabel("relative RMSE against the network")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False)
    return fig


def _front_picture(rows: Sequence[dict[str, Any]]) -> Picture:
    on = [r for r in rows if r.get("on_front")]
    chosen = next((r for r in rows if r.get("chosen")), None)
    alt = (f"Pareto front: relative RMSE against the network (log scale) against description "
           f"length for {len(rows)} formulas; on the front: "
           + "; ".join(f"{r['formula']} ({r['bits']:g} bits, {r['relative_rmse']:.3g})" for r in on)
           + (f". The chosen formula {chosen['formula']} is starred." if chosen else "."))
    caption = ("Each point is a formula the search weighed: its description length and its error "
               "against the network; the step line is the front (the least error within a length)."
               + (" The star is the formula reported." if chosen else ""))
    return picture_of(front(rows), "pareto", alt, caption)
