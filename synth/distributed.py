"""Work items of a level run on Ray: an embedded local instance, or a cluster joined by address.

What ships per level: each bank level is `ray.put` once, the first time it is an input, and reused
by reference for every later level (bank levels never change once added), plus the sorted `seen`
fingerprints and the target, which change every level. Workers read all of it zero-copy from their
node's object store. Work items are batched into tasks of about `task_candidates` candidates; at
most `in_flight` tasks run or wait at a time, and their shards come back strictly in item order,
so the answer is the one `InProcess` finds. When the caller stops iterating (a hit, a budget,
cancel), every task still in flight is cancelled with `ray.cancel(force=True)`.

Joined clusters must have netsynth (and any user DSL files, at the same paths) installed on every
node: nothing is shipped with a `working_dir`.
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

from synth.engine import Executor, InProcess, LevelInputs, batches, run_items
from synth.enumerate import Shard, WorkItem

#: Object store of an embedded local Ray: a fifth of the machine's memory, at most 5 GiB (the
#: banks, shipped once, are capped at 4 GiB by default; task results are copied out at once).
MAX_OBJECT_STORE = 5 << 30


class SearchMemoryError(MemoryError):
    """Ray ran out of object-store or node memory; the search maps it to StopReason.MEMORY."""


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
    """
    import ray

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False, ignore_reinit_error=True)
        return False
    ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True, object_store_memory=_local_object_store(),
             runtime_env={"env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}})
    return True


class RayExecutor:
    """Runs the work items of a level as Ray tasks (one CPU each), yielding shards in order."""

    def __init__(self, workers: int, *, address: str | None = None, keep_alive: bool = False,
                 task_candidates: int = 1 << 18, in_flight: int | None = None) -> None:
        self.workers = workers
        self.task_candidates = task_candidates
        self.in_flight = in_flight or 3 * workers
        self.keep_alive = keep_alive
        self.owns_ray = start_ray(workers, address=address)
        self._shipped: dict[tuple[str, int], tuple[Any, Any]] = {}   # key -> (segments, ref)
        self.tasks = 0                  # submitted, over the executor's life
        self.cancelled = 0              # still in flight when their consumer stopped
        self.put_seconds = 0.0          # driver time spent shipping bank levels

    def map(self, inputs: LevelInputs, items: Sequence[WorkItem]) -> Iterator[Shard]:
        """Shards of `items`, in order. Closing the generator cancels the tasks in flight."""
        import ray

        if not items:
            return
        task = _remote_batch()
        level = self._ship(inputs)
        total = sum(item.candidates for item in items)
        goal = max(1, min(self.task_candidates, total // (4 * self.workers)))
        todo = batches(inputs, items, candidates=goal)
        refs: deque = deque()
        try:
            while True:
                for batch in islice(todo, self.in_flight - len(refs)):
                    refs.append(task.remote(level, batch))
                    self.tasks += 1
                if not refs:
                    return
                with _memory_errors():
                    shard = ray.get(refs[0])
                refs.popleft()
                # Copied out of the object store, or it would hold the banks twice (a bank level
                # is put again when it becomes an input).
                shard.segments = [seg.copy() for seg in shard.segments]
                yield shard
        finally:
            for ref in refs:
                ray.cancel(ref, force=True)
            self.cancelled += len(refs)

    def close(self) -> None:
        import ray

        self._shipped.clear()
        if self.owns_ray and not self.keep_alive and ray.is_initialized():
            ray.shutdown()
        self.owns_ray = False

    def _ship(self, inputs: LevelInputs) -> "_Shipped":
        """Put the bank levels not shipped yet (a level's segments never change once added)."""
        import ray

        t0 = time.perf_counter()
        refs = {}
        for key, segments in inputs.levels.items():
            old = self._shipped.get(key)
            if old is None or old[0] is not segments:
                with _memory_errors():
                    old = (segments, ray.put(segments))
            refs[key] = old
        self._shipped = refs                       # levels of an earlier sample are released
        shipped = _Shipped(dataclasses.replace(inputs, levels={}),
                           {key: ref for key, (_, ref) in refs.items()})
        self.put_seconds += time.perf_counter() - t0
        return shipped


@dataclasses.dataclass(frozen=True)
class _Shipped:
    """LevelInputs without its bank levels, which travel as object refs."""

    inputs: LevelInputs
    levels: dict


def _run_batch(shipped: _Shipped, items: list[WorkItem]) -> Shard:
    """A Ray task: consecutive work items of one result type against the level's banks (read
    zero-copy), deduplicated together into one shard."""
    import ray

    from synth.memory import tune_allocator

    tune_allocator()
    keys = list(shipped.levels)
    levels = dict(zip(keys, ray.get([shipped.levels[k] for k in keys])))
    inputs = dataclasses.replace(shipped.inputs, levels=levels)
    return run_items(inputs, items)


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
