"""Progress of a search on a terminal: a tqdm bar on a terminal, plain lines in a log.

`ProgressBar()` is a callable taking `synth.outcome.Progress` reports. On a terminal it draws one
bar counting candidates with the size level and best agreement beside it; when stderr is not a
terminal (a log file, CI) it writes a plain line whenever the phase or size level changes, never
carriage-return frames. A family without size levels (level 0: real laws) shows its phase and
the best formula so far instead.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO


class ProgressBar:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._bar: Any = None          # made at the first report, once the spec and model loaded
        self._last: tuple | None = None
        self._lock = threading.Lock()

    def __call__(self, p: Any) -> None:
        self.update(p)

    def update(self, p: Any) -> None:
        with self._lock:
            if not self._tty:
                self._line(p)
                return
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=None, unit=" cand", unit_scale=True, file=self._stream,
                                 dynamic_ncols=True, leave=False, desc="searching")
            if p.level:
                self._bar.set_description(f"{p.phase} size {p.level}")
                self._bar.set_postfix_str(f"best {100 * p.best_agreement:.1f}%, "
                                          f"{p.distinct:,} distinct, round {p.round}", refresh=False)
            else:          # a family without size levels (real laws): its phase and best so far
                self._bar.set_description(p.phase)
                self._bar.set_postfix_str(f"best {p.best}" if p.best else "", refresh=False)
            self._bar.update(max(0, p.candidates - self._bar.n))

    def _line(self, p: Any) -> None:
        key = (p.phase, p.level, p.round) if p.level else (p.phase, p.best)
        if key == self._last:
            return
        self._last = key
        if not p.level:      # a family without size levels (real laws): its phase and best so far
            best = f", best {p.best}" if p.best else ""
            print(f"netsynth: {p.phase}, {p.elapsed:.1f} s{best}", file=self._stream, flush=True)
            return
        print(f"netsynth: {p.phase} size {p.level}, round {p.round}: {p.candidates:,} candidates, "
              f"best {100 * p.best_agreement:.1f}%, {p.elapsed:.1f} s", file=self._stream, flush=True)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
