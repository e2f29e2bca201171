"""Runs stored jobs in search processes: at most `max_jobs` at once, the rest waiting in order.

`Runner(store, settings, node=...).start()` first puts back the jobs this server (`node`, kept
in the data folder) left running when it died: `interrupted` ones wait again, ahead of newer jobs
since the order is by submission; one whose cancel was recorded becomes `cancelled`; one started
`max_attempts` times becomes `failed`. Then a dispatcher thread, every `tick` seconds or when
woken:
- claims waiting jobs while a search process is free, and sends each to one (`worker.py`): a
  process per slot, started with the server (again if it dies) and kept for later jobs;
- relays cancels recorded in the database (by this server's API or another's) to the process
  running the job, and kills that process if the job has not ended `cancel_grace` seconds later;
- marks this server's running jobs alive (a heartbeat), and takes back the running jobs of any
  server whose heartbeat is older than `lease` seconds (a server that died for good).
A search process that dies mid-job (killed, out of memory) counts as an interruption of its job.

`stop()` (server shutdown) ends the search processes and puts their jobs back as `interrupted`
without counting the attempt: the next start runs them again and an accepted job is never lost.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from netsynth.service.settings import Settings
from netsynth.service.store import JobRecord, Store, now

log = logging.getLogger("netsynth.service")


class Runner:
    def __init__(self, store: Store, settings: Settings, *, node: str) -> None:
        self.store = store
        self.settings = settings
        self.node = node
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._slots = [Slot(i, self) for i in range(settings.max_jobs)]
        self._dispatcher: threading.Thread | None = None
        self._beat = 0.0            # time of the last heartbeat

    # ---- life cycle -----------------------------------------------------------------------------

    def start(self) -> None:
        back = self.store.requeue(owner=self.node, reason="its server stopped",
                                  max_attempts=self.settings.max_attempts)
        if back:
            log.warning("jobs a previous run of this server left running: %s",
                        ", ".join(f"{i} -> {s}" for i, s in back))
        self._dispatcher = threading.Thread(target=self._dispatch, name="netsynth-dispatch",
                                            daemon=True)
        self._dispatcher.start()

    def stop(self, *, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._dispatcher:
            self._dispatcher.join(timeout)
        for slot in self._slots:
            slot.close(timeout=3.0)
        back = self.store.requeue(owner=self.node, reason="its server stopped",
                                  max_attempts=self.settings.max_attempts, refund=True)
        if back:
            log.info("put back for the next start: %s", ", ".join(i for i, _ in back))

    def wake(self) -> None:
        """A job was submitted or a cancel recorded: look now rather than at the next tick."""
        self._wake.set()

    def running(self) -> list[str]:
        with self._lock:
            return [s.job.id for s in self._slots if s.job is not None]

    # ---- dispatch -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        # Every search process is started from this thread: Linux kills them when the thread that
        # started them ends (PR_SET_PDEATHSIG), and this one lives as long as the server.
        for slot in self._slots:         # started now, so the first jobs find them warm
            try:
                slot.ensure_started()
            except OSError:
                log.exception("slot %d: cannot start a search process", slot.index)
        while not self._stopping.is_set():
            self._wake.wait(self.settings.tick)
            self._wake.clear()
            try:
                self._tick()
            except Exception:  # a locked or unreachable database: try again next tick
                log.exception("runner: cannot reach the job store")

    def _tick(self) -> None:
        if self.running():
            for job_id, attempt in self.store.cancels(self.node):
                for slot in self._slots:
                    slot.cancel(job_id, attempt)
            for slot in self._slots:        # a search deaf to its cancel: end its process
                slot.end_if_deaf(self.settings.cancel_grace)
        if time.monotonic() - self._beat > self.settings.lease / 4:
            self._beat = time.monotonic()
            self.store.heartbeat(self.node)
            taken = self.store.requeue(stale_before=now() - timedelta(seconds=self.settings.lease),
                                       reason="its server stopped answering",
                                       max_attempts=self.settings.max_attempts,
                                       other_than=self.node)
            if taken:
                log.warning("took back jobs of a server that stopped answering: %s",
                            ", ".join(f"{i} -> {s}" for i, s in taken))
        while not self._stopping.is_set():
            with self._lock:
                free = next((s for s in self._slots if s.job is None), None)
            if free is None:
                return
            job = self.store.claim_next(self.node)
            if job is None:
                return
            free.run(job)

    # ---- what the search processes say --------------------------------------------------------------

    def _ended(self, slot: "Slot", job: JobRecord, status: str | None) -> None:
        log.debug("slot %d: job %s ended (%s)", slot.index, job.id, status)
        self._wake.set()

    def _died(self, slot: "Slot", job: JobRecord | None, code: int | None) -> None:
        if self._stopping.is_set():
            return
        how = (f"killed by signal {-code}" if code is not None and code < 0
               else f"exit status {code}")
        if job is not None:
            log.error("job %s: its search process died (%s)", job.id, how)
            self.store.requeue(attempt=(job.id, job.attempts), max_attempts=self.settings.max_attempts,
                               reason=f"its search process died ({how})")
        self._wake.set()


class Slot:
    """One search process and the job it runs (None when idle)."""

    def __init__(self, index: int, runner: Runner) -> None:
        self.index = index
        self.runner = runner
        self.job: JobRecord | None = None
        self._cancelled: dict[tuple[str, int], float] = {}    # -> when the cancel was sent
        self._proc: subprocess.Popen | None = None
        self._input: IO[str] | None = None

    def run(self, job: JobRecord) -> None:
        with self.runner._lock:
            self.job = job
        try:
            self._send({"run": job.id, "attempt": job.attempts})
        except OSError:        # the process died as it was handed the job: the reader saw it
            log.warning("slot %d: search process gone before job %s", self.index, job.id)

    def cancel(self, job_id: str, attempt: int) -> None:
        job = self.job
        if job is None or (job.id, job.attempts) != (job_id, attempt) \
                or (job_id, attempt) in self._cancelled:
            return
        self._cancelled[(job_id, attempt)] = time.monotonic()
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return        # it died: its listener puts the job back, and the cancel wins there
        try:
            self._send({"cancel": job_id, "attempt": attempt})
        except OSError:
            pass

    def end_if_deaf(self, grace: float) -> None:
        """Kill the process if its job was cancelled more than `grace` seconds ago and still
        runs (a search stuck in a long native call): the job then ends `cancelled`."""
        job, proc = self.job, self._proc
        sent = None if job is None else self._cancelled.get((job.id, job.attempts))
        if sent is not None and proc is not None and time.monotonic() - sent > grace:
            log.warning("job %s: no end %.0f s after its cancel; killing its search process",
                        job.id, grace)
            self._cancelled[(job.id, job.attempts)] = float("inf")      # once
            proc.kill()

    def close(self, *, timeout: float) -> None:
        proc, stdin = self._proc, self._input
        if proc is None:
            return
        try:
            stdin.close()                  # end of input: the process exits at once
        except OSError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def ensure_started(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            self._start()

    def _send(self, msg: dict[str, Any]) -> None:
        self.ensure_started()
        assert self._input is not None
        self._input.write(json.dumps(msg) + "\n")
        self._input.flush()

    def _start(self) -> None:
        read, write = os.pipe()
        proc = subprocess.Popen([sys.executable, "-m", "netsynth.service.worker", str(write),
                                 str(os.getpid())],
                                stdin=subprocess.PIPE, pass_fds=(write,), text=True,
                                env={**{k: v for k, v in os.environ.items()
                                        if k != "NETSYNTH_TOKEN"},
                                     # the search process logs at the server's level
                                     "NETSYNTH_LOG_LEVEL": logging.getLevelName(
                                         logging.getLogger().getEffectiveLevel())})
        os.close(write)
        proc.stdin.write(json.dumps({"settings": self.runner.settings.to_json()}) + "\n")
        proc.stdin.flush()
        self._proc, self._input = proc, proc.stdin
        threading.Thread(target=self._listen, args=(proc, os.fdopen(read)), daemon=True,
                         name=f"netsynth-slot-{self.index}").start()
        log.info("slot %d: search process %d started", self.index, proc.pid)

    def _listen(self, proc: subprocess.Popen, answers: IO[str]) -> None:
        with answers:
            for line in answers:
                msg = json.loads(line)
                with self.runner._lock:
                    job, self.job = self.job, None
                self._cancelled.clear()
                if job is not None and job.id == msg.get("done"):
                    self.runner._ended(self, job, msg.get("status"))
        code = proc.wait()
        with self.runner._lock:
            if self._proc is not proc:      # already replaced: that job ended before the death
                return
            job, self.job = self.job, None
            self._proc = self._input = None
        self.runner._died(self, job, code)


class DataDirInUse(Exception):
    pass


def claim_node(data_dir: Path) -> tuple[str, IO[str]]:
    """This server's lasting name (kept in `<data_dir>/node-id`) and the open lock file that
    keeps a second server off the same folder for as long as it stays open. Raises DataDirInUse.

    The name is what lets a restarted server take back at once the jobs it left running; servers
    sharing one database need folders of their own.
    """
    import fcntl
    import uuid

    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / "server.lock").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise DataDirInUse(f"another netsynth server is using the data folder {str(data_dir)!r}") \
            from None
    path = data_dir / "node-id"
    if not path.exists():
        path.write_text(uuid.uuid4().hex + "\n")
    return path.read_text().strip(), lock
