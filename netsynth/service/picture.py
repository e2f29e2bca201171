"""Network against program: the pictures of the results page, drawn from a report's comparison.

The data (`netsynth.comparison.Comparison`) is measured when the report is built, while the model
is open; nothing here opens a model or parses a program. `heat_maps` renders a two-input
comparison as three PNG images (network, program, where they disagree); `strip_chart` renders a
one-input comparison as an inline SVG line chart.
"""

from __future__ import annotations

import base64
import struct
import zlib
from html import escape

import numpy as np

from netsynth.comparison import Comparison
# viridis at five stops, interpolated linearly
PALETTE = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
                   dtype=float)
AGREE, DISAGREE = (236, 236, 236), (214, 39, 40)


def colours(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    t = np.clip((values - lo) / max(1, hi - lo), 0.0, 1.0) * (len(PALETTE) - 1)
    k = np.minimum(t.astype(int), len(PALETTE) - 2)
    f = (t - k)[..., None]
    return (PALETTE[k] * (1 - f) + PALETTE[k + 1] * f).round().astype(np.uint8)


def png(rgb: np.ndarray) -> bytes:
    """A minimal truecolour PNG of an (h, w, 3) uint8 array."""
    h, w, _ = rgb.shape

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + np.ascontiguousarray(row).tobytes() for row in rgb)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def heat_maps(c: Comparison) -> list[tuple[str, str]]:
    """(title, data: URI) for the network, the program and their disagreement.

    Rows are the first input (lo at the top), columns the second.
    """
    wrong = np.where(c.wrong[..., None], np.array(DISAGREE, np.uint8), np.array(AGREE, np.uint8))
    images = [("network", colours(c.network, c.lo, c.hi)),
              ("program", colours(c.program, c.lo, c.hi)),
              (f"disagreements: {int(c.wrong.sum())} of {c.wrong.size}", wrong)]
    return [(t, "data:image/png;base64," + base64.b64encode(png(img)).decode()) for t, img in images]


def strip_chart(c: Comparison, *, width: int = 720, height: int = 240) -> str:
    """An inline SVG: network (solid) and program (dashed) against the one input, misses in red."""
    xs = c.axes[0]
    span_x = max(1, int(xs[-1] - xs[0]))
    lo, hi = min(c.lo, int(c.program.min())), max(c.hi, int(c.program.max()))
    span_y = max(1, hi - lo)

    def point(x: int, y: int) -> tuple[float, float]:
        return (10 + (width - 20) * (x - xs[0]) / span_x, height - 10 - (height - 20) * (y - lo) / span_y)

    def line(ys: np.ndarray) -> str:
        return " ".join("%.1f,%.1f" % point(int(x), int(y)) for x, y in zip(xs, ys))

    misses = "".join('<circle cx="%.1f" cy="%.1f" r="3" fill="#d62728"/>' % point(int(x), int(y))
                     for x, y, w in zip(xs, c.network, c.wrong) if w)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="network and program over {escape(c.names[0])}">'
            f'<rect width="{width}" height="{height}" fill="#fafafa"/>'
            f'<polyline fill="none" stroke="#3b528b" stroke-width="2" points="{line(c.network)}"/>'
            f'<polyline fill="none" stroke="#f28e2b" stroke-width="2" stroke-dasharray="5,3" '
            f'points="{line(c.program)}"/>{misses}</svg>')
