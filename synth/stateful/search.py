"""The stateful search: a recurrent network's per-step answers -> a `Stateful` program.

    sample = every short sequence (small alphabets), random and designed ones, asked once
    repeat (CEGIS):
        window phase:   y_t = out(x_t, x_(t-1), ..., x_(t-W))            W = 0, 1, 2, ...
        one register:   s_t = step(s_(t-1), x_t) for each distinct trajectory on the sample,
                        y_t = out(s_t, x_t, x_(t-1))
        two registers:  s as above, r_t = step2(r_(t-1), s_t, x_t), y_t = out(s_t, r_t, x_t)
        check the first program that reaches min_agreement on fresh random sequences; where the
        network departs from it, add those sequences to the sample and search again

Step expressions are enumerated once per phase over a proxy grid of (register, input) values,
one per distinct function there (`terms.Bank`); each is run over the sample's sequences (a few
hundred of them first), and trajectories already seen are skipped: observational equivalence over
whole trajectories. A trajectory is kept only when some function of (registers, inputs) can reach
min_agreement (the majority answer per distinct row), which rules most of them out before any
`out` is enumerated (`outs.solve`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from dsl.ast import App, Const, Node, Var, variables
from dsl.stateful import Register, Stateful
from dsl.types import BOOL, INT
from synth.outcome import FamilyPareto, FamilyResult, Progress, StopReason
from synth.stateful.outs import Fit, solve
from synth.stateful.registers import as_int, grid, previous, register_values, simulate, window_vars
from synth.stateful.sample import Sample, StepDomain, check_set, constants, step_domain
from synth.stateful.tables import MAX_ROWS, S_RANGE, OutTable, ceilings, letter_codes, run_table
from synth.stateful.terms import STEP_OPERATORS, Bank, linear
from synth.stateful.integrate import running_sum
from synth.stateful.whitebox import white_box_registers

MAX_ROUNDS = 6
PROBE = 256                 # sequences a trajectory is first run on
TABLE_PROBE = 64            # ... when a whole level runs as tables
WINDOW = 7                  # window terms tried in the window phase
STEP_SIZE = (9, 5)          # largest step expression: one register, the second register
OUT_SIZE = (11, 5)          # largest out: window phase, two registers
OUT_PASSES = (3, 7)         # one register: every step with outs up to 3 nodes, then up to 7
INITS = (0, 1)
FIRST_SIZE, FIRSTS = 7, 2000    # first registers kept for the two-register phases
TWO_FIRSTS = 300                # ... of which the general two-register phase tries
SECOND_FIRSTS = 30              # ... and the output-as-second-register phase
TABLE_LETTERS = 64          # alphabets up to this many step values run steps as tables
EXACT_SIZE = 5              # steps that leave S_RANGE are run exactly up to this size
CHUNK = 1000                # steps run together by table
KEYS = 1 << 22              # at most this many (step, row) counters at once
BANK_VALUES = 1 << 25       # values a step bank may hold (8 bytes each)


class _Stop(Exception):
    def __init__(self, reason: StopReason) -> None:
        self.reason = reason


@dataclass
class _State:
    options: Any
    progress: Callable[[Progress], None] | None
    cancel: Any
    start: float
    phase: str = "sample"
    level: int = 0
    candidates: int = 0
    distinct: int = 0
    best: tuple[float, str] = (0.0, "")
    last_report: float = 0.0
    figures: dict = field(default_factory=lambda: {"trajectories": 0, "rounds": 0, "sequences": 0})

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.cancel is not None and self.cancel.is_set():
            raise _Stop(StopReason.CANCELLED)
        if self.options.timeout is not None and now - self.start > self.options.timeout:
            raise _Stop(StopReason.TIME)
        if self.progress is not None and (force or now - self.last_report > 0.25):
            self.last_report = now
            self.progress(Progress(self.level, self.candidates, self.distinct, self.best[0],
                                   now - self.start, phase=self.phase, best=self.best[1] or None))


def run(spec, oracle, *, options, progress=None, cancel=None) -> FamilyResult:
    """Search a `Stateful` program for a per-step sequence oracle (see the module docstring)."""
    domain = step_domain(spec)
    state = _State(options, progress, cancel, time.monotonic())
    length = spec.sequence.max_len
    found: tuple[Stateful, float] | None = None
    reason, notes, sample = StopReason.EXHAUSTED, [], None
    try:
        state.tick(force=True)
        sample = Sample.build(domain, length, oracle, seed=options.seed)
        registers = white_box_registers(oracle, sample.x, state.figures)
        for round_ in range(1, MAX_ROUNDS + 1):
            state.figures["rounds"] = round_
            state.figures["sequences"] = int(len(sample.x))
            program = _Finder(domain, sample, state, int_output=spec.output.type == INT).find(registers)
            if program is None:
                break
            check = check_set(domain, length, oracle, seed=options.seed + round_)
            agree = _agreement(program, domain, check)
            state.best = max(state.best, (agree, program.show()))
            if agree >= options.min_agreement:
                found, reason = (program, _agreement(program, domain, sample, check)), StopReason.SOLVED
                break
            wrong = _disagreeing(program, domain, check)
            notes.append(f"round {round_}: {program.show()!r} agreed on {agree:.4f} of fresh steps; "
                         f"{len(wrong)} sequences added")
            sample.add(check.x[wrong[:200]], oracle)
            found = (program, agree)
    except _Stop as stop:
        reason = stop.reason
    program, agreement = found if found else (None, 0.0)
    seconds = time.monotonic() - state.start
    state.phase, state.best = "done", max(state.best, (agreement, program.show() if program else ""))
    if progress is not None:
        progress(Progress(state.level, state.candidates, state.distinct, state.best[0], seconds,
                          phase="done", best=state.best[1] or None))
    return FamilyResult(
        program=program, agreement=agreement, accepted=reason == StopReason.SOLVED,
        stop_reason=reason,
        pareto=(FamilyPareto(program, program.size, agreement),) if program else (),
        seconds=seconds, queries=int(getattr(oracle, "points", 0)),
        candidates=state.candidates, notes=tuple(notes),
        figures={**state.figures, "distinct": state.distinct, "registers": len(program.registers) if program else None,
                 "window": program.window if program else None},
        extra=_extra(program, domain, sample) if program else {})


def _agreement(program: Stateful, domain: StepDomain, *samples: Sample) -> float:
    hits = total = 0
    for s in samples:
        values = program.evaluate(s.columns(domain.names)).values.astype(np.int64)
        hits += int((values == s.y).sum())
        total += s.y.size
    return hits / total


def _disagreeing(program: Stateful, domain: StepDomain, s: Sample) -> np.ndarray:
    values = program.evaluate(s.columns(domain.names)).values.astype(np.int64)
    return np.flatnonzero((values != s.y).any(axis=1))


def _extra(program: Stateful, domain: StepDomain, sample: Sample) -> dict:
    x = sample.x[len(sample.x) // 2]
    steps = x[:, 0] if len(domain.names) == 1 else x
    return {"python": program.to_python("f"), "numpy": program.to_numpy("f"),
            "trace": program.trace(steps.tolist())}


class _Finder:
    """One search over a fixed sample: the phases in order, the first program found."""

    def __init__(self, domain: StepDomain, sample: Sample, state: _State, *, int_output: bool) -> None:
        self.domain, self.sample, self.state = domain, sample, state
        self.int_output = int_output
        self.min = state.options.min_agreement
        self.consts = constants(domain)
        self.names = domain.names
        rng = np.random.default_rng(state.options.seed)
        n = len(sample.x)
        self.probe = rng.permutation(n)[:PROBE]
        self.seen: set[bytes] = set()
        self.trajectories: list[tuple[int, Register]] = []    # first registers for the two-register phase
        self.out_size = OUT_PASSES[0]
        self.out_tables: dict[int, OutTable] = {}
        self.first_seen: set[bytes] = set()
        self.step_bank: Bank | None = None

    def find(self, registers: int | None = None) -> Stateful | None:
        """Window functions; one register with small outs and steps; two registers; one register
        with the larger steps; one register with larger outs. Two or more registers estimated
        from the hidden states (whitebox.py): the two-register phase before steps of 6-7 nodes."""
        small, large = OUT_PASSES
        six, two = (lambda: self._one(small, 6, FIRST_SIZE)), self._two
        phases = (self._window, self._output_is_register, lambda: running_sum(self), lambda: self._one(small, 1, 5),
                  self._output_is_second_register, *((two, six) if (registers or 0) >= 2 else (six, two)),
                  lambda: self._one(small, FIRST_SIZE + 1, STEP_SIZE[0]),
                  lambda: self._one(large, 1, STEP_SIZE[0]))
        for phase in phases:
            program = phase()
            if program is not None:
                return program
        return None

    # ---- columns -------------------------------------------------------------------------------
    def _window_columns(self, rows: np.ndarray | None, window: int) -> dict[str, np.ndarray]:
        x = self.sample.x if rows is None else self.sample.x[rows]
        cols = {}
        for d, name in enumerate(self.names):
            cols[name] = x[..., d]
            for k in range(1, window + 1):
                shifted = np.zeros_like(x[..., d])
                shifted[:, k:] = x[:, :-k, d] if k < x.shape[1] else 0
                cols[f"{name}_{k}"] = shifted
        return cols

    def _target(self, rows: np.ndarray | None) -> np.ndarray:
        return (self.sample.y if rows is None else self.sample.y[rows]).ravel()

    def _fit(self, cols: dict[str, np.ndarray], rows, max_size: int) -> Fit | None:
        fit = solve({k: v.ravel() for k, v in cols.items()}, self._target(rows), constants=self.consts,
                    max_size=max_size, min_agreement=self.min, seed=self.state.options.seed,
                    tick=self.state.tick)
        if fit is not None:
            self.state.candidates += fit.candidates
        return fit

    # ---- phases --------------------------------------------------------------------------------
    def _window(self) -> Stateful | None:
        self.state.phase = "window"
        for w in range(0, WINDOW + 1):
            self.state.level = w
            self.state.tick(force=True)
            size = OUT_SIZE[0] if w <= 3 and self.domain.alphabet ** (w + 1) <= 4096 else 5 if w <= 2 else 3
            fit = self._fit(self._window_columns(None, w), None, size)
            if fit is not None:
                return self._program((), fit.node)
        return None

    def _output_is_register(self) -> Stateful | None:
        """out = s: then s_t is the answer y_t itself, and step a pointwise function of
        (y_(t-1), x_t): one enumeration, no simulation."""
        self.state.phase = "output as register"
        self.state.tick(force=True)
        for init in INITS:
            cols = {**self._window_columns(None, 0), "s": previous(self.sample.y, init)}
            fit = self._fit(cols, None, STEP_SIZE[0])
            if fit is not None and "s" in variables(fit.node) and not window_vars(fit.node):
                program = self._checked((Register("s", init, as_int(fit.node)),), Var("s", INT))
                if program is not None:
                    return program
        return None

    def _output_is_second_register(self) -> Stateful | None:
        """Two registers with out = r: for each first register s (smallest first), r_t = y_t and
        r's step is a pointwise function of (y_(t-1), s_t, x_t): affine ones for every first
        register, any up to STEP_SIZE[1] nodes for the first SECOND_FIRSTS."""
        self.state.phase = "output as second register"
        firsts = sorted(self.trajectories, key=lambda t: t[0])
        for rank, (size, first) in enumerate(firsts):
            self.state.level = size
            self.state.tick()
            full = simulate((first,), self.sample.x[self.probe], self.names)
            if full is None:
                continue
            for init in INITS:
                cols = {**self._window_columns(self.probe, 0), "s": full["s"],
                        "r": previous(self.sample.y[self.probe], init)}
                fit = linear({k: v.ravel() for k, v in cols.items()}, self._target(self.probe))
                node = fit[0] if fit is not None else None
                if node is None or "r" not in variables(node) or "s" not in variables(node):
                    fit = self._fit(cols, self.probe, STEP_SIZE[1]) if rank < SECOND_FIRSTS else None
                    node = fit.node if fit is not None else None
                if node is not None and "r" in variables(node) and "s" in variables(node):
                    program = self._checked((first, Register("r", init, as_int(node))), Var("r", INT))
                    if program is not None:
                        return program
        return None

    def _one(self, out_size: int, smallest: int, largest: int) -> Stateful | None:
        """One register, steps of smallest..largest nodes, outs up to out_size nodes."""
        self.state.phase = "one register"
        table = self.domain.alphabet <= TABLE_LETTERS
        values = np.arange(S_RANGE[0], S_RANGE[1] + 1) if table else register_values()
        if self.step_bank is None:
            points = grid({"s": values}, self.domain, letters=TABLE_LETTERS)
            most = min(200000, BANK_VALUES // len(points["s"]))
            self.step_bank = Bank({k: (INT, v) for k, v in points.items()}, self.consts,
                                  operators=STEP_OPERATORS, max_terms=most, level_cap=most // 3)
        bank = self.step_bank
        for self.out_size in (out_size,):
            self.seen.clear()
            for size in range(smallest, largest + 1):
                self.state.level = size
                self.state.tick(force=True)
                level = bank.level(size, INT)
                keep = [i for i, node in enumerate(level.nodes) if "s" in variables(node)]
                if not keep:
                    continue
                if table:
                    program = self._one_by_table(size, [level.nodes[i] for i in keep],
                                                 level.values[keep].reshape(len(keep), len(values), -1))
                else:
                    program = self._one_exact(size, [level.nodes[i] for i in keep]) if size <= EXACT_SIZE else None
                if program is not None:
                    return program
        return None

    def _one_exact(self, size: int, nodes: list[Node], inits=INITS) -> Stateful | None:
        for node in nodes:
            for init in inits:
                self.state.candidates += 1
                self.state.tick()
                program = self._try_registers((Register("s", init, node),), self.out_size, size)
                if program is not None:
                    return program
        return None

    def _one_by_table(self, size: int, nodes: list[Node], table: np.ndarray) -> Stateful | None:
        """Every step of this size at once: the step's values on the grid are a lookup table
        (register value x letter), run over the probe sequences while the register stays in
        S_RANGE; steps that leave it are run exactly (up to EXACT_SIZE)."""
        probe = self.probe[:max(TABLE_PROBE, min(PROBE, 8 * self.domain.alphabet))]
        codes = letter_codes(self.domain, self.sample.x[probe])
        target = self.sample.y[probe]
        keys = OutTable.rows(self.domain, previous=self.out_size > 3)
        chunk = max(1, min(CHUNK, KEYS // (keys * (1 if self.min >= 1 else 16))))
        outs = None
        if keys <= MAX_ROWS:
            if self.out_size not in self.out_tables:
                self.out_tables[self.out_size] = OutTable(self.domain, self.consts, previous=self.out_size > 3,
                                                          max_size=self.out_size)
            outs = self.out_tables[self.out_size]
        for init in INITS:
            for start in range(0, len(nodes), chunk):
                self.state.tick()
                part = table[start:start + chunk]
                traj, inside = run_table(part, codes, init - S_RANGE[0], S_RANGE[0])
                self.state.candidates += len(part)
                ceiling = ceilings(traj - S_RANGE[0], codes, target, S_RANGE[1] - S_RANGE[0] + 1,
                                    self.domain.alphabet, previous=self.out_size > 3, exact=self.min >= 1.0)
                if size <= FIRST_SIZE:
                    self._remember(size, init, nodes[start:start + chunk], traj, inside)
                for j in np.flatnonzero(inside & (ceiling >= self.min)):
                    reg = Register("s", init, nodes[start + j])
                    if outs is not None:       # consistent rows: the out is a lookup, then checked
                        self.state.distinct += 1
                        out = outs.match(traj[j] - S_RANGE[0], codes, target, self.min)
                        program = self._checked((reg,), out) if out is not None else None
                    else:
                        program = self._try_registers((reg,), self.out_size, size)
                    if program is not None:
                        return program
                if size <= EXACT_SIZE and self.out_size == OUT_PASSES[0]:
                    program = self._one_exact(size, [nodes[start + j] for j in np.flatnonzero(~inside)], (init,))
                    if program is not None:
                        return program
        return None

    def _remember(self, size: int, init: int, nodes: list[Node], traj: np.ndarray, inside: np.ndarray) -> None:
        """Keep the first distinct trajectories as first registers for the two-register phase."""
        for j in np.flatnonzero(inside):
            if len(self.trajectories) >= FIRSTS:
                return
            if (traj[j] == traj[j][:1, :1]).all():      # a constant register says nothing
                continue
            key = traj[j].tobytes()
            if key not in self.first_seen:
                self.first_seen.add(key)
                self.trajectories.append((size, Register("s", init, nodes[j])))

    def _two(self) -> Stateful | None:
        self.state.phase = "two registers"
        firsts = sorted(self.trajectories, key=lambda t: t[0])[:TWO_FIRSTS]
        points = grid({"r": register_values(9), "s": register_values(9)}, self.domain, letters=8)
        bank = Bank({k: (INT, v) for k, v in points.items()}, self.consts, operators=STEP_OPERATORS,
                    max_terms=8000, level_cap=3000)
        for total in range(2, FIRST_SIZE + STEP_SIZE[1] + 1):
            self.state.level = total
            self.state.tick(force=True)
            for size1, first in firsts:
                size2 = total - size1
                if not 1 <= size2 <= STEP_SIZE[1]:
                    continue
                for node in bank.level(size2, INT).nodes:
                    if "r" not in variables(node):
                        continue
                    for init in INITS:
                        self.state.candidates += 1
                        self.state.tick()
                        program = self._try_registers((first, Register("r", init, node)), OUT_SIZE[1], 0)
                        if program is not None:
                            return program
        return None

    # ---- one candidate's registers -------------------------------------------------------------
    def _try_registers(self, registers: tuple[Register, ...], out_size: int, size: int) -> Stateful | None:
        """Run the registers on a few probe sequences; skip a trajectory seen before or one no
        out can follow; otherwise fit out there and check the program on the whole sample."""
        rows = self.probe[:TABLE_PROBE]
        traj = simulate(registers, self.sample.x[rows], self.names)
        if traj is None:
            return None
        key = b"".join(t.tobytes() for t in traj.values())
        if key in self.seen:
            return None
        self.seen.add(key)
        self.state.distinct += 1
        self.state.figures["trajectories"] += 1
        if len(registers) == 1 and size <= FIRST_SIZE and len(self.trajectories) < FIRSTS \
                and not all((t == t.flat[0]).all() for t in traj.values()):
            self.trajectories.append((size, registers[0]))
        cols = {**self._window_columns(rows, 1 if out_size > 3 else 0), **traj}
        fit = self._fit(cols, rows, out_size)
        return self._checked(registers, fit.node) if fit is not None else None

    def _checked(self, registers: tuple[Register, ...], out: Node) -> Stateful | None:
        """The program if it reaches min_agreement on the whole sample (run exactly)."""
        program = self._program(registers, out)
        score = _agreement(program, self.domain, self.sample)
        self.state.best = max(self.state.best, (score, program.show()))
        return program if score >= self.min else None

    def _program(self, registers: tuple[Register, ...], out: Node) -> Stateful:
        if out.type == BOOL and self.int_output:
            out = App("ite", (Const(1, INT), out, Const(0, INT)), INT)
        program = Stateful(self.names, registers, out, tuple(INT for _ in self.names))
        return program
