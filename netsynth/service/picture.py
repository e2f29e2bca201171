"""The results page's pictures: `netsynth.pictures` drawn from a job's report, kept for the most
recent ended jobs.

Drawing takes a few tenths of a second (matplotlib, in the request's worker thread), so an ended
job's figures are drawn once and kept; a job still running has no report yet. Nothing here opens
a model or parses a program: the report's `comparison` and `pareto` (for a real formula, its
slices and its Formulas table) are all the pictures need.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from html import escape
from typing import Any

from netsynth.service.store import JobRecord

log = logging.getLogger("netsynth.service")


def figures(job: JobRecord) -> dict[str, str]:
    """The `<figure>` HTML of each picture of the job's report, by kind ("comparison",
    "pareto"; "slices" and "residuals" for a real formula); a picture that cannot be drawn
    becomes a one-line note, under the heading the job's kind of report shows, instead of an
    error page."""
    from netsynth import pictures

    try:
        return {p.kind: p.html() for p in pictures.pictures(job.report or {})}
    except (KeyError, TypeError, ValueError) as e:     # a malformed report: keep the page
        log.warning("job %s: no picture: %s", job.id, e)
        kind = "slices" if (job.report or {}).get("family") == "real" else "comparison"
        return {kind: f"<p>No picture: {escape(type(e).__name__)}: {escape(str(e))}</p>"}


class PictureCache:
    """Figures of ended jobs, drawn on the first request and kept for the `size` most recent."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._items: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job: JobRecord, _store: Any = None) -> dict[str, str]:
        with self._lock:
            if job.id in self._items:
                self._items.move_to_end(job.id)
                return self._items[job.id]
        drawn = figures(job)
        if job.ended:
            with self._lock:
                self._items[job.id] = drawn
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        return drawn
