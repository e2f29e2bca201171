"""Search a function that splits (synth/intprobes/separability.py) part by part, and join them.

`attempt` probes the problem's network over its inputs, then over the bits of its `bits`-encoded
inputs, under `^`, `|` and `+` (modulo 2^W for a W-bit DSL), and keeps the split with the most
parts (at most `MAX_PARTS`). Each part is a function of its group's inputs (the other inputs at
the base point, bits outside the group 0), with its own spec (the group's inputs, the part's
output range, the group's bit positions and masks as constants) and oracle, searched by the
ordinary search on its share of the time left. Parts of inputs the network is symmetric in are
searched once and renamed. The joined program (`p1 op p2 op ... [op f(base)]`) is kept only if
it agrees with the network on the whole domain (or its check sample).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from dsl.ast import App, Const, Node, Var
from dsl.types import INT
from synth.intprobes import separability as sep

MAX_PARTS = 8
OPERATOR = {"+": "add", "^": "bitxor", "|": "bitor"}


@dataclass(frozen=True)
class Decomposed:
    program: Node | None      # the joined program, right on the domain; None when a part failed
    split: sep.Split
    parts: tuple[tuple[str, Node | None], ...]     # (group label, its program)
    notes: tuple[str, ...]


def find_split(problem, *, seed: int = 0) -> tuple[sep.Split | None, list[str]]:
    """The split with the most parts (inputs first, then bits), and notes on what was probed."""
    spec, oracle = problem.spec, problem.oracle
    width = getattr(problem.dsl, "width", None)
    modulus = (1 << width) if width else None
    notes, best = [], None
    for level in ("inputs", "bits"):
        for op in sep.OPS:
            split = sep.probe(spec, oracle, op=op, level=level, modulus=modulus, seed=seed)
            if split is not None and (best is None or len(split.groups) > len(best.groups)):
                best = split
        if best is not None:
            break
    names = [i.name for i in spec.inputs if i.type == INT]
    pairs = [(a, b) for k, a in enumerate(names) for b in names[k + 1:]
             if sep.symmetric(spec, oracle, a, b, seed=seed)]
    if pairs:
        notes.append("symmetric in " + ", ".join(f"{a} and {b}" for a, b in pairs))
    if best is None:
        notes.append("no split over the inputs or their bits under ^, | or +")
    elif best.over() == "bits" and len({_inputs(g) for g in best.groups}) > 1:
        best = _coarsen(best)      # the bits of each input (or inputs) together
    if best is not None and len(best.groups) > MAX_PARTS:
        notes.append(f"{best.describe()}: more than {MAX_PARTS} parts, not searched apart")
        best = None
    return best, notes


def _inputs(group) -> tuple[str, ...]:
    return tuple(sorted({c.name for c in group}))


def _coarsen(split: sep.Split) -> sep.Split:
    """The split with the groups over the same inputs merged: (x >> 1) + (y >> 1) + (x & y & 1)
    rather than fifteen single bits. Unions of parts are parts, so the split still holds."""
    merged: dict[tuple[str, ...], list] = {}
    for g in split.groups:
        merged.setdefault(_inputs(g), []).extend(g)
    return dataclasses.replace(split, groups=tuple(tuple(g) for g in merged.values()))


def attempt(problem, *, options, run, cancel=None, executor=None) -> Decomposed:
    """The decomposed search of `problem` (`program` None when its network does not split or a
    part was not found). `run` is synth.search.run (passed in: the search calls this module);
    `options.timeout` is the time the parts share."""
    from synth.problem import Problem

    began = time.monotonic()
    split, notes = find_split(problem, seed=options.seed)
    if split is None:
        return Decomposed(None, None, (), tuple(notes))
    notes.append(f"decomposition: {split.describe()}")
    symmetric = {tuple(p.split(" and ")) for n in notes if n.startswith("symmetric in ")
                 for p in n[len("symmetric in "):].split(", ")}
    done: dict[str, Node] = {}
    parts: list[tuple[str, Node | None]] = []
    for k, group in enumerate(split.groups):
        label = sep.label(group)
        twin = _twin(group, done, symmetric, split)
        if twin is not None:
            parts.append((label, twin))
            notes.append(f"part {{{label}}}: {problem.dsl.show(twin)} (by symmetry)")
            continue
        left = None if options.timeout is None else options.timeout - (time.monotonic() - began)
        if left is not None and left <= 0 or cancel is not None and cancel.is_set():
            parts.append((label, None))
            notes.append(f"part {{{label}}}: not searched (time or cancel)")
            break
        share = None if left is None else left / (len(split.groups) - k)
        part_spec, part_oracle, values = _part(problem, split, group)
        if not values.any():            # the network ignores these coordinates
            notes.append(f"part {{{label}}}: always 0, left out")
            continue
        sub = Problem.from_spec(part_spec, part_oracle, discover=False)
        result = run(sub, options=dataclasses.replace(options, timeout=share), cancel=cancel,
                     executor=executor)
        program = result.program if result.accepted else None
        parts.append((label, program))
        if program is None:
            notes.append(f"part {{{label}}}: not found ({result.stop_reason.value})")
            break
        if len(group) == 1 and group[0].mask is None:
            done[group[0].name] = program
        notes.append(f"part {{{label}}}: {problem.dsl.show(program)}")
    if any(p is None for _, p in parts) or not parts:
        return Decomposed(None, split, tuple(parts), tuple(notes))
    return Decomposed(join(split, [p for _, p in parts], problem.target_type), split,
                      tuple(parts), tuple(notes))


def join(split: sep.Split, programs: list[Node], typ) -> Node:
    """p1 op p2 op ... op f(base) (the constant left out when it is the operator's unit)."""
    op = OPERATOR[split.op]
    node = programs[0]
    for p in programs[1:]:
        node = App(op, (node, p), typ)
    if split.op != "|" and split.constant != 0:
        node = App(op, (node, Const(split.constant, INT)), typ)
    return node


def _twin(group, done, symmetric, split) -> Node | None:
    """The program of a part already found for an input this part's input is symmetric with."""
    if len(group) != 1 or group[0].mask is not None:
        return None
    name = group[0].name
    for other, program in done.items():
        if ((other, name) in symmetric or (name, other) in symmetric) and \
                split.base[other] == split.base[name]:
            return _rename(program, other, name)
    return None


def _rename(node: Node, old: str, new: str) -> Node:
    if isinstance(node, Var):
        return Var(new, node.type) if node.name == old else node
    if isinstance(node, App):
        return App(node.op, tuple(_rename(a, old, new) for a in node.args), node.type)
    return node


class PartOracle:
    """The oracle of one part: the network at the base point with the group's coordinates
    from the query, less f(base) (`separability.unmix`)."""

    def __init__(self, spec, parent, split: sep.Split, group) -> None:
        self.spec, self.parent, self.split, self.group = spec, parent, split, group
        self.calls = self.points = 0

    def query(self, columns) -> np.ndarray:
        points = {k: np.asarray(v, np.int64) for k, v in columns.items()}
        self.calls += 1
        self.points += len(next(iter(points.values())))
        full = {**{k: points.get(k, np.int64(v)) for k, v in self.split.base.items()}}
        n = len(next(iter(points.values())))
        full = {k: np.broadcast_to(v, (n,)).copy() for k, v in full.items()}
        return sep.part_values(self.parent, self.split, self.group, full)


def _part(problem, split: sep.Split, group) -> tuple:
    """(spec, oracle, values on the domain) of the part of `group`: its inputs, its output
    range, and as constants the group's bit positions and masks."""
    spec = problem.spec
    names = list(dict.fromkeys(c.name for c in group))
    inputs = tuple(i for i in spec.inputs if i.name in names)
    masks = [c.mask for c in group if c.mask is not None]
    constants = {*spec.constants, *masks, *(m.bit_length() - 1 for m in masks)}
    part_spec = dataclasses.replace(spec, inputs=inputs, reference=None, family_given=None,
                                    constants=tuple(sorted(constants)))
    oracle = PartOracle(part_spec, problem.oracle, split, group)
    values = oracle.query(sep.domain_points(part_spec, np.random.default_rng(0)))
    output = dataclasses.replace(spec.output, lo=int(values.min()), hi=int(values.max()))
    part_spec = dataclasses.replace(part_spec, output=output)
    oracle.spec = part_spec
    return part_spec, oracle, values
