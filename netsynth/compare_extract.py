"""How `netsynth.compare` extracts a program from each network: through `netsynth.api.synthesize`,
with the same `SearchOptions` for every network.

- In-process, one network after another, by default (`workers` 1, no `ray_address`).
- As Ray tasks otherwise: one task per network (one CPU, the ordinary in-process search and
  verification), at most `workers` at a time. A task gets the spec and the model (ONNX bytes read
  here, or a trusted torch module) and sends back the report's JSON form (a `Report` holds its
  DSL's parser, which does not travel); the bank memory cap is shared among the running tasks.
  On 2 cores this is slower than in-process (docs/compare.md has the figures): Ray pays off for
  larger searches or on a cluster.
"""

from __future__ import annotations

import functools
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

from dsl.errors import NetsynthError


def extract(nets: Sequence[Any], options: Any, *, verify: bool = True,
            say: Callable[[str], None] | None = None, cancel: Any = None) -> tuple[list[Any], Any]:
    """Each network's `Report`, in order, and how they ran (`Execution`): in-process one after
    another, or as Ray tasks when `options.workers` > 1 or `options.ray_address` is set. Once
    `cancel` is set, the searches in-process stop with their best program so far; Ray tasks are
    cancelled and `Cancelled` is raised."""
    from netsynth.api import synthesize
    from netsynth.compare_result import Execution

    if options.workers > 1 or options.ray_address:
        return _extract_on_ray(nets, options, verify, say, cancel)
    began, reports = time.monotonic(), []
    for n in nets:
        reports.append(synthesize(n.spec, n.model, options=options, verify=verify, cancel=cancel))
        _said(say, n, reports[-1])
    return reports, Execution("in-process", 1, time.monotonic() - began, 0.0, 0.0)


class Cancelled(NetsynthError):
    """A comparison on Ray was cancelled before every network was extracted."""


def _extract_on_ray(nets: Sequence[Any], options: Any, verify: bool,
                    say: Callable[[str], None] | None, cancel: Any = None):
    """One Ray task per network (one CPU, the in-process search), at most `workers` at a time.
    Ray is joined at `ray_address` (left running) or started embedded (and shut down after)
    unless it is up already; call from the main thread."""
    import ray

    from netsynth.compare_result import Execution
    from netsynth.report import Report
    from synth.int_engine.distributed import start_ray

    began = time.monotonic()
    owns = start_ray(options.workers, address=options.ray_address)
    startup = time.monotonic() - began
    one = replace(options, workers=1, ray_address=None,
                  memory_bytes=max(1 << 20, options.memory_bytes // min(options.workers, len(nets))))
    task, todo, running = _remote_extract(), list(range(len(nets))), {}
    reports: list[Any] = [None] * len(nets)
    try:
        while todo or running:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"compare: cancelled with {reports.count(None)} of {len(nets)} "
                                f"networks not extracted")
            while todo and len(running) < options.workers:
                k = todo.pop(0)
                model = nets[k].model
                model = model.read_bytes() if isinstance(model, Path) else model
                running[task.remote(nets[k].spec, model, one, verify)] = k
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.1)
            for ref in ready:
                k = running.pop(ref)
                try:
                    reports[k] = Report.from_dict(ray.get(ref))
                except ray.exceptions.RayTaskError as e:
                    cause = getattr(e, "cause", None)
                    raise cause if isinstance(cause, Exception) else e
                _said(say, nets[k], reports[k])
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        if owns and ray.is_initialized():
            ray.shutdown()
    seconds = time.monotonic() - began - startup
    return reports, Execution("ray tasks", options.workers, seconds, startup, 0.0)


def _extract_task(spec: Any, model: Any, options: Any, verify: bool) -> dict[str, Any]:
    """A Ray task: one network's extraction, in-process, as the report's JSON form (a Report holds
    a DSL with its parser, which does not travel)."""
    from netsynth.api import synthesize

    return synthesize(spec, model, options=options, verify=verify).to_dict()


@functools.cache
def _remote_extract():
    import ray

    return ray.remote(num_cpus=1, max_retries=0)(_extract_task)


def _said(say: Callable[[str], None] | None, net: Any, report: Any) -> None:
    if say is not None:
        say(f"{net.name}: {report.status}"
            + (f", {report.text}" if report.text is not None else "")
            + f" ({report.search.seconds:.2f} s search)")
