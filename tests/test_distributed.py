"""The distributed search finds the in-process answer: same program, same banks, any worker count.

One local Ray instance (2 CPUs) serves the whole module. The target `(x*y + x) ^ (y - 1)` needs a
program of size 9 with these operators and literals; its values are computed with numpy, and the
in-process enumeration is the reference for Ray's. Cancellation is observed through Ray's own
resource accounting (the embedded Ray here runs without the dashboard that the state API needs).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from dsl.ast import Var, const, size
from dsl.evaluate import evaluate
from dsl.language import get_dsl
from dsl.types import BOOL, INT
from synth.int_engine.distributed import RayExecutor, SearchMemoryError, make_executor
from synth.int_engine.engine import Enumerator, InProcess, _Repeats, productions_of
from synth.outcome import StopReason

OPS = ("add", "sub", "mul", "bitand", "bitxor", "lshift")
ITEM_CANDIDATES = 1 << 11          # small: levels split into hundreds of work items
KERNEL_MIN_LEVEL = 1 << 12         # larger levels run through compiled kernels, smaller numpy


def sample(points: int = 64, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.integers(0, 256, points), "y": rng.integers(0, 256, points)}


def hard_target(env: dict[str, np.ndarray]) -> np.ndarray:
    """Smallest program over OPS, {x, y, 1, 2, 3}: size 9 (nothing of size <= 7 matches)."""
    x, y = env["x"], env["y"]
    return (x * y + x) ^ (y - 1)


def enumerator(env, target, *, item_candidates: int = ITEM_CANDIDATES) -> Enumerator:
    dsl = get_dsl("int")
    productions = [p for p in productions_of(dsl, [INT, BOOL], exclude=["ite"]) if p.op in OPS]
    return Enumerator(dsl=dsl, dsl_key="int", env=env,
                      leaves={INT: [Var("x"), Var("y"), const(1), const(2), const(3)]},
                      productions=productions, target=target, target_type=INT,
                      need=len(target), max_size_by_type={BOOL: 3},
                      item_candidates=item_candidates, kernel_min_level=KERNEL_MIN_LEVEL)


def search(executor, *, max_size: int = 11):
    """Grow levels until a hit: (program, [(size, candidates, distinct)], bank fingerprints)."""
    env = sample()
    enum = enumerator(env, hard_target(env))
    levels = []
    for s in range(2, max_size + 1):
        out = enum.grow(s, executor, check=lambda candidates: None)
        levels.append((s, out.candidates, out.distinct))
        if out.hit is not None:
            assert 1 < len(enum.compiled_levels) < len(levels)     # both paths were taken
            return out.hit, levels, {t.name: bank.seen.copy() for t, bank in enum.banks.items()}
    raise AssertionError(f"no program up to size {max_size}")


@pytest.fixture(scope="module")
def reference():
    return search(InProcess())


def test_one_worker_is_in_process():
    assert isinstance(make_executor(1), InProcess)
    with pytest.raises(ValueError, match="workers: expected an integer >= 1, got 0"):
        make_executor(0)


def test_reference_is_the_smallest_program(reference):
    program, levels, _ = reference
    env = sample()
    assert size(program) >= 9
    np.testing.assert_array_equal(evaluate(program, env, dsl=get_dsl("int")).values,
                                  hard_target(env))
    assert [s for s, _, _ in levels] == list(range(2, size(program) + 1))


def test_memory_failures_become_search_memory_error():
    import ray.exceptions as rex

    from synth.int_engine.distributed import _memory_errors

    with pytest.raises(SearchMemoryError) as caught, _memory_errors():
        raise rex.ObjectStoreFullError("object store full")
    assert isinstance(caught.value, MemoryError)
    assert isinstance(caught.value.__cause__, rex.ObjectStoreFullError)


@pytest.mark.integration
@pytest.mark.parametrize("workers,in_flight,one_by_one", [(1, 1, 8), (2, None, 8), (2, None, 0)],
                         ids=["ray-1", "ray-2", "ray-2-level-set"])
def test_ray_finds_the_in_process_program(ray_instance, reference, workers, in_flight, one_by_one,
                                          monkeypatch):
    # The driver compares a shard one by one with the earlier shards it was not deduplicated
    # against, or (0 here) always with a set of every earlier value of the level.
    monkeypatch.setattr(_Repeats, "ONE_BY_ONE", one_by_one)
    executor = RayExecutor(workers, in_flight=in_flight, task_candidates=ITEM_CANDIDATES)
    try:
        program, levels, seen = search(executor)
    finally:
        executor.close()
    ref_program, ref_levels, ref_seen = reference
    assert program == ref_program
    # Same candidates tried and distinct rows on every level the search completed; on the hit
    # level the count stops at the end of the shard holding the hit, and shards are sized
    # differently in-process (one shard per batch of about 2M candidates).
    assert levels[:-1] == ref_levels[:-1] and levels[-1][0] == ref_levels[-1][0]
    assert seen.keys() == ref_seen.keys()
    for t in seen:                            # the banks hold the very same values
        np.testing.assert_array_equal(seen[t], ref_seen[t])
    assert executor.tasks > 100               # many tasks, so completions came out of order
    assert executor.cancelled == 0            # a hit lets the few tasks in flight finish
    assert ray_instance.is_initialized()      # a Ray it joined is left running


@pytest.mark.integration
def test_cancel_stops_tasks_in_flight(ray_instance):
    env = sample()
    unreachable = np.random.default_rng(2).integers(1 << 40, 1 << 41, len(env["x"]))
    enum = enumerator(env, unreachable, item_candidates=1 << 15)
    for s in range(2, 10):                    # banks up to size 9 in-process; none matches
        assert enum.grow(s, InProcess(), check=lambda c: None).hit is None
    executor = RayExecutor(2, task_candidates=1 << 15)
    cancel, started = threading.Event(), threading.Event()

    def check(candidates: int) -> StopReason | None:
        started.set()
        return StopReason.CANCELLED if cancel.is_set() else None

    result = {}
    worker = threading.Thread(target=lambda: result.update(out=enum.grow(11, executor,
                                                                           check=check)))
    worker.start()
    try:
        assert started.wait(120), "the level never produced a shard"
        total = ray_instance.cluster_resources()["CPU"]
        assert poll(lambda: ray_instance.available_resources().get("CPU", 0) < total), \
            "no task was seen running"
        cancel.set()
        worker.join(120)
        assert not worker.is_alive()
        assert result["out"].stop is StopReason.CANCELLED
        assert executor.cancelled > 0         # tasks were in flight and were cancelled
        assert poll(lambda: ray_instance.available_resources().get("CPU", 0) == total), \
            "cancelled tasks still hold CPUs"
    finally:
        cancel.set()
        worker.join(120)
        executor.close()


def poll(condition, *, attempts: int = 1200) -> bool:
    """Ask `condition` until it holds, a bounded number of times (Ray's resource view lags)."""
    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.05)
    return False
