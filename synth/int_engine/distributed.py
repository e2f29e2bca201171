"""Work items of a level run on Ray: an embedded local instance, or a cluster joined by address.

What ships per level: each bank level once, the first time it is an input, reused by reference
for every later level (bank levels never change once added), plus the sorted `seen` fingerprints
and the target, which change every level. A task's new rows stay in the object store: the driver
reads them zero-copy and, when they become an input, ships them as a reference to that task's
result (only segments the merge rebuilt are put). Work items are batched into tasks of about
`task_candidates` candidates; at most `in_flight` tasks are queued or running at a time (finished
ones waiting for their turn do not count, so one slow task does not idle the workers), and shards
come back strictly in item order, so the answer is the one `InProcess` finds.

A task skips values that earlier tasks of its level found, as far as its worker process knows
them: its own earlier tasks, and earlier results done when it starts (read then, and remembered
for the process's later tasks). Its shard lists those tasks (`checked`); the
driver, which reads shards in task order, compares each shard only with the earlier ones it does
not list (with two workers, usually the one task that ran beside it) and marks the later copy of
a value dead. When the caller stops iterating for a budget or a cancel, every task still in
flight is cancelled with `ray.cancel(force=True)`; after a hit (`finish`), the few in flight are
left to finish.

Joined clusters must have netsynth (and any user DSL files, at the same paths) installed on every
node: nothing is shipped with a `working_dir`. `cluster.join` checks a cluster before joining it,
so that a wrong address, token or Ray version is a `ComputeError` saying what to check.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import time
from collections import deque
from itertools import islice
from typing import Any, Iterator, Sequence

from synth.int_engine.bank import Segment
from synth.int_engine.cluster import join
from synth.int_engine.engine import Executor, InProcess, LevelInputs, batches, found_of, run_items
from synth.int_engine.enumerate import Shard, WorkItem

#: Object store of an embedded local Ray: a fifth of the machine's memory, at most 5 GiB (the
#: banks, capped at 4 GiB by default, live there: task results are not copied out).
MAX_OBJECT_STORE = 5 << 30


class SearchMemoryError(MemoryError):
    """Ray ran out of object-store or node memory; the search maps it to StopReason.MEMORY."""


#: How long `close` waits for the tasks a hit left running (each is one short batch).
LEFTOVER_SECONDS = 10.0


def make_executor(workers: int, *, address: str | None = None,
                  keep_alive: bool = False) -> Executor:
    """`InProcess()` for one worker, else a `RayExecutor` on `workers` CPUs.

    `address` joins a running cluster (never shut down here); None starts an embedded local Ray
    unless one is already initialised in this process. `keep_alive` leaves an embedded Ray
    running after `close()` (the service reuses one across jobs).
    """
    if workers < 1:
        raise ValueError(f"workers: expected an integer >= 1, got {workers}")
    if workers == 1:
        return InProcess()
    return RayExecutor(workers, address=address, keep_alive=keep_alive)


def start_ray(workers: int, *, address: str | None = None) -> bool:
    """Join the cluster at `address`, or start an embedded local Ray with `workers` CPUs, unless
    Ray is already up in this process. True when this call started an embedded Ray.

    Call it from the main thread of a long-lived process (the job service does, at start-up):
    a Ray initialised from a short-lived thread crashes the process once that thread is gone.
    Raises ComputeError when the cluster at `address` cannot be joined (see `cluster.join`).
    """
    import ray

    if ray.is_initialized():
        return False
    if address:
        join(address)
        return False
    import logging

    # logging_level: Ray's own lines ("Started a local Ray instance", its token-auth notice) stay
    # off the user's terminal; errors still show.
    ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True, object_store_memory=_local_object_store(),
             runtime_env={"env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}},
             logging_level=logging.ERROR)
    return True


class RayExecutor:
    """Runs the work items of a level as Ray tasks (one CPU each), yielding shards in order."""

    repeats = True              # tasks know only some of what other tasks found

    def __init__(self, workers: int, *, address: str | None = None, keep_alive: bool = False,
                 task_candidates: int = 1 << 18, in_flight: int | None = None) -> None:
        self.workers = workers
        self.task_candidates = task_candidates
        self.in_flight = in_flight or 3 * workers
        self.keep_alive = keep_alive
        self.owns_ray = start_ray(workers, address=address)
        self._shipped: dict[tuple[str, int], tuple[Any, Any]] = {}   # key -> (segments, ref)
        self.tasks = 0                  # submitted, over the executor's life
        self.cancelled = 0              # queued or running when their consumer stopped
        self._produced: dict[int, tuple[Any, Any, int]] = {}  # id(rows) -> (rows, result, index)
        self._level = 0
        self._finish = False            # see `finish`
        self._leftover: list = []       # tasks left to finish after a hit, waited for at `close`
        self._workers: dict[int, int] = {}   # pid -> private bytes at its last task's end
        #: Over the executor's life: driver seconds waiting for results and shipping levels, and
        #: bank rows put again (segments the merge rebuilt).
        self.stats = {"wait": 0.0, "put": 0.0, "put_rows": 0}

    def map(self, inputs: LevelInputs, items: Sequence[WorkItem]) -> Iterator[Shard]:
        """Shards of `items`, in order. Closing the generator cancels the tasks in flight."""
        import ray

        if not items:
            return
        task = _remote_batch()
        level = self._ship(inputs)      # a reference: `seen` is megabytes, put once a level
        total = sum(item.candidates for item in items)
        goal = max(1, min(self.task_candidates, total // (4 * self.workers)))
        todo = enumerate(batches(inputs, items, candidates=goal))
        refs: deque = deque()
        submitted: list = []            # every task of this level, in order

        def submit() -> list:
            """Keep `in_flight` tasks queued or running (finished ones waiting to be consumed
            in order do not count: a slow task at the head must not leave workers idle);
            return the unfinished ones."""
            done = set(ray.wait(list(refs), num_returns=len(refs), timeout=0,
                                fetch_local=False)[0]) if refs else set()
            unfinished = [r for r in refs if r not in done]
            for index, batch in islice(todo, max(0, self.in_flight - len(unfinished))):
                kind = inputs.productions[batch[0].production].result_type
                ref = task.remote(level, batch, index, [
                    (j, r) for j, (r, k) in enumerate(submitted) if k == kind])
                submitted.append((ref, kind))
                refs.append(ref)
                unfinished.append(ref)
                self.tasks += 1
            return unfinished

        try:
            while True:
                unfinished = submit()
                if not refs:
                    return
                t0 = time.perf_counter()
                while refs[0] in unfinished:          # wake up whenever a worker frees up
                    ray.wait(unfinished, num_returns=1, fetch_local=False)
                    unfinished = submit()
                with _memory_errors():
                    shard = ray.get(refs[0])
                if shard.worker is not None and self.owns_ray:
                    self._workers[shard.worker[0]] = shard.worker[1]
                self.stats["wait"] += time.perf_counter() - t0
                ref = refs.popleft()
                # The rows stay in the object store (read-only, zero-copy): the ones that join the
                # banks are shipped to later levels by this reference, never copied or put again.
                for j, values in enumerate(shard.segments):
                    self._produced[id(values)] = (values, ref, j)
                yield shard
        finally:
            finish, self._finish = self._finish, False
            if refs and finish:                # left to finish: waited for at `close`
                self._leftover.extend(refs)
            if refs and not finish:
                done = set(ray.wait(list(refs), num_returns=len(refs), timeout=0,
                                    fetch_local=False)[0])
                for ref in reversed(refs):     # the later first: they read the earlier
                    if ref not in done:
                        ray.cancel(ref, force=True)
                        self.cancelled += 1

    @property
    def resident(self) -> int:
        """Private resident bytes of the workers of an embedded Ray, as their last tasks left
        them: held against the search's memory cap with the driver's own (the workers of a
        cluster joined by address are the cluster's, and not counted)."""
        return sum(self._workers.values())

    def finish(self) -> None:
        """The level has its answer: the tasks still in flight when the caller stops iterating
        are left to finish (a few short ones) instead of cancelled. Ray 2.60 can abort the driver
        when a task completes in the instant it is cancelled ("Tried to complete task that was
        not pending"), which a hit, ending the level while tasks finish, made likely."""
        self._finish = True

    def close(self) -> None:
        import ray

        self._shipped.clear()
        self._produced.clear()
        if self._leftover and ray.is_initialized() and (self.keep_alive or not self.owns_ray):
            # Tasks a hit left running would be killed with this driver (and end FAILED in
            # a cluster's record): a few short ones, given a bounded wait to finish. (An
            # embedded Ray shut down here takes them with it; nobody reads its record.)
            ray.wait(self._leftover, num_returns=len(self._leftover), timeout=LEFTOVER_SECONDS,
                     fetch_local=False)
        self._leftover = []
        if self.owns_ray and not self.keep_alive and ray.is_initialized():
            ray.shutdown()
        self.owns_ray = False

    def _ship(self, inputs: LevelInputs) -> Any:
        """Ship the bank levels not shipped yet (a level's segments never change once added).

        A segment whose rows are the ones a task returned travels as (that task's result, index,
        which rows are alive); other segments (the leaves) are put. Returns a reference to the
        level's `_Shipped` inputs, put once and passed to every task of the level.
        """
        import ray

        t0 = time.perf_counter()
        refs = {}
        for key, segments in inputs.levels.items():
            old = self._shipped.get(key)
            if old is None or old[0] is not segments:
                parts = []
                for seg in segments:
                    made = self._produced.get(id(seg.values))
                    if made is not None and made[0] is seg.values:
                        parts.append(_Part(None, made[1], made[2], seg.lo, seg.hi, seg.offset,
                                           seg.alive))
                    else:
                        parts.append(_Part(seg, None, 0, None, None, 0))
                        self.stats["put_rows"] += len(seg.values)
                with _memory_errors():
                    old = (segments, ray.put(parts))
            refs[key] = old
        self._shipped = refs                       # levels of an earlier sample are released
        self._produced = {}                        # what was merged is shipped now
        self._level += 1
        with _memory_errors():
            shipped = ray.put(_Shipped(dataclasses.replace(inputs, levels={}),
                                       {key: ref for key, (_, ref) in refs.items()},
                                       f"{id(self)}-{self._level}"))
        self.stats["put"] += time.perf_counter() - t0
        return shipped


@dataclasses.dataclass(frozen=True)
class _Part:
    """One segment of a shipped bank level: the segment itself, or where a task returned it."""

    segment: Segment | None
    result: Any                 # ObjectRef of a task's Shard (when `segment` is None)
    index: int                  # which of that shard's segments
    lo: Any
    hi: Any
    offset: int
    alive: Any = None           # rows that repeat an earlier one of the level are dead

    def resolve(self, shards: dict) -> Segment:
        if self.segment is not None:
            return self.segment
        return Segment(shards[self.result].segments[self.index], self.lo, self.hi, self.offset,
                       self.alive)


@dataclasses.dataclass(frozen=True)
class _Shipped:
    """LevelInputs without its bank levels, which travel as object refs."""

    inputs: LevelInputs
    levels: dict
    token: str                  # this level of this executor


#: Per worker process: fingerprints that tasks of one level with index < `top` + 1 returned (or
#: dropped as found by such a task). A task may skip them: shards are merged in task order, so
#: the merge would drop those rows anyway; sharing them only removes duplicates earlier.
_FRESH: dict[str, Any] = {"level": None, "top": -1, "found": {}, "absorbed": set()}


def _run_batch(shipped: "_Shipped", items: list[WorkItem], index: int, earlier: list) -> Shard:
    """A Ray task: consecutive work items of one result type against the level's banks (read
    zero-copy), deduplicated together into one shard and against the values that earlier tasks
    of the level (`earlier`: their results, in task order) found, as far as this process knows
    them when the task starts; the driver marks what is left as repeats."""
    import ray

    from synth.int_engine.memory import tune_allocator

    tune_allocator()
    keys = list(shipped.levels)
    parts = dict(zip(keys, ray.get([shipped.levels[k] for k in keys])))
    results = list({p.result for ps in parts.values() for p in ps if p.segment is None})
    shards = dict(zip(results, ray.get(results)))
    levels = {k: tuple(p.resolve(shards) for p in ps) for k, ps in parts.items()}
    inputs = dataclasses.replace(shipped.inputs, levels=levels)
    state = _FRESH
    if state["level"] != shipped.token:
        state.update(level=shipped.token, top=-1, found={}, absorbed=set())
    if index < state["top"]:                   # out of order: this process knows later values
        return dataclasses.replace(run_items(inputs, items), worker=_worker())
    state["top"] = index
    found = state["found"]
    for s in _ready(earlier, state["absorbed"]):
        kind = inputs.productions[int(s.ops[0])].result_type.name
        found_of(found, inputs, kind).add(s.fps)                  # distinct
    checked = frozenset(j for j, _ in earlier if j in state["absorbed"])
    state["absorbed"].add(index)               # its own values go into `found` as it runs
    shard = run_items(inputs, items, found=found)
    return dataclasses.replace(shard, checked=checked, worker=_worker())


def _worker() -> tuple[int, int]:
    """(pid, private resident bytes) of this worker process, for the driver's memory cap."""
    from synth.int_engine.memory import private_bytes

    return os.getpid(), private_bytes() or 0


def _ready(earlier: list, absorbed: set) -> list[Shard]:
    """The shards of `earlier` tasks ((index, result) pairs) that are done and whose index is not
    in `absorbed` (which is updated)."""
    import ray

    import ray.exceptions as rex

    todo = {ref: j for j, ref in earlier if j not in absorbed}
    if not todo:
        return []
    done, _ = ray.wait(list(todo), num_returns=len(todo), timeout=0, fetch_local=False)
    out = []
    for ref in done:
        # An earlier task cancelled when its level stopped (or whose worker was killed) has
        # nothing to share: reading it must not fail this task (it did, as "FAILED" with
        # TASK_EXECUTION_EXCEPTION, when a stop cancelled a level's tasks one by one).
        try:
            shard = ray.get(ref)
        except (rex.TaskCancelledError, rex.WorkerCrashedError, rex.RayTaskError):
            continue
        absorbed.add(todo[ref])
        if len(shard.fps):
            out.append(shard)
    return out


@functools.cache
def _remote_batch():
    import ray

    return ray.remote(num_cpus=1, max_retries=1)(_run_batch)


@contextlib.contextmanager
def _memory_errors() -> Iterator[None]:
    """Ray's memory failures (and a task's own MemoryError) raised as SearchMemoryError."""
    import ray.exceptions as rex

    try:
        yield
    except (rex.ObjectStoreFullError, rex.OutOfMemoryError, rex.OutOfDiskError, MemoryError) as e:
        raise SearchMemoryError(f"Ray ran out of memory: {type(e).__name__}: {e}") from e


def _local_object_store() -> int:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return MAX_OBJECT_STORE
    return min(MAX_OBJECT_STORE, total // 5)
