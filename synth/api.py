"""One entry point for every front end: the CLI, the job service and notebooks."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from synth.outcome import Progress
from synth.problem import Problem
from synth.report import Report, build
from synth.search import SearchOptions, run

if TYPE_CHECKING:
    from synth.portfolio import Strategy


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def synthesize(spec: Any, model: Any = None, *, options: SearchOptions = SearchOptions(),
               progress: Callable[[Progress], None] | None = None,
               cancel: threading.Event | None = None, verify: bool = True,
               executor=None, portfolio: Sequence[Strategy] | None = None) -> Report:
    """Search for a program that does what the network does, then judge it.

    `spec` is a Spec, a path to a spec file, or a dict; `model` a path, ONNX bytes or a torch
    module (default: the spec's `model`). `portfolio` races those strategies as Ray tasks instead
    of one search (synth/portfolio.py); the report's `search` then names the `strategy` whose
    program it holds and each strategy's outcome (`portfolio`). Raises NetsynthError subclasses
    for bad input.
    """
    import oracle as oracle_pkg
    from oracle.spec import Spec, load_spec

    if portfolio and executor is not None:
        raise ValueError("synthesize: pass either `executor` or `portfolio`, not both (a "
                         "portfolio runs each strategy in-process in its own Ray task)")
    if not isinstance(spec, Spec):
        spec = load_spec(spec if not isinstance(spec, str) else Path(spec))
    net = oracle_pkg.load(spec, model)
    extra: dict[str, Any] = {}
    if portfolio:
        result, net, extra = _race(spec, model, net, portfolio, options, progress, cancel)
        problem = Problem.from_spec(net.spec, net)
    else:
        problem = Problem.from_spec(spec, net)
        result = run(problem, options=options, progress=progress, cancel=cancel,
                     executor=executor)
    verification = None
    if verify and result.program is not None and not (cancel is not None and cancel.is_set()):
        if progress:
            progress(Progress(result.levels, result.candidates, result.distinct,
                              result.agreement, result.seconds, result.rounds,
                              result.sample_size, phase="verify"))
        from verifier import check

        verification = check(result.program, net, min_agreement=options.min_agreement,
                             seed=options.seed).to_dict()
    report = build(problem, result, workers=options.workers, verification=verification)
    return replace(report, search={**report.search, **extra}) if extra else report


def _race(spec, model, net, strategies, options, progress, cancel):
    """The portfolio's result, the oracle to judge it with (in the winner's DSL), and what the
    report's `search` section adds: the winning strategy and every strategy's outcome."""
    import oracle as oracle_pkg
    from synth import portfolio as pf

    race = pf.run(spec, pf.shippable(spec, model), strategies=strategies, options=options,
                  progress=progress, cancel=cancel)
    if race.winner is not None and race.winner.dsl is not None:
        net = oracle_pkg.load(race.winner.spec(spec), model)
    return race.result, net, {"strategy": race.winner.name if race.winner else None,
                              "portfolio": [o.to_dict() for o in race.outcomes]}
