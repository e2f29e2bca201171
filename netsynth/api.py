"""The one entry of every door: the CLI, `netsynth.extract` and the job service call only this.

- `synthesize(spec, model, *, options, ...) -> Report`: load the spec and the network, pick the
  search family for the spec's kind of network (`FAMILIES`), search, verify, report.
- `check(spec, model, program, *, reference=None, ...) -> Verification`: judge a given program.
- `start_compute(workers, address=...)`: start or join Ray once, on the main thread of a
  long-lived process (the job service does at start-up); searches then share it.

Nothing here parses command lines or HTTP forms: the doors turn their input into a spec, a model
and `SearchOptions` (validated once, synth/options.py) and come here.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from dsl.errors import SpecError
from synth.options import SearchOptions
from synth.outcome import Progress

if TYPE_CHECKING:
    from netsynth.report import Report
    from synth.portfolio import Strategy

#: The search family of each kind of network. Integer and boolean functions today; real-valued
#: formulas, decision rules, programs with state and automata each add a row (docs/architecture.md).
#: The search family of each kind of network (`Spec.family`), and the verifier that judges its
#: programs. Every family but "function" returns a `synth.outcome.FamilyResult`.
FAMILIES = {"function": "synth.search", "real": "synth.real", "rule": "synth.rules",
            "stateful": "synth.stateful", "automaton": "synth.automata"}
VERIFIERS = {"function": "verifier", "real": "verifier.real", "rule": "verifier.rules",
             "stateful": "verifier.stateful", "automaton": "verifier.automaton"}

_RAY_START = threading.Lock()        # two first jobs of a service must not both start a Ray


#: Options whose default depends on the kind of network (`family_defaults`); an option the caller
#: gives always wins. A decision rule over real inputs is judged on a sample and its boundaries
#: are located to a tolerance, so it is accepted at 99.9% agreement (issue 17's target), not 100%.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {"rule": {"min_agreement": 0.999},
                                              "real": {"min_agreement": 0.99}}


def family_defaults(spec: Any) -> dict[str, Any]:
    """The option defaults of `spec`'s family: every door applies them under what it was given."""
    return dict(FAMILY_DEFAULTS.get(load_spec(spec).family, {}))


def check_reference(spec: Any) -> None:
    """Read the spec's reference, if it has one, as its family's verifier will (a DSL expression,
    a program with state, a regular expression / predicate / DFA for automata), without a network
    or a search: DSLError naming what is wrong. The job service runs it on every submission."""
    spec = load_spec(spec)
    if spec.reference is None:
        return
    if spec.family == "automaton":
        from verifier.languages import check_reference as read

        read(spec.reference, spec)
    elif spec.family == "stateful":
        from dsl.stateful import Stateful

        Stateful.parse(spec.reference, spec.variables())
    else:
        from dsl import get_dsl

        get_dsl(spec.dsl).parse(spec.reference, spec.variables())


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def start_compute(workers: int, *, address: str | None = None) -> float:
    """Start an embedded local Ray with `workers` CPUs, or join the cluster at `address`, unless
    Ray is up already; the seconds it took. Call it on the main thread of a long-lived process (a
    Ray started from a short-lived thread takes the process down with it)."""
    from synth.int_engine.distributed import start_ray

    began = time.monotonic()
    with _RAY_START:
        start_ray(workers, address=address)
    return time.monotonic() - began


def load_spec(spec: Any) -> Any:
    """A Spec from a Spec, a path (str or Path), JSON text or a dict."""
    from oracle.spec import Spec, load_spec as load

    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, str) and not spec.lstrip().startswith("{"):
        spec = Path(spec)
    return load(spec)


def synthesize(spec: Any, model: Any = None, *, options: SearchOptions = SearchOptions(),
               progress: Callable[[Progress], None] | None = None,
               cancel: threading.Event | None = None, verify: bool = True,
               portfolio: Sequence[Strategy] | None = None, keep_ray: bool = False,
               executor: Any = None, startup: float = 0.0) -> Report:
    """Search for a program that does what the network does, then judge it.

    `spec` is a Spec, a path to a spec file, JSON text or a dict; `model` a path, ONNX bytes, a
    torch module (default: the spec's `model`), or an `Oracle` already opened on it. `portfolio` races those strategies as Ray tasks
    instead of one search (synth/portfolio.py); the report's search figures then name the
    `strategy` whose program it holds and each strategy's outcome. `keep_ray` leaves an embedded
    Ray running after the search (a service reuses one). `executor` runs the search's levels on a
    given engine executor (tests and benchmarks). `startup`: seconds the caller already spent
    starting Ray for this search, reported apart from the search's own time (as is the time Ray
    takes to start here). `options.timeout` bounds the whole call, loading and verification
    included: the search gets what loading left less a reserve for verification, which then
    scales its own effort to the time that remains. Raises NetsynthError subclasses for bad input.
    """
    import importlib

    import oracle as oracle_pkg
    from netsynth.report import build
    from synth.problem import Problem

    if portfolio and executor is not None:
        raise ValueError("synthesize: pass either `executor` or `portfolio`, not both (a "
                         "portfolio runs each strategy in-process in its own Ray task)")
    began = time.monotonic()
    spec = load_spec(spec)
    net = model if _is_oracle(model) else oracle_pkg.load(spec, model)
    if spec.family != "function":
        if portfolio:
            raise SpecError(f"portfolio: races strategies of the int search only; this spec's "
                            f"family is {spec.family!r}")
        return _synthesize_family(spec, net, options=options, progress=progress, cancel=cancel,
                                  verify=verify, began=began, startup=startup)
    family = importlib.import_module(FAMILIES["function"])
    extra: dict[str, Any] = {}
    budget = options
    options = _search_budget(options, verify=verify, spent=time.monotonic() - began)
    if portfolio:
        result, winner_spec, extra = _race(spec, model, portfolio, options, progress, cancel)
        problem = Problem.from_spec(winner_spec, net)     # the same network, the winner's DSL
    else:
        problem = Problem.from_spec(spec, net)
        own = executor is None
        if own:
            from synth.int_engine.distributed import make_executor

            began = time.monotonic()
            with _RAY_START:
                executor = make_executor(options.workers, address=options.ray_address,
                                         keep_alive=keep_ray)
            if options.workers > 1:
                startup += time.monotonic() - began
        try:
            result = family.run(problem, options=options, progress=progress, cancel=cancel,
                                executor=executor)
        finally:
            if own:
                executor.close()
    verification = None
    if verify and result.program is not None and not (cancel is not None and cancel.is_set()):
        if progress:
            progress(Progress(result.levels, result.candidates, result.distinct,
                              result.agreement, result.seconds, result.rounds,
                              result.sample_size, phase="verify"))
        from dsl.program import Expression
        from verifier import check as judge

        program = Expression(result.program, problem.dsl, spec.input_names,
                             tuple(spec.variables().values()))
        left = None if budget.timeout is None else budget.timeout - (time.monotonic() - began)
        verification = judge(program, net, min_agreement=options.min_agreement, seed=options.seed,
                             **_verify_effort(left))
    return build(problem, result, workers=options.workers, min_agreement=options.min_agreement,
                 verification=verification, extra=extra, startup=startup)


#: Seconds (at most, and at most a fifth of the budget) kept from the search for verification.
VERIFY_RESERVE = 5.0


def _is_oracle(model: Any) -> bool:
    """Whether `model` is an oracle opened already (a function's or a sequence model's)."""
    return hasattr(model, "query") and hasattr(model, "spec") and not hasattr(model, "forward")


def _family_module(spec: Any, table: dict[str, str]) -> Any:
    import importlib

    name = table[spec.family]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and name.startswith(e.name):
            raise SpecError(f"family: this netsynth has no search for {spec.family!r} networks "
                            f"yet (module {name} is missing)") from None
        raise


def _synthesize_family(spec: Any, net: Any, *, options: SearchOptions, progress: Any, cancel: Any,
                       verify: bool, began: float, startup: float) -> Report:
    """`synthesize` for every family but the int one: its `run`, its verifier, one report."""
    from netsynth.report import build_family

    family = _family_module(spec, FAMILIES)
    budget = options
    options = _search_budget(options, verify=verify, spent=time.monotonic() - began)
    if options.workers > 1:
        startup += start_compute(options.workers, address=options.ray_address)
    result = family.run(spec, net, options=options, progress=progress, cancel=cancel)
    verification = None
    if verify and result.program is not None and not (cancel is not None and cancel.is_set()):
        if progress:
            progress(Progress(0, result.candidates, result.candidates, result.agreement,
                              result.seconds, phase="verify"))
        judge = _family_module(spec, VERIFIERS)
        left = None if budget.timeout is None else budget.timeout - (time.monotonic() - began)
        verification = judge.check(result.program, net, spec, reference=spec.reference,
                                   min_agreement=options.min_agreement, seed=options.seed,
                                   **_family_effort(left))
    return build_family(spec, result, workers=options.workers,
                        min_agreement=options.min_agreement, verification=verification,
                        startup=startup,
                        comparison=_slices(spec, net, result, verification, options.seed))


def _slices(spec: Any, net: Any, result: Any, verification: Any, seed: int) -> Any:
    """A real formula's pictures' data (`netsynth.slices.Slices`), measured while the network is
    open, with the tolerance it was judged by (the verifier's; unverified, the one the search
    used: calibrated to the network's own error); None for other families and without a formula."""
    if spec.family != "real" or result.program is None:
        return None
    import numpy as np

    from netsynth.slices import Slices
    from oracle import sampling
    from oracle.metric import calibrated

    errors = (verification.fidelity.errors or {}) if verification is not None else {}
    if "abs_tol" not in errors:
        columns = sampling.sample(spec, 2000, seed=seed)
        metric = calibrated(spec, np.column_stack([columns[i.name] for i in spec.inputs]),
                            np.asarray(net.query(columns), np.float64))
        errors = {"abs_tol": metric.abs_tol, "rel_tol": metric.rel_tol}
    return Slices.measure(result.program, net, abs_tol=errors["abs_tol"],
                          rel_tol=errors["rel_tol"], seed=seed)


def _family_effort(left: float | None) -> dict[str, int]:
    effort = _verify_effort(left)
    effort.pop("speed_points", None)
    return effort


def _search_budget(options: SearchOptions, *, verify: bool, spent: float) -> SearchOptions:
    """The options the search runs with: its time is the budget less what loading took and less
    the verification's reserve (never below half a second)."""
    if options.timeout is None:
        return options
    reserve = min(VERIFY_RESERVE, 0.2 * options.timeout) if verify else 0.0
    return replace(options, timeout=max(0.5, options.timeout - spent - reserve))


def _verify_effort(left: float | None) -> dict[str, int]:
    """How hard the verifier may try in `left` seconds (None: its defaults): Z3's time per query,
    the Hypothesis examples beyond the range, the points of the speed measurement."""
    if left is None or left >= 25:
        return {}
    left = max(left, 0.5)
    return {"timeout_ms": int(min(10_000, max(200, 400 * left))),
            "hypothesis_examples": int(min(500, max(50, 20 * left))),
            "speed_points": 65_536 if left > 5 else 8_192}


def check(spec: Any, model: Any, program: Any, *, reference: Any = None,
          min_agreement: float = 1.0, timeout_ms: int = 10_000) -> Any:
    """Judge `program` (DSL text or a Node) against the network: a `verifier.Verification`."""
    import oracle as oracle_pkg
    from verifier import check as judge

    spec = load_spec(spec)
    net = model if _is_oracle(model) else oracle_pkg.load(spec, model)
    if spec.family != "function":
        from dsl.program import Expression

        if isinstance(program, str):
            if spec.family in ("real", "rule"):
                program = Expression.parse(program, spec.variables(), dsl=spec.dsl)
            else:
                raise SpecError(f"program: a {spec.family} program is checked from its JSON "
                                f"(the report's program_data), not from text")
        elif isinstance(program, dict):
            from dsl.program import program_from_dict

            program = program_from_dict(program, spec)
        return _family_module(spec, VERIFIERS).check(
            program, net, spec, reference=reference if reference is not None else spec.reference,
            min_agreement=min_agreement, timeout_ms=timeout_ms)
    return judge(program, net, reference=reference, min_agreement=min_agreement,
                 timeout_ms=timeout_ms)


def _race(spec, model, strategies, options, progress, cancel):
    """The portfolio's result, the spec of the winning strategy (its DSL may differ), and what the
    report's search figures add: the winning strategy and every strategy's outcome."""
    from synth import portfolio as pf

    race = pf.run(spec, pf.shippable(spec, model), strategies=strategies, options=options,
                  progress=progress, cancel=cancel)
    winner_spec = race.winner.spec(spec) if race.winner is not None else spec
    return race.result, winner_spec, {"strategy": race.winner.name if race.winner else None,
                                      "portfolio": [o.to_dict() for o in race.outcomes]}
