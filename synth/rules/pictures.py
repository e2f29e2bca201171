"""Decision regions on 2-D slices, network against rule, as data and as a picture.

`regions(rule, oracle, spec)` (a rule tree, or any `real` DSL program: for notebooks) picks up to `MAX_SLICES` pairs of inputs (the inputs of each split,
paired in order of first use; inputs not on a slice are held at the middle of their range),
labels a `RESOLUTION` x `RESOLUTION` grid of each slice by the network and by the rule, and
returns `{"decision_regions": {"slices": [...]}, "regions_png": "<base64 PNG>"}`: per slice the two axes (name, lo,
hi), the fixed values of the other inputs, the grids of labels (lists of lists, row = second
axis), and the share of grid points where they differ. The PNG (matplotlib's Agg through its
object-oriented API, imported here) shows per slice the network, the rule and the disagreements.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from synth.rules.tree import Tree, evaluate, splits

RESOLUTION = 80
MAX_SLICES = 3


def slices(tree: Tree, width: int) -> list[tuple[int, int]]:
    """Pairs of input indices worth drawing: those the splits use, first-used first."""
    used: list[int] = []
    pairs: list[tuple[int, int]] = []
    for split in splits(tree):
        dims = [k for k, _ in split.terms]
        if len(dims) >= 2:
            for a, b in zip(dims, dims[1:]):
                if (a, b) not in pairs:
                    pairs.append((a, b))
        used += [k for k in dims if k not in used]
    for a, b in zip(used, used[1:]):
        if (a, b) not in pairs and (b, a) not in pairs:
            pairs.append((a, b))
    if not pairs and width >= 2:
        pairs.append((used[0], (used[0] + 1) % width) if used else (0, 1))
    return pairs[:MAX_SLICES]


def _program_slices(program: Any, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """For a `real` DSL program: pairs of the inputs it reads, in order of first appearance."""
    from dsl.ast import Var, walk

    used: list[int] = []
    for node in walk(program.node):
        if isinstance(node, Var) and node.name in names and names.index(node.name) not in used:
            used.append(names.index(node.name))
    pairs = list(zip(used, used[1:])) or ([(used[0], (used[0] + 1) % len(names))]
                                          if used and len(names) > 1 else [(0, 1)])
    return pairs[:MAX_SLICES]


def grids(tree: Any, oracle: Any, spec: Any, *, resolution: int = RESOLUTION) -> list[dict[str, Any]]:
    """The slices' label grids, network and rule (JSON-able). `tree` is a rule tree or a
    program (`dsl.program.Expression` of the `real` DSL) over the spec's inputs."""
    names = spec.input_names
    program = tree if hasattr(tree, "evaluate") else None
    pairs = (_program_slices(program, names) if program is not None
             else slices(tree, len(names)))
    lo = np.array([i.lo for i in spec.inputs], float)
    hi = np.array([i.hi for i in spec.inputs], float)
    mid = (lo + hi) / 2
    out = []
    for a, b in pairs:
        xa, xb = np.linspace(lo[a], hi[a], resolution), np.linspace(lo[b], hi[b], resolution)
        ga, gb = np.meshgrid(xa, xb)                       # row = b, column = a
        points = np.tile(mid, (ga.size, 1))
        points[:, a], points[:, b] = ga.ravel(), gb.ravel()
        net = oracle.query(points).astype(np.int64).reshape(ga.shape)
        if program is not None:
            values = program.evaluate({n: points[:, k] for k, n in enumerate(names)}).values
            rule = np.asarray(values).astype(np.int64).reshape(ga.shape)
        else:
            rule = evaluate(tree, points).reshape(ga.shape)
        out.append({"x": {"name": names[a], "lo": lo[a], "hi": hi[a]},
                    "y": {"name": names[b], "lo": lo[b], "hi": hi[b]},
                    "fixed": {names[k]: float(mid[k]) for k in range(len(names)) if k not in (a, b)},
                    "network": net.tolist(), "rule": rule.tolist(),
                    "disagreement": float((net != rule).mean())})
    return out


def png(data: list[dict[str, Any]], *, title: str = "") -> str:
    """The slices as one PNG (base64): network, rule and disagreements side by side."""
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 2.8 * max(len(data), 1)), dpi=80)
    for row, s in enumerate(data):
        net, rule = np.array(s["network"]), np.array(s["rule"])
        top = max(int(net.max()), int(rule.max()), 1)
        extent = (s["x"]["lo"], s["x"]["hi"], s["y"]["lo"], s["y"]["hi"])
        panels = (("network", net, "viridis", 0, top), ("rule", rule, "viridis", 0, top),
                  (f"differ ({100 * s['disagreement']:.2f}%)", (net != rule).astype(int),
                   ListedColormap(["#f0f0f0", "#d62728"]), 0, 1))
        for col, (name, grid, cmap, vmin, vmax) in enumerate(panels):
            ax = fig.add_subplot(len(data), 3, 3 * row + col + 1)
            ax.imshow(grid, origin="lower", extent=extent, aspect="auto", cmap=cmap,
                      vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_title(name, fontsize=9)
            ax.set_xlabel(s["x"]["name"], fontsize=8)
            ax.set_ylabel(s["y"]["name"], fontsize=8)
            ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def regions(tree: Any, oracle: Any, spec: Any, *, resolution: int = RESOLUTION) -> dict[str, Any]:
    """Both forms at once (a rule tree or a program): what the family puts in its report."""
    data = grids(tree, oracle, spec, resolution=resolution)
    return {"decision_regions": {"slices": data}, "regions_png": png(data, title=spec.name)}
