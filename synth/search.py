"""The search loop: enumerate on a small sample, check on the whole domain, refine (CEGIS).

Each round builds banks on the current sample, one size level at a time. A program that reaches
the agreement threshold on the sample is checked on the full domain (or a large sample); if it
falls short there, the points where it disagrees join the sample and a new round starts. When no
single term fits, the divide-and-conquer solver proposes a conditional, accepted once every smaller
program has been enumerated. Every run ends with a `StopReason`.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Callable

import numpy as np

from dsl.ast import App, Const, Node, Var, size
from dsl.evaluate import evaluate
from dsl.types import BOOL
from synth import conditional
from synth.int_engine.engine import Enumerator, Executor, productions_of
from synth.int_engine.memory import tune_allocator
from synth.outcome import ParetoPoint, Progress, SearchResult, StopReason
from synth.options import SearchOptions
from synth.problem import Problem

CHECK_SAMPLE = 1 << 16          # points of the full check when the domain is larger than 2^20
MAX_ROUNDS = 24
COUNTEREXAMPLES_PER_ROUND = 8
SMALLER_SECONDS = 10.0   # after a decomposition, the search for a smaller program gets this long


class _Budget:
    """Time, candidate and cancellation limits, plus throttled progress reports."""

    def __init__(self, options: SearchOptions, progress, cancel) -> None:
        self.options, self.progress, self.cancel = options, progress, cancel
        self.start = time.monotonic()
        self.candidates = 0
        self.last_report = 0.0
        self.state = Progress(1, 0, 0, 0.0, 0.0)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def check(self, level_candidates: int) -> StopReason | None:
        if self.cancel is not None and self.cancel.is_set():
            return StopReason.CANCELLED
        if self.options.timeout is not None and self.elapsed() > self.options.timeout:
            return StopReason.TIME
        total = self.candidates + level_candidates
        if self.options.max_candidates is not None and total > self.options.max_candidates:
            return StopReason.CANDIDATES
        if self.progress and time.monotonic() - self.last_report > 0.25:
            self.report(candidates=total)
        return None

    def report(self, **changes) -> None:
        self.state = Progress(**{**self.state.__dict__, **changes, "elapsed": self.elapsed()})
        self.last_report = time.monotonic()
        if self.progress:
            self.progress(self.state)


def run(problem: Problem, *, options: SearchOptions = SearchOptions(),
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None, executor: Executor | None = None) -> SearchResult:
    """Find the smallest program that agrees with the network; see the module docstring."""
    from oracle import sampling

    tune_allocator()
    budget = _Budget(options, progress, cancel)
    full = sampling.domain(problem.spec)
    exhaustive = full is not None
    if full is None:
        full = sampling.sample(problem.spec, CHECK_SAMPLE, seed=options.seed + 1)
    full_target = problem.oracle.query(full)
    sample = sampling.sample(problem.spec, options.sample_size, seed=options.seed)
    own_executor = executor is None
    if executor is None:
        from synth.int_engine.distributed import make_executor

        executor = make_executor(options.workers, address=options.ray_address)
    state = _State(problem, options, full, full_target, executor)
    try:
        held = _decomposed(problem, options, budget, state, cancel, executor)
        if held is not None:     # the enumeration now looks only for a smaller program, briefly
            left = SMALLER_SECONDS if options.timeout is None else \
                min(SMALLER_SECONDS, options.timeout - budget.elapsed())
            options = budget.options = dataclasses.replace(
                options, max_size=min(options.max_size, size(held) - 1),
                timeout=budget.elapsed() + max(left, 0.0))
        for round_ in range(1, MAX_ROUNDS + 1):
            budget.report(round=round_, sample=len(next(iter(sample.values()))))
            found = _round(problem, options, sample, executor, budget, state)
            if isinstance(found, StopReason):
                if held is not None and state.accepted is None:
                    state.accepted = held
                    state.notes.append(f"no smaller program than the one held "
                                       f"({found.value})")
                    found = found if found is StopReason.CANCELLED else StopReason.SOLVED
                return state.result(found, budget, round_, sample, exhaustive)
            sample = _with_counterexamples(sample, full, state.disagreements(found), options)
        return state.result(StopReason.EXHAUSTED, budget, MAX_ROUNDS, sample, exhaustive,
                            note=f"gave up after {MAX_ROUNDS} counterexample rounds")
    finally:
        if own_executor:
            executor.close()


def _decomposed(problem, options, budget, state, cancel, executor) -> Node | None:
    """The program joined from the parts of a network that splits (synth.intprobes.decompose),
    when right on the whole domain; its probes and parts go to the notes."""
    if not problem.discover:
        return None
    from synth.intprobes import decompose

    left = None if options.timeout is None else options.timeout - budget.elapsed()
    if left is not None and left < 0.1:
        return None
    budget.report(phase="decompose")
    found = decompose.attempt(problem, options=dataclasses.replace(options, timeout=left),
                              run=run, cancel=cancel, executor=executor)
    state.notes.extend(found.notes)
    budget.report(phase="enumerate")
    if found.program is None or not state.accepts(found.program):
        state.accepted = None
        return None
    program, state.accepted = state.accepted, None    # held while a smaller one is looked for
    return program


def _round(problem, options, sample, executor, budget, state) -> StopReason | Node:
    """One CEGIS round: a StopReason when the search ends, or a rejected program to learn from."""
    target = problem.oracle.query(sample)
    need = math.ceil(options.min_agreement * len(target) - 1e-9)
    types = sorted({*problem.variables.values(), problem.target_type, BOOL}, key=str)
    allowed = operators(problem.dsl, options.ops)
    excluded = ["ite", *(name for name in problem.dsl.operators if name not in allowed)]
    enum = Enumerator(dsl=problem.dsl, dsl_key=problem.dsl_key, env=sample,
                      leaves=problem.leaves(), productions=productions_of(problem.dsl, types,
                                                                          exclude=excluded),
                      target=target, target_type=problem.target_type, need=need,
                      max_size_by_type={BOOL: options.predicate_size}
                      if problem.target_type != BOOL else {},
                      memory_bytes=options.memory_bytes)
    hit, best = enum.first_hit, enum.first_best
    held: Node | None = None     # a conditional right on the whole domain, kept until every
    for level in range(1, options.max_size + 1):   # smaller program has been ruled out
        if level > 1:
            budget.report(level=level)
            try:
                out = enum.grow(level, executor, check=budget.check)
            except MemoryError:        # the workers' memory, or Ray's object store, ran out
                state.notes.append(f"memory ran out while enumerating size {level}")
                return StopReason.MEMORY
            budget.candidates += out.candidates
            hit, best = out.hit, out.best
            if out.stop is not None:
                if best is not None:
                    state.consider(best[1])
                if held is not None and state.accepts(held):
                    state.notes.append(f"the conditional was accepted at size {size(held)}; "
                                       f"programs above size {level - 1} were not ruled out")
                    return StopReason.SOLVED
                return out.stop
        if best is not None:
            state.consider(best[1])
        budget.report(level=level, candidates=budget.candidates, distinct=enum.distinct,
                      best_agreement=state.best_agreement(), best=state.best_text())
        if hit is not None:
            return StopReason.SOLVED if state.accepts(hit) else hit
        if options.conditionals and "ite" in allowed and held is None and level >= 3:
            budget.report(phase="conditional")
            proposal = conditional.solve(enum)
            budget.report(phase="enumerate")
            if proposal is not None and size(proposal) > options.max_size:
                proposal = None                  # a lookup table in disguise: keep enumerating
            if proposal is not None:
                if state.consider(proposal) < options.min_agreement:
                    return proposal              # wrong somewhere: learn from it
                held = proposal
        if held is not None and size(held) <= level + 1:
            return StopReason.SOLVED if state.accepts(held) else held
    if held is not None and state.accepts(held):
        return StopReason.SOLVED
    return StopReason.EXHAUSTED


def operators(dsl, wanted: tuple[str, ...] | None) -> set[str]:
    """The names of the DSL's operators that `wanted` (names or symbols: "+", ">>", "abs", "if")
    selects; every operator when None. Raises SpecError naming a token that selects nothing."""
    from dsl.errors import SpecError

    if wanted is None:
        return set(dsl.operators)
    by_token: dict[str, set[str]] = {}
    for name, row in dsl.operators.items():
        symbol = "".join(row.template.format(*[""] * row.arity).split())
        for token in {name, symbol if "(" not in symbol else name, *(("if",) if name == "ite" else ())}:
            by_token.setdefault(token, set()).add(name)
    chosen: set[str] = set()
    for token in wanted:
        if token not in by_token:
            raise SpecError(f"ops: unknown operator {token!r} in DSL {dsl.name!r}; expected names "
                            f"or symbols among {sorted(by_token)}")
        chosen |= by_token[token]
    return chosen


class _State:
    """What the search knows across rounds: full-domain agreement of what it has seen."""

    def __init__(self, problem, options, full, full_target, executor) -> None:
        self.problem, self.options, self.executor = problem, options, executor
        self.full, self.full_target = full, full_target
        self.pareto: dict[int, ParetoPoint] = {}
        self.accepted: Node | None = None
        self.notes: list[str] = list(problem.notes)   # the DSL and literal choices first

    def agreement(self, program: Node) -> tuple[float, np.ndarray]:
        ev = evaluate(program, self.full, dsl=self.problem.dsl)
        wrong = ~self.problem.metric.agree(ev.values, self.full_target, ev.bad)
        return 1.0 - wrong.mean(), wrong

    def consider(self, program: Node) -> float:
        agreement, _ = self.agreement(program)
        s = size(program)
        if s not in self.pareto or agreement > self.pareto[s].agreement:
            self.pareto[s] = ParetoPoint(program, s, agreement)
        return agreement

    def accepts(self, program: Node) -> bool:
        if self.consider(program) >= self.options.min_agreement:
            self.accepted = self.literal_counts(tidy(program, self.problem.dsl))
            return True
        return False

    def literal_counts(self, program: Node) -> Node:
        """`program` with each shift count that is an input replaced by the first literal that
        leaves it as right on the whole domain: `x >>s 7`, not `x >>s x` (equal at 8 bits, as
        the enumerator keeps the first of equal values and inputs come before literals)."""
        paths = [p for p in _paths(program) if p and _at(program, p[:-1]).op in SHIFTS
                 and p[-1] == 1 and isinstance(_at(program, p), Var)][:MAX_COUNTS]
        if not paths:
            return program
        right = self.agreement(program)[0]
        for path in paths:
            for literal in (c for c in self.problem.literals if c.type == _at(program, path).type):
                candidate = _replace(program, path, literal)
                if self.agreement(candidate)[0] >= right:
                    program = candidate
                    break
        return program

    def disagreements(self, program: Node) -> np.ndarray:
        return np.flatnonzero(self.agreement(program)[1])

    def best_text(self) -> str | None:
        """The program of `best_agreement` (the smallest such), as text, for progress reports."""
        if not self.pareto:
            return None
        top = max(self.pareto.values(), key=lambda p: (p.agreement, -p.size))
        return self.problem.dsl.show(top.program)

    def best_agreement(self) -> float:
        return max((p.agreement for p in self.pareto.values()), default=0.0)

    def front(self) -> tuple[ParetoPoint, ...]:
        out, best = [], -1.0
        for s in sorted(self.pareto):
            if self.pareto[s].agreement > best:
                point = self.pareto[s]
                out.append(ParetoPoint(tidy(point.program, self.problem.dsl), s, point.agreement))
                best = point.agreement
        return tuple(out)

    def result(self, reason, budget, rounds, sample, exhaustive, note=None) -> SearchResult:
        budget.report(candidates=budget.candidates, best_agreement=self.best_agreement(),
                      phase="done")
        front = self.front()
        if self.accepted is not None:
            program, agreement = self.accepted, self.agreement(self.accepted)[0]
        elif front:
            top = max(front, key=lambda p: (p.agreement, -p.size))
            program, agreement = top.program, top.agreement
        else:
            program, agreement = None, 0.0
        return SearchResult(program, agreement, self.accepted is not None, reason, front,
                            budget.elapsed(), budget.candidates, budget.state.distinct, rounds,
                            len(next(iter(sample.values()))), budget.state.level,
                            notes=tuple(self.notes) + ((note,) if note else ()),
                            backend=_describe(self.executor))


def tidy(node: Node, dsl) -> Node:
    """`node` with the arguments of each commutative operator in reading order: an input
    first, a literal last, others as they are (`x ^ (x - 1)`, `min(max(x, 7), 40)`, not
    `(x - 1) ^ x`, `min(40, max(x, 7))`). The enumerator keeps the larger argument first; the
    value is the same."""
    if not isinstance(node, App):
        return node
    args = tuple(tidy(a, dsl) for a in node.args)
    row = dsl.operators.get(node.op)
    if row is not None and getattr(row, "commutative", False) and len(args) == 2:
        key = lambda a: isinstance(a, Const) - isinstance(a, Var)     # noqa: E731
        if key(args[1]) < key(args[0]):
            args = (args[1], args[0])
    return App(node.op, args, node.type)


SHIFTS = frozenset({"shl", "lshr", "ashr", "rotl", "rotr", "lshift", "rshift"})
MAX_COUNTS = 4           # shift counts tried as literals, at most


def _paths(node: Node, at: tuple = ()):
    """The position of every node (argument indices from the root), parents first."""
    yield at
    if isinstance(node, App):
        for k, a in enumerate(node.args):
            yield from _paths(a, at + (k,))


def _at(node: Node, path: tuple) -> Node:
    for k in path:
        node = node.args[k]
    return node


def _replace(node: Node, path: tuple, new: Node) -> Node:
    if not path:
        return new
    args = list(node.args)
    args[path[0]] = _replace(args[path[0]], path[1:], new)
    return App(node.op, tuple(args), node.type)


def _describe(executor) -> dict:
    """Where the search ran: in-process, or the Ray cluster (GCS address), how many tasks it
    submitted, and how many of those were cancelled unfinished (when the answer came first)."""
    if getattr(executor, "workers", 1) == 1 and not hasattr(executor, "tasks"):
        return {"kind": "in-process", "workers": 1}
    import ray

    address = ray.get_runtime_context().gcs_address if ray.is_initialized() else None
    return {"kind": "ray", "workers": executor.workers, "address": address,
            "tasks": getattr(executor, "tasks", None),
            "cancelled": getattr(executor, "cancelled", None)}


def _with_counterexamples(sample, full, wrong: np.ndarray, options) -> dict:
    """The sample plus a few points (spread at random, reproducibly) where a candidate failed."""
    rng = np.random.default_rng(options.seed + len(next(iter(sample.values()))))
    pick = rng.choice(wrong, size=min(len(wrong), COUNTEREXAMPLES_PER_ROUND), replace=False)
    return {k: np.concatenate([v, full[k][pick]]) for k, v in sample.items()}
