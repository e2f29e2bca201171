"""Run an untrusted ONNX model once in a worker process with memory and time limits: `probe(data, ...)`.

The worker is a fresh `python -I` running this file, which imports nothing of netsynth: it reads
the model from its stdin, imports ONNX Runtime, caps its own address space at what it uses then
plus `max_memory` (`RLIMIT_AS`), says it is ready, and only then does the clock of `timeout`
seconds start. It opens the model as `open_session` does in the server and runs batches of zeros
of PROBE_ROWS, then four times as many, up to MAX_ROWS rows, measuring each batch's peak resident
memory (VmHWM, reset between batches through /proc/self/clear_refs) and time. It stops growing the
batch when the next one, extrapolated linearly, would take the session and the call past
`max_memory` or the ramp past RAMP_SECONDS. Each step is reported as a JSON line as it happens, so
whatever kills the worker, the parent knows the largest batch that fit.

`probe` returns a `Probe`: `refusal()` is the message for a model that does not fit (None when it
does) and `rows_per_call` the largest batch that ran within the limits, which the server's own
session never exceeds. The worker is killed when the deadline passes and reaped before `probe`
returns, whatever happened; it also dies with its parent (PR_SET_PDEATHSIG).

This module is stdlib-only at import time: it is both netsynth's side and the worker's script.
"""

from __future__ import annotations

import enum
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

MiB = 2**20
MAX_MEMORY = 2048 * MiB   # what one model may add to a process: its session and one call
PROBE_SECONDS = 10.0      # for loading the model and running the first PROBE_ROWS rows
PROBE_ROWS = 2            # the oracle's own probe batch (oracle/core.py)
MAX_ROWS = 65536          # the oracle's default batch
RAMP_SECONDS = 1.0        # what growing the batch past PROBE_ROWS may cost a load
START_SECONDS = 60.0      # for the worker to import ONNX Runtime: a busy server, not the model
MEMORY_WORDS = ("bad_alloc", "Failed to allocate", "MemoryError", "Cannot allocate memory", "out of memory")


class Outcome(enum.Enum):
    FITS = "fits"              # loaded and ran at least PROBE_ROWS rows within the limits
    MEMORY = "memory"          # an allocation failed under the memory limit
    TIME = "time"              # still loading or running the first batch at the deadline
    CRASHED = "crashed"        # the worker died another way
    LOAD_ERROR = "load_error"  # ONNX Runtime refused the model: not a limit
    RUN_ERROR = "run_error"    # ONNX Runtime refused the probe batch (a wrong width, say): not a limit


@dataclass(frozen=True)
class Probe:
    outcome: Outcome
    stage: str                 # what the worker was doing last: "loading the model", "running 2 rows"
    rows_per_call: int         # the largest batch that ran within the limits (PROBE_ROWS at least)
    session_memory: int        # bytes of resident memory the loaded session added
    call_memory: int           # bytes above that at the peak of a rows_per_call batch
    seconds: float             # from the worker being ready to its end
    detail: str                # ONNX Runtime's message, or how the worker died
    max_memory: int
    timeout: float

    def refusal(self) -> str | None:
        """Why the model is refused, or None (FITS, and errors ONNX Runtime reports in-process)."""
        limit = f"the memory limit of {_size(self.max_memory)}"
        if self.outcome is Outcome.MEMORY:
            said = next((self.detail[self.detail.find(w):] for w in MEMORY_WORDS if w in self.detail), self.detail)
            return f"model: the probe run exceeded {limit} while {self.stage} ({said})"
        if self.outcome is Outcome.TIME:
            return f"model: the probe run did not finish within {self.timeout:g} s (it was {self.stage})"
        if self.outcome is Outcome.CRASHED:
            return f"model: the probe run died while {self.stage} ({self.detail}) under {limit}"
        if self.outcome is Outcome.LOAD_ERROR:
            return f"model: ONNX Runtime cannot load it: {self.detail}"
        return None


def probe(data: bytes, *, width: int | tuple[int, ...], threads: int, max_memory: int = MAX_MEMORY,
          timeout: float = PROBE_SECONDS) -> Probe:
    """Load and run the ONNX model `data` (float32 (n, `width`) in; `width` may be the shape of
    one row, e.g. (T, D) for a sequence model) in a worker process.

    Raises `RuntimeError` when the worker itself cannot start (the server's fault, not the model's).
    """
    params = json.dumps({"width": list(width) if isinstance(width, tuple) else [width], "threads": threads, "max_memory": max_memory})
    # None of the server's settings or secrets; fewer threads and malloc arenas for the libraries
    # leave more of the address space to the model.
    env = {k: os.environ[k] for k in ("PATH", "LD_LIBRARY_PATH", "TMPDIR") if k in os.environ}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
    with tempfile.TemporaryFile() as model, tempfile.TemporaryFile() as errors, \
            tempfile.TemporaryDirectory(prefix="netsynth-probe-") as empty:
        model.write(data)
        model.seek(0)
        worker = subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__), params], stdin=model,
                                  stdout=subprocess.PIPE, stderr=errors, cwd=empty, env=env)
        try:
            return _watch(worker, errors, max_memory=max_memory, timeout=timeout)
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
            worker.stdout.close()


def _watch(worker: subprocess.Popen, errors: Any, *, max_memory: int, timeout: float) -> Probe:
    lines = _Lines(worker.stdout.fileno())
    try:
        ready = lines.next(time.monotonic() + START_SECONDS)
    except TimeoutError:
        raise RuntimeError(f"the model's probe process did not start within {START_SECONDS:g} s") from None
    if ready is None:
        raise RuntimeError(f"the model's probe process exited before it started: {_tail(errors)}")
    start = time.monotonic()
    stage, rows, session_memory, call_memory, detail = "loading the model", 0, 0, 0, ""
    while True:
        try:
            event = lines.next(start + timeout)
        except TimeoutError:
            outcome = Outcome.TIME
            break
        if event is None:
            detail = _died(worker, errors, start + timeout)
            outcome = Outcome.MEMORY if any(w in detail for w in MEMORY_WORDS) else Outcome.CRASHED
            break
        kind = event["event"]
        if kind == "loaded":
            session_memory = event["memory"]
        elif kind == "running":
            stage = f"running {event['rows']} rows"
        elif kind == "ran":
            rows, call_memory = event["rows"], event["memory"]
        elif kind == "failed":
            detail = event["error"]
            outcome = (Outcome.MEMORY if event["memory"] else
                       Outcome.LOAD_ERROR if stage == "loading the model" else Outcome.RUN_ERROR)
            break
        elif kind == "done":
            outcome = Outcome.FITS
            break
    if rows:  # the first batch fitted: a larger one that failed or ran late only ends the ramp
        outcome = Outcome.FITS
    return Probe(outcome, stage, max(rows, PROBE_ROWS), session_memory, call_memory,
                 time.monotonic() - start, detail.strip()[:500], max_memory, timeout)


class _Lines:
    """JSON lines read from a pipe, each awaited until a deadline (None at the end of the pipe)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""

    def next(self, deadline: float) -> dict | None:
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not select.select([self._fd], [], [], left)[0]:
                continue
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)


def _died(worker: subprocess.Popen, errors: Any, deadline: float) -> str:
    """How the worker ended, after it closed its output."""
    try:
        code = worker.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        return "it closed its output and hung"
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    tail = _tail(errors)
    return f"{how}: {tail}" if tail else how


def _tail(errors: Any) -> str:
    errors.seek(0)
    lines = errors.read().decode(errors="replace").strip().splitlines()
    return lines[-1][-300:] if lines else ""


def _size(n: int) -> str:
    for unit, name in ((2**30, "GiB"), (MiB, "MiB")):
        if n >= unit and n % (unit // 4) == 0:
            return f"{n / unit:g} {name}"
    return f"{n} bytes"


def open_session(data: bytes, threads: int) -> Any:
    """An ONNX Runtime session on the model `data`, on the CPU with `threads` threads per operator.

    A model loaded from bytes resolves external data against a folder (by default the working
    directory): an empty one that lives only while the session loads leaves nothing to read.
    Raises what ONNX Runtime raises. Used by the server and by the worker alike.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    with tempfile.TemporaryDirectory(prefix="netsynth-no-files-") as empty:
        options.add_session_config_entry("session.model_external_initializers_file_folder_path", empty)
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


# ---- the worker ---------------------------------------------------------------------------------

def _worker() -> None:
    params = json.loads(sys.argv[1])
    out = os.fdopen(os.dup(1), "w", buffering=1)  # the reports; anything else printed goes to stderr
    os.dup2(2, 1)

    def say(event: str, **fields: Any) -> None:
        out.write(json.dumps({"event": event, **fields}) + "\n")

    _die_with_parent()
    data = sys.stdin.buffer.read()
    import resource

    import numpy as np
    import onnxruntime  # noqa: F401  (before the limits: the libraries are not the model's)

    vm = _status("VmSize")
    if vm is not None:
        limit = vm + params["max_memory"]
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    say("ready")
    _reset_peak()
    base = _status("VmRSS") or 0
    try:
        session = open_session(data, params["threads"])
    except BaseException as e:
        say("failed", memory=_is_memory(e), error=str(e))
        return
    loaded = _status("VmRSS") or 0
    session_memory = max(loaded, _peak()) - base
    say("loaded", memory=session_memory)
    name = session.get_inputs()[0].name
    rows, ramp = PROBE_ROWS, 0.0
    while True:
        say("running", rows=rows)
        x = np.zeros((rows, *params["width"]), np.float32)
        _reset_peak()
        t = time.monotonic()
        try:
            session.run(None, {name: x})
        except BaseException as e:
            say("failed", memory=_is_memory(e), error=str(e))
            return
        took = time.monotonic() - t
        memory = max(_peak() - loaded, 0)
        say("ran", rows=rows, memory=memory)
        ramp += took if rows > PROBE_ROWS else 0.0
        grow = min(rows * 4, MAX_ROWS) / rows
        if (rows >= MAX_ROWS or session_memory + memory * grow > params["max_memory"]
                or ramp + took * grow > RAMP_SECONDS):
            break
        rows = int(rows * grow)
    say("done")


def _is_memory(e: BaseException) -> bool:
    return isinstance(e, MemoryError) or any(w in str(e) for w in MEMORY_WORDS)


def _status(key: str) -> int | None:
    """A size from /proc/self/status in bytes (None where there is no /proc)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS (Linux 4.0+); without it the peaks only grow: still an upper bound
    except OSError:
        pass


def _peak() -> int:
    """The peak resident memory since the last reset (VmHWM), or since the start (ru_maxrss)."""
    peak = _status("VmHWM")
    if peak is None:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return peak


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    _worker()
