"""A portfolio: independent search strategies for one problem, run as concurrent Ray tasks.

Each strategy is the ordinary in-process search (`search.run`, one worker) with some
`SearchOptions` fields changed (conditionals off, another sample, another size bound) and,
optionally, another DSL. At most `workers` tasks run at a time, started in portfolio order: a
strategy waits for a slot when the portfolio is larger. The first result that meets
`min_agreement` wins and every other task is cancelled at once (`ray.cancel(force=True)`). When
none does, the best result is reported, unaccepted: the highest agreement on the domain, then the
smallest program.

A task gets the spec and the model (ONNX bytes, or a trusted torch module) and opens its own
oracle: ONNX Runtime sessions do not travel. Every task shares the overall deadline (wall clock):
one that starts late gets what is left of it. `cancel` stops every task within a poll interval.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from dsl.errors import SpecError
from synth.outcome import Progress, SearchResult, StopReason
from synth.options import SearchOptions

#: Fields a strategy cannot change: where it runs, and what counts as an answer.
FIXED = frozenset({"workers", "ray_address", "min_agreement"})
#: Seconds past the deadline a task may take to return its best result before it is cancelled
#: (a search checks its budget between shards, and a conditional proposal is not interruptible).
GRACE = 10.0
POLL = 0.1                       # seconds between looks at `cancel` and the deadline


@dataclass(frozen=True)
class Strategy:
    """One way to search: a name, the `SearchOptions` fields it sets, optionally another DSL
    ("int" or a path to a user .lark file; joined clusters need it at the same path)."""

    name: str
    overrides: tuple[tuple[str, Any], ...] = ()
    dsl: str | None = None

    def __post_init__(self) -> None:
        known = {f.name for f in dataclasses.fields(SearchOptions)} - FIXED
        for key, _ in self.overrides:
            if key not in known:
                raise SpecError(f"strategy {self.name!r}: cannot set {key!r}; expected some of "
                                f"{sorted(known)}")
        try:
            SearchOptions.from_mapping(dict(self.overrides))
        except SpecError as e:
            raise SpecError(f"strategy {self.name!r}: {e}") from None

    @classmethod
    def of(cls, name: str, *, dsl: str | None = None, **overrides: Any) -> Strategy:
        """`Strategy.of("plain", conditionals=False)`."""
        return cls(name, tuple(sorted(overrides.items())), dsl)

    def options(self, base: SearchOptions) -> SearchOptions:
        return dataclasses.replace(base, **dict(self.overrides), workers=1, ray_address=None)

    def spec(self, base: Any) -> Any:
        if self.dsl is None:
            return base
        from dsl.language import dsl_key

        return dataclasses.replace(base, dsl=dsl_key(self.dsl))

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "options": dict(self.overrides),
                **({"dsl": self.dsl} if self.dsl else {})}


#: Plain enumeration and the conditional search race; a larger sample on another seed runs when
#: either ends without an answer (or alongside them, given three workers).
DEFAULT = (Strategy.of("conditional"), Strategy.of("plain", conditionals=False),
           Strategy.of("wide-sample", sample_size=512, seed=1))


@dataclass(frozen=True)
class Outcome:
    """What happened to one strategy: "won" (its answer was accepted), "best" (none was; its
    result is the one reported), "finished", "cancelled" (running when the portfolio ended),
    "not started" (waiting for a worker then), or "failed" (`error` says why)."""

    strategy: Strategy
    state: str
    result: SearchResult | None = None
    program: str | None = None                    # `result.program` in the strategy's DSL
    error: str | None = None
    exception: BaseException | None = dataclasses.field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {**self.strategy.describe(), "outcome": self.state,
                "stop_reason": r.stop_reason.value if r else None, "program": self.program,
                "agreement": r.agreement if r else None, "seconds": r.seconds if r else None,
                "error": self.error}


@dataclass(frozen=True)
class PortfolioResult:
    result: SearchResult              # the winner's, or the best one when none was accepted
    winner: Strategy | None           # whose `result` it is (None when no strategy finished)
    outcomes: tuple[Outcome, ...]     # one per strategy, in portfolio order


def run(spec: Any, model: Any, *, strategies: Sequence[Strategy] = DEFAULT,
        options: SearchOptions = SearchOptions(),
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None, keep_alive: bool = False) -> PortfolioResult:
    """Race `strategies` for `spec` (a Spec) and `model` (ONNX bytes or a torch module) on Ray.

    `options` gives the shared budget (`timeout` for the whole portfolio, `min_agreement`) and
    the base of every strategy's options; `options.workers` (at least 2) is how many strategies
    run at a time, and the bank memory cap is shared among them. Ray is joined at
    `options.ray_address` (left running) or started embedded, and shut down at the end unless it
    was already up or `keep_alive`; call from the main thread when it may start Ray. The result's
    `seconds` is the portfolio's wall time, its other figures the winner's. Raises SpecError for a
    bad portfolio, and the first failure's error when every strategy failed.
    """
    _check(spec, strategies, options)
    import ray

    from synth.int_engine.distributed import start_ray

    start = time.monotonic()
    deadline = None if options.timeout is None else time.time() + options.timeout
    shared = dataclasses.replace(
        options, memory_bytes=options.memory_bytes // min(options.workers, len(strategies)))
    owns = start_ray(options.workers, address=options.ray_address)
    address = ray.get_runtime_context().gcs_address
    waiting, running, ended = list(strategies), {}, {}
    winner: Strategy | None = None
    stop: StopReason | None = None               # why the portfolio stopped early, if it did
    try:
        task, model_ref = _remote_strategy(), ray.put(model)
        if progress:
            progress(_progress([], 0.0))
        while (waiting or running) and winner is None:
            while waiting and len(running) < options.workers:
                s = waiting.pop(0)
                running[task.remote(s.spec(spec), model_ref, s.options(shared), deadline)] = s
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL)
            for ref in ready:
                s = running.pop(ref)
                ended[s.name] = _collect(ray, ref, s, spec)
                if ended[s.name].state == "finished" and ended[s.name].result.accepted:
                    winner = s
            if ready and progress:
                progress(_progress(ended.values(), time.monotonic() - start))
            if winner is None and cancel is not None and cancel.is_set():
                stop = StopReason.CANCELLED
                break
            if winner is None and deadline is not None and time.time() > deadline + GRACE:
                stop = StopReason.TIME
                break
    finally:                                     # a winner, a stop, or an exception (^C)
        for ref in running:
            ray.cancel(ref, force=True)
        if owns and not keep_alive and ray.is_initialized():
            ray.shutdown()
    outcomes = tuple(ended.get(s.name) or Outcome(s, "not started" if s in waiting
                                                  else "cancelled") for s in strategies)
    if all(o.state == "failed" for o in outcomes):
        raise outcomes[0].exception
    backend = {"kind": "ray", "workers": options.workers, "address": address,
               "tasks": len(strategies) - len(waiting), "portfolio": True}
    return _decide(outcomes, winner, stop, time.monotonic() - start, backend)


def shippable(spec: Any, model: Any) -> Any:
    """What a task can open the model from: ONNX bytes (read from a path, or the spec's model), or
    the torch module itself (trusted; pickled with its code)."""
    model = spec.model if model is None else model
    if isinstance(model, (str, Path)):
        return Path(model).read_bytes()
    if isinstance(model, (bytearray, memoryview)):
        return bytes(model)
    return model


def _check(spec: Any, strategies: Sequence[Strategy], options: SearchOptions) -> None:
    """Refuse a portfolio that cannot run: one worker, no strategy, a name twice, a bad DSL."""
    from dsl.language import get_dsl

    if options.workers < 2:
        raise SpecError(f"portfolio: runs its strategies as concurrent Ray tasks and needs "
                        f"workers >= 2, got {options.workers}")
    if not strategies:
        raise SpecError("portfolio: expected at least one strategy, got none")
    names = [s.name for s in strategies]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SpecError(f"portfolio: strategy names must be unique, got {twice} more than once")
    for s in strategies:
        get_dsl(s.spec(spec).dsl)                # a DSLError now rather than in every task


def _collect(ray: Any, ref: Any, strategy: Strategy, spec: Any) -> Outcome:
    """The outcome of a task that ended: its result, or why it failed."""
    from dsl.language import get_dsl

    try:
        result = ray.get(ref)
    except ray.exceptions.TaskCancelledError:
        return Outcome(strategy, "cancelled")
    except ray.exceptions.RayError as e:     # the task raised, or its worker died
        cause = getattr(e, "cause", None) or e
        first = (str(cause).strip().splitlines() or [""])[0]
        return Outcome(strategy, "failed", error=f"{type(cause).__name__}: {first}",
                       exception=cause)
    text = None
    if result.program is not None:
        text = get_dsl(strategy.spec(spec).dsl).show(result.program)
    return Outcome(strategy, "finished", result, text)


def _decide(outcomes, winner, stop, seconds, backend) -> PortfolioResult:
    """The winner's result; else the best finished one (highest agreement, then smallest
    program), with the portfolio's stop reason when it stopped early, else that search's own."""
    from dsl.ast import size

    finished = [o for o in outcomes if o.state == "finished"]
    state = "won"
    if winner is None and finished:
        best = max(finished, key=lambda o: (o.result.agreement, o.result.program is not None,
                                            -size(o.result.program) if o.result.program else 0))
        winner, state = best.strategy, "best"
    if winner is None:
        result = SearchResult(None, 0.0, False, stop or StopReason.CANCELLED, (), seconds,
                              0, 0, 0, 0, 0)
    else:
        result = next(o.result for o in finished if o.strategy == winner)
        if not result.accepted and stop is not None:
            result = dataclasses.replace(result, stop_reason=stop)
        outcomes = tuple(dataclasses.replace(o, state=state) if o.strategy == winner else o
                         for o in outcomes)
    result = dataclasses.replace(result, seconds=seconds, backend=backend)
    return PortfolioResult(result, winner, outcomes)


def _progress(outcomes, elapsed: float) -> Progress:
    results = [o.result for o in outcomes if o.result is not None]
    return Progress(max((r.levels for r in results), default=1),
                    sum(r.candidates for r in results), sum(r.distinct for r in results),
                    max((r.agreement for r in results), default=0.0), elapsed,
                    phase="portfolio")


def _run_strategy(spec: Any, model: Any, options: SearchOptions,
                  deadline: float | None) -> SearchResult:
    """A Ray task: the ordinary in-process search, within what is left of the deadline."""
    import oracle
    from synth.int_engine.engine import InProcess
    from synth.problem import Problem
    from synth.search import run as search

    if deadline is not None:
        left = max(0.0, deadline - time.time())
        options = dataclasses.replace(
            options, timeout=left if options.timeout is None else min(options.timeout, left))
    problem = Problem.from_spec(spec, oracle.load(spec, model, threads=1))
    return search(problem, options=options, executor=InProcess())


@functools.cache
def _remote_strategy():
    import ray

    return ray.remote(num_cpus=1, max_retries=0)(_run_strategy)
