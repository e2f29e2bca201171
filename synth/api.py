"""One entry point for every front end: the CLI, the job service and notebooks."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable

from synth.outcome import Progress
from synth.problem import Problem
from synth.report import Report, build
from synth.search import SearchOptions, run


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def synthesize(spec: Any, model: Any = None, *, options: SearchOptions = SearchOptions(),
               progress: Callable[[Progress], None] | None = None,
               cancel: threading.Event | None = None, verify: bool = True,
               executor=None) -> Report:
    """Search for a program that does what the network does, then judge it.

    `spec` is a Spec, a path to a spec file, or a dict; `model` a path, ONNX bytes or a torch
    module (default: the spec's `model`). Raises NetsynthError subclasses for bad input.
    """
    import oracle as oracle_pkg
    from oracle.spec import Spec, load_spec

    if not isinstance(spec, Spec):
        spec = load_spec(spec if not isinstance(spec, str) else Path(spec))
    net = oracle_pkg.load(spec, model)
    problem = Problem.from_spec(spec, net)
    result = run(problem, options=options, progress=progress, cancel=cancel, executor=executor)
    verification = None
    if verify and result.program is not None and not (cancel is not None and cancel.is_set()):
        if progress:
            progress(Progress(result.levels, result.candidates, result.distinct,
                              result.agreement, result.seconds, result.rounds,
                              result.sample_size, phase="verify"))
        from verifier import check

        verification = check(result.program, net, min_agreement=options.min_agreement,
                             seed=options.seed).to_dict()
    return build(problem, result, workers=options.workers, verification=verification)
