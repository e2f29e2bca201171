"""A search process: `python -m netsynth.service.worker FD PARENT_PID`, started and fed by the runner.

It runs one job at a time on its main thread through `netsynth.api.synthesize` and writes what
the job does straight to the database: progress at most every `progress_interval` seconds (and at
each new size level), then the end (report, error, stop reason). Every write names the attempt it
belongs to, so a process that outlived its server changes nothing once the job has moved on.

Its standard input carries JSON lines from the runner: first `{"settings": {...}}`, then
`{"run": id, "attempt": n}` and `{"cancel": id, "attempt": n}`. End of input means the server is
gone: the process exits at once (it also asks Linux to kill it when its parent dies). On the pipe
FD it answers `{"done": id, "attempt": n, "status": s}` once a job's end is in the database.

Searches run at `search_nice` niceness, so the API's process is scheduled first on a busy machine.
Jobs with `workers` > 1 run on Ray, started (or joined at `ray_address`) on this process's main
thread by its first such job and kept for later ones.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, is_dataclass
from queue import Queue
from typing import Any, Callable

from dsl.errors import NetsynthError
from netsynth.service.schemas import jsonable
from netsynth.service.settings import Settings
from netsynth.service.store import CANCELLED, FAILED, RUNNING, SUCCEEDED, JobRecord, Store

log = logging.getLogger("netsynth.service.worker")


def main(argv: list[str]) -> int:
    die_with_parent(int(argv[2]))
    answers = os.fdopen(int(argv[1]), "w", buffering=1)
    first = sys.stdin.readline()
    if not first:
        return 0
    settings = Settings.from_json(json.loads(first)["settings"])
    level = os.environ.get("NETSYNTH_LOG_LEVEL", "INFO")
    logging.basicConfig(level=level if level in logging.getLevelNamesMapping() else "INFO",
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    try:
        os.nice(settings.search_nice)
    except OSError:
        pass
    store = Store(settings.db_url, settings.data_dir)
    import netsynth.api  # noqa: F401  (loaded before the first job, not during it)
    import oracle  # noqa: F401

    todo: Queue = Queue()
    cancels: dict[tuple[str, int], threading.Event] = {}
    lock = threading.Lock()

    def listen() -> None:
        for line in sys.stdin:
            msg = json.loads(line)
            key = (msg.get("run") or msg.get("cancel"), msg.get("attempt"))
            with lock:
                event = cancels.setdefault(key, threading.Event())
            if "cancel" in msg:
                event.set()
            else:
                todo.put((key, event))
        os._exit(0)          # the server is gone: so is this search

    threading.Thread(target=listen, name="netsynth-worker-input", daemon=True).start()
    ray_started = False
    while True:
        (job_id, attempt), cancel = todo.get()
        status = None
        try:
            status, ray_started = run(store, settings, job_id, attempt, cancel, ray_started)
        finally:
            with lock:
                cancels.pop((job_id, attempt), None)
            answers.write(json.dumps({"done": job_id, "attempt": attempt, "status": status}) + "\n")


def run(store: Store, settings: Settings, job_id: str, attempt: int, cancel: threading.Event,
        ray_started: bool) -> tuple[str | None, bool]:
    """Run attempt `attempt` of a job and record its end; returns the status recorded (None if
    the attempt was not current) and whether Ray is up in this process."""
    job = store.get(job_id)
    if job is None or job.attempts != attempt or job.status != RUNNING:
        return None, ray_started
    log.info("job %s: started (attempt %d)", job_id, attempt)
    from netsynth import api
    from synth.options import API_OPTIONS, SearchOptions

    try:
        stored = {k: v for k, v in job.options.items() if v is not None}
        defaults = api.family_defaults(job.spec)          # a compare job: its first network's
        options = SearchOptions.from_mapping(
            {"workers": settings.workers, **defaults, **stored,
             "ray_address": settings.ray_address},
            allowed=(*API_OPTIONS, "ray_address", *defaults))
        if options.workers > 1 and not ray_started:
            api.start_compute(settings.workers, address=settings.ray_address)  # the main thread
            ray_started = True
        if job.compare:
            report = compare(store, job, options, cancel,
                             progress_writer(store, settings, job_id, attempt))
        else:
            report = api.synthesize(job.spec, store.model_bytes(job.model_sha), options=options,
                                    progress=progress_writer(store, settings, job_id, attempt),
                                    cancel=cancel, keep_ray=True)
    except NetsynthError as e:
        if cancel.is_set():
            return end(store, job_id, attempt, CANCELLED, error=str(e)), ray_started
        return end(store, job_id, attempt, FAILED, error=str(e)), ray_started
    except Exception as e:
        log.exception("job %s: internal error", job_id)
        return end(store, job_id, attempt, FAILED,
                   error=f"internal error: {type(e).__name__}"), ray_started
    data = jsonable(report.to_dict())
    stop = data.get("stop_reason")
    stop = stop if isinstance(stop, str) or stop is None else str(stop)
    status = CANCELLED if cancel.is_set() else SUCCEEDED
    return end(store, job_id, attempt, status, report=data, stop_reason=stop), ray_started


def compare(store: Store, job: JobRecord, options: Any, cancel: threading.Event,
            write: Callable[[Any], None]) -> Any:
    """A compare job: every network extracted with the job's options, grouped
    (`netsynth.compare`); its progress names the networks done."""
    from netsynth.compare import compare as run_compare
    from synth.outcome import Progress

    members = job.members or []
    done: list[str] = []

    def said(line: str) -> None:
        done.append(line)
        write(Progress(len(done), 0, 0, 0.0, 0.0, phase=f"network {len(done)} of {len(members)}",
                       best=line[:200]))

    write(Progress(0, 0, 0, 0.0, 0.0, phase=f"network 1 of {len(members)}"))
    pairs = [(store.model_bytes(m["model_sha"]), m["spec"]) for m in members]
    fields = {k: v for k, v in asdict(options).items() if v is not None}
    return run_compare(*pairs, progress=said, cancel=cancel, **fields)


def end(store: Store, job_id: str, attempt: int, status: str, **fields: Any) -> str | None:
    if store.finish(job_id, attempt, status, **fields):
        log.info("job %s: %s", job_id, status)
        return status
    log.warning("job %s: attempt %d is no longer current; its end was not recorded", job_id,
                attempt)
    return None


def progress_writer(store: Store, settings: Settings, job_id: str,
                    attempt: int) -> Callable[[Any], None]:
    last: list[Any] = [0.0, None]  # time of the last write, level written

    def write(p: Any) -> None:
        t = time.monotonic()
        level = getattr(p, "level", None)
        final = getattr(p, "phase", None) == "done"     # the search's last word: always kept
        if t - last[0] < settings.progress_interval and level == last[1] and not final:
            return
        last[0], last[1] = t, level
        try:
            store.set_progress(job_id, attempt, jsonable(asdict(p) if is_dataclass(p) else dict(p)))
        except Exception:  # progress is advisory: a busy database must not stop the search
            log.warning("job %s: could not write progress", job_id, exc_info=True)

    return write


def die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when the server that started it dies (kill -9 too)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:             # the parent died before the request took effect
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
