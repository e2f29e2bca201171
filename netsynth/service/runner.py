"""Runs stored jobs: at most `max_jobs` at once, the rest waiting in order of submission.

`Runner(store, settings).start()` first marks jobs a dead server left `running` as `interrupted`
(they wait again, ahead of newer jobs since the order is by submission time), then a dispatcher
thread claims waiting jobs whenever a slot is free. Each job runs `netsynth.api.synthesize` in its own
thread with its own cancel Event and a progress callback that writes to the store at most every
`progress_interval` seconds. A job's failure is recorded on the job (its `NetsynthError` message,
or `internal error: <type>`), never raised into the server.

`stop()` (server shutdown) cancels running searches and puts their jobs back as `interrupted`, so
the next start runs them again: an accepted job is never lost.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, is_dataclass
from typing import Any, Callable

from dsl.errors import NetsynthError
from netsynth.service.settings import Settings
from netsynth.service.store import CANCELLED, FAILED, INTERRUPTED, SUCCEEDED, JobRecord, Store

log = logging.getLogger("netsynth.service")


class Runner:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[str, threading.Event] = {}   # job id -> its cancel Event
        self._threads: dict[str, threading.Thread] = {}
        self._dispatcher: threading.Thread | None = None

    # ---- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        interrupted = self.store.interrupt_running()
        if interrupted:
            log.warning("re-queued %d job(s) interrupted by a previous server: %s",
                        len(interrupted), ", ".join(interrupted))
        self._dispatcher = threading.Thread(target=self._dispatch, name="netsynth-dispatch",
                                            daemon=True)
        self._dispatcher.start()

    def stop(self, *, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        with self._lock:
            for ev in self._running.values():
                ev.set()
            threads = list(self._threads.values())
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self._dispatcher:
            self._dispatcher.join(max(0.0, deadline - time.monotonic()))

    def wake(self) -> None:
        """A job was submitted: look for work now rather than at the next tick."""
        self._wake.set()

    def cancel(self, job_id: str) -> bool:
        """Cancel a waiting job at once, or ask a running one to stop. False if neither."""
        if self.store.cancel_waiting(job_id):
            return True
        with self._lock:
            ev = self._running.get(job_id)
        if ev is not None:
            ev.set()
            return True
        return False

    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    # ---- dispatch -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            while not self._stopping.is_set():
                with self._lock:
                    if len(self._running) >= self.settings.max_jobs:
                        break
                    try:
                        job = self.store.claim_next()
                    except Exception:  # a locked or unreachable database: try again next tick
                        log.exception("cannot claim a job")
                        break
                    if job is None:
                        break
                    cancel = threading.Event()
                    self._running[job.id] = cancel
                    t = threading.Thread(target=self._run, args=(job, cancel),
                                         name=f"netsynth-job-{job.id[:8]}", daemon=True)
                    self._threads[job.id] = t
                t.start()

    def _run(self, job: JobRecord, cancel: threading.Event) -> None:
        try:
            self._execute(job, cancel)
        except Exception:  # the store itself failed; the job stays running until the next start
            log.exception("job %s: could not record its outcome", job.id)
        finally:
            with self._lock:
                self._running.pop(job.id, None)
                self._threads.pop(job.id, None)
            self._wake.set()

    def _execute(self, job: JobRecord, cancel: threading.Event) -> None:
        log.info("job %s: started (attempt %d)", job.id, job.attempts)
        try:
            report = self._search(job, cancel)
        except NetsynthError as e:
            self._end(job, cancel, FAILED, error=str(e))
            return
        except Exception as e:
            log.exception("job %s: internal error", job.id)
            self._end(job, cancel, FAILED, error=f"internal error: {type(e).__name__}")
            return
        data = _jsonable(report.to_dict())
        stop = data.get("stop_reason")
        stop = stop if isinstance(stop, str) or stop is None else str(stop)
        status = CANCELLED if cancel.is_set() else SUCCEEDED
        self._end(job, cancel, status, report=data, stop_reason=stop)

    def _end(self, job: JobRecord, cancel: threading.Event, status: str, **fields: Any) -> None:
        if self._stopping.is_set() and cancel.is_set():
            # The server is shutting down, not the user cancelling: run it again next time.
            self.store.finish(job.id, INTERRUPTED)
            log.info("job %s: interrupted by shutdown", job.id)
            return
        self.store.finish(job.id, status, **fields)
        log.info("job %s: %s", job.id, status)

    def _search(self, job: JobRecord, cancel: threading.Event) -> Any:
        from netsynth import api
        from synth.options import API_OPTIONS, SearchOptions

        stored = {k: v for k, v in job.options.items() if v is not None}
        options = SearchOptions.from_mapping(
            {"workers": self.settings.workers, **stored, "ray_address": self.settings.ray_address},
            allowed=(*API_OPTIONS, "ray_address"))
        model = self.store.model_bytes(job.model_sha)
        # keep_ray: an embedded Ray started by the first job is reused by every later one.
        return api.synthesize(job.spec, model, options=options, progress=self._progress(job.id),
                          cancel=cancel, keep_ray=True)

    def _progress(self, job_id: str) -> Callable[[Any], None]:
        last = [0.0, None]  # time of the last write, level written

        def write(p: Any) -> None:
            t = time.monotonic()
            level = getattr(p, "level", None)
            final = getattr(p, "phase", None) == "done"     # the search's last word: always kept
            if t - last[0] < self.settings.progress_interval and level == last[1] and not final:
                return
            last[0], last[1] = t, level
            try:
                self.store.set_progress(job_id, _jsonable(asdict(p) if is_dataclass(p) else dict(p)))
            except Exception:  # progress is advisory: a busy database must not stop the search
                log.warning("job %s: could not write progress", job_id, exc_info=True)

        return write


def _jsonable(value: Any) -> Any:
    """Plain JSON values (enums by value, numpy scalars as Python numbers, the rest as text)."""
    import enum

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)
