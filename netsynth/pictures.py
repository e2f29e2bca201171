"""A report's pictures, drawn with matplotlib: the same figures in a notebook and on the results page.

- `comparison(c) -> Figure`: the network against the program over the report's comparison grid
  (`netsynth.comparison.Comparison`). Two varying inputs: heat maps of the network's and the
  program's outputs (axes named and valued by the inputs, one colour bar for both) beside a map of
  the points where they disagree, with a legend. One input: both as lines, disagreements marked,
  with a legend.
- `pareto(front, chosen) -> Figure`: agreement against program size, the chosen program starred.
- a real formula's pictures are in `netsynth.pictures_real`.
- `pictures(report) -> list[Picture]`: these, from a report in its JSON form (`Report.to_dict()`,
  or a job's result), each as PNG bytes with its alt text; `html(report)` gives them as `<figure>`
  elements with the images inline (data: URIs), so a page or a notebook needs no other asset.

Everything is drawn from the report alone: no model is opened and no program parsed. matplotlib
is imported when a picture is first drawn (`import netsynth` stays cheap), and only through its
object-oriented API (a `Figure` drawn by the Agg canvas, never pyplot): drawing a picture does
not change a notebook's backend nor pyplot's list of figures, and server threads each draw their own.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from html import escape
from typing import Any, Sequence

import numpy as np

from netsynth.comparison import Comparison

CMAP = "viridis"
NETWORK, PROGRAM = "#3b528b", "#f28e2b"        # line colours (one input)
AGREE, DISAGREE = "#e6e6e6", "#d62728"         # the disagreement map and the marks of misses
TRAINING = "#e8edf4"                           # a real input's training range, the tolerance band
SCALE = 2                                      # PNG pixels per CSS pixel (sharp on HiDPI screens)


@dataclass(frozen=True)
class Picture:
    """One picture: `kind` ("comparison" or "pareto"), its PNG, the text a reader without the
    image gets, and what the figure holds (`legend`, `colorbar`), read back from the figure."""

    kind: str
    png: bytes
    alt: str
    caption: str
    width: int                  # CSS pixels (the PNG has SCALE times as many)
    height: int
    legend: tuple[str, ...] = ()
    colorbar: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode()

    def html(self) -> str:
        data = {"picture": self.kind, "legend": "; ".join(self.legend), **self.extra}
        if self.colorbar is not None:
            data["colorbar"] = self.colorbar
        attrs = "".join(f' data-{k}="{escape(v)}"' for k, v in data.items() if v)
        return (f'<figure class="netsynth-picture"{attrs}><img src="{self.uri}" '
                f'alt="{escape(self.alt)}" width="{self.width}" height="{self.height}" '
                f'style="max-width:100%;height:auto"><figcaption>{escape(self.caption)}'
                f"</figcaption></figure>")


# ---- figures --------------------------------------------------------------------------------------

def comparison(c: Comparison) -> Any:
    """The network against the program (a matplotlib `Figure`); see the module docstring."""
    return _heat_maps(c) if len(c.names) == 2 else _lines(c)


def _heat_maps(c: Comparison) -> Any:
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    x, y = c.names
    fig = Figure(figsize=(11, 3.9), layout="constrained")
    net_ax, prog_ax, wrong_ax = fig.subplots(1, 3)
    edges = [_edges(a) for a in c.axes]
    norm = Normalize(c.lo, c.hi)
    for ax, values, title in ((net_ax, c.network, "network"), (prog_ax, c.program, "program")):
        mesh = ax.pcolormesh(*edges, values.T, cmap=CMAP, norm=norm)   # rows of .T: y
        _frame(ax, title, x, y)
    low, high = min(c.network.min(), c.program.min()), max(c.network.max(), c.program.max())
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max",
              (True, True): "both"}[(bool(low < c.lo), bool(high > c.hi))]
    bar = fig.colorbar(mesh, ax=[net_ax, prog_ax], extend=extend, shrink=0.9, aspect=25)
    bar.set_label("output")
    _integer_ticks(bar.ax.yaxis)
    wrong_ax.pcolormesh(*edges, c.wrong.T.astype(int), cmap=ListedColormap([AGREE, DISAGREE]),
                        vmin=0, vmax=1)
    n, total = int(c.wrong.sum()), int(c.wrong.size)
    _frame(wrong_ax, f"disagreements: {n:,} of {total:,}", x, y)
    if n == 0:
        wrong_ax.text(0.5, 0.5, "none: they agree\neverywhere on the grid", ha="center",
                      va="center", transform=wrong_ax.transAxes, color="#555")
    wrong_ax.legend(handles=[Patch(facecolor=AGREE, edgecolor="#999", label=f"agree ({total - n:,})"),
                             Patch(facecolor=DISAGREE, label=f"disagree ({n:,})")],
                    loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    if c.fixed:
        fig.suptitle(f"other inputs held at {_held(c)}", fontsize="medium")
    return fig


def _lines(c: Comparison) -> Any:
    from matplotlib.figure import Figure

    (name,), xs = c.names, c.axes[0]
    fig = Figure(figsize=(9, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.plot(xs, c.network, color=NETWORK, lw=1.5, marker="o", ms=3, label="network")
    ax.plot(xs, c.program, color=PROGRAM, lw=1.5, ls="--", label="program")
    w = c.wrong.astype(bool)
    ax.vlines(xs[w], c.network[w], c.program[w], colors=DISAGREE, lw=1)
    ax.scatter(xs[w], c.network[w], s=50, facecolors="none", edgecolors=DISAGREE, lw=1.5,
               zorder=3, label=f"disagreements ({int(w.sum())} of {w.size})")
    ax.set_xlabel(name)
    ax.set_ylabel("output")
    _integer_ticks(ax.xaxis, ax.yaxis)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.set_title(f"network and program over {name}"
                 + (f" (other inputs held at {_held(c)})" if c.fixed else ""), fontsize="medium")
    return fig


def pareto(front: Sequence[dict[str, Any]], chosen: str | None) -> Any:
    """Agreement (%) against program size for the Pareto front (dicts with `program`, `size`,
    `agreement`, as in a report's JSON form), the `chosen` program starred."""
    from matplotlib.figure import Figure

    sizes = np.array([p["size"] for p in front])
    agreement = 100 * np.array([float(p["agreement"]) for p in front])
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.step(sizes, agreement, where="post", color="#999", lw=1, zorder=1)
    ax.scatter(sizes, agreement, s=36, color=NETWORK, zorder=2, label="best program of its size")
    for p, s, a in zip(front, sizes, agreement):
        if len(front) <= 8:         # above the point: the step line runs right and below it
            ax.annotate(_short(p["program"]), (s, a), textcoords="offset points",
                        xytext=(0, 14 if p["program"] == chosen else 8), ha="center",
                        fontsize="small", color="#444")
    picked = [i for i, p in enumerate(front) if p["program"] == chosen]
    if picked:
        i = picked[0]
        ax.scatter([sizes[i]], [agreement[i]], marker="*", s=260, color=DISAGREE, zorder=3,
                   label=f"chosen: {_short(chosen)}")
    ax.set_xlabel("program size (syntax tree nodes, or an automaton's states)")
    ax.set_ylabel("agreement with the network (%)")
    ax.set_ylim(min(0.0, agreement.min(initial=0)) - 3, 112)
    ax.set_xlim(0.5, sizes.max(initial=1) + 1.5)
    _integer_ticks(ax.xaxis)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", frameon=False)     # small programs rarely agree much
    return fig


def _frame(ax: Any, title: str, x: str, y: str) -> None:
    ax.set_title(title, fontsize="medium")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_box_aspect(1)
    _integer_ticks(ax.xaxis, ax.yaxis)


def _integer_ticks(*axes: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    for axis in axes:
        axis.set_major_locator(MaxNLocator(nbins=6, integer=True, steps=[1, 2, 2.5, 5, 10]))


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges around each value: halfway to its neighbours, half a step beyond the ends."""
    v = np.asarray(values, float)
    if len(v) == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _held(c: Comparison) -> str:
    return ", ".join(f"{k} = {v}" for k, v in c.fixed.items())


def _short(text: str | None, limit: int = 28) -> str:
    text = " ; ".join(" ".join(ln.split()) for ln in (text or "").splitlines() if ln.strip())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


# ---- pictures of a report -------------------------------------------------------------------------

def png(fig: Any, *, scale: int = SCALE) -> bytes:
    """The figure as PNG bytes, `scale` pixels per point of its size at its own dpi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=fig.dpi * scale, metadata={"Software": None})
    return out.getvalue()


def picture_of(fig: Any, kind: str, alt: str, caption: str, **extra: str) -> Picture:
    data = png(fig)
    width, height = (round(v) for v in fig.get_size_inches() * fig.dpi)
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    legend = tuple(t.get_text() for lg in legends for t in lg.get_texts())
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    colorbar = None
    if bars:
        lo, hi = sorted(bars[0].get_ylim())
        colorbar = f"{bars[0].get_ylabel()} {lo:g} to {hi:g}"
    return Picture(kind, data, alt, caption, width, height, legend, colorbar, dict(extra))


def pictures(report: dict[str, Any]) -> list[Picture]:
    """The pictures of a report in its JSON form: the comparison (when it carries one) and the
    Pareto front (when it has more than one point)."""
    if report.get("family") == "real" or (report.get("comparison") or {}).get("kind") == "slices":
        from netsynth import pictures_real

        return pictures_real.pictures(report)
    out = []
    if report.get("comparison"):
        c = Comparison.from_dict(report["comparison"])
        n, total = int(c.wrong.sum()), c.wrong.size
        held = f" Other inputs held at {_held(c)}." if c.fixed else ""
        ranges = [f"{name} from {a[0]} to {a[-1]}" for name, a in zip(c.names, c.axes)]
        if len(c.names) == 2:
            alt = (f"Heat maps of the network's and the program's outputs over {ranges[0]} "
                   f"(across) and {ranges[1]} (up), sharing one colour bar for outputs from "
                   f"{c.lo} to {c.hi}; beside them, the map of where they differ, "
                   f"disagreements: {n} of {total} (legend: agree, disagree).{held}")
            caption = (f"The network (left) and the program (middle) on a "
                       f"{len(c.axes[0])}\u00d7{len(c.axes[1])} grid; right: the "
                       f"{n:,} of {total:,} points where they differ, in red.{held}")
        else:
            alt = (f"Line chart of the network (solid) and the program (dashed) over "
                   f"{ranges[0]}; disagreements: {n} of {total}, circled in red (legend: "
                   f"network, program, disagreements).{held}")
            caption = (f"The network (solid) and the program (dashed) at {total:,} values of "
                       f"{c.names[0]}; the {n:,} where they differ are circled in red.{held}")
        out.append(picture_of(comparison(c), "comparison", alt, caption,
                              disagreements=f"{n} of {total}"))
    front = report.get("pareto") or []
    if len(front) > 1:
        chosen = report.get("program")
        best = max(front, key=lambda p: p["agreement"])
        alt = (f"Pareto front: agreement with the network against program size for "
               f"{len(front)} programs, from size {front[0]['size']} "
               f"({100 * front[0]['agreement']:.1f}%) to size {front[-1]['size']} "
               f"({100 * front[-1]['agreement']:.1f}%)"
               + (f"; the chosen program {chosen} is starred." if chosen else ".")
               + f" Best: {best['program']} ({100 * best['agreement']:.2f}%).")
        caption = ("Each point is the best program found of its size; the step line is the "
                   "best agreement within a size budget."
                   + (" The star is the program reported." if chosen else ""))
        out.append(picture_of(pareto(front, chosen), "pareto", alt, caption))
    return out


def html(report: dict[str, Any]) -> str:
    """The pictures of a report as `<figure>` elements (images inline), in a `div`."""
    return "".join(p.html() for p in pictures(report))
