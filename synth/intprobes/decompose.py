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

from dsl.ast import App, Const, Node, Var, size
from dsl.types import INT
from synth.intprobes import separability as sep

MAX_PARTS = 8
OPERATOR = {"+": "add", "^": "bitxor", "|": "bitor"}
MEET_SECONDS = 25.0           # the look for a smaller whole program met in the middle (meet.py)


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
        program = _one_bit(problem, options, group, part_spec, values)
        if program is not None:
            parts.append((label, program))
            notes.append(f"part {{{label}}}: {problem.dsl.show(program)} (one bit, read off)")
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
    notes = _summarised(notes, split, parts, problem.dsl)
    program = join(split, [p for _, p in parts], problem.target_type)
    left = MEET_SECONDS if options.timeout is None else \
        min(MEET_SECONDS, options.timeout - (time.monotonic() - began))
    if left > 0.5 and (cancel is None or not cancel.is_set()):
        from synth.intprobes import meet

        found = meet.smaller(problem, options, size(program), executor=executor, cancel=cancel,
                             deadline=time.monotonic() + left)
        if found is not None:
            notes.append(f"the decomposition joined: {problem.dsl.show(program)} "
                         f"(size {size(program)})")
            program, note = found
            notes.append(note)
    return Decomposed(program, split, tuple(parts), tuple(notes))


#: How each join reads as a formula over its parts.
FOLD = {"+": "sum", "^": "xor", "|": "or"}


def formula(split: sep.Split, parts, dsl) -> str | None:
    """The decomposition as one line when its parts are one program in the bit index: each
    group one bit of the same input, and one part's program, its bit position made a variable
    i, equal to every other part's on the part's domain. E.g. popcount: `sum over i in 0..7 of
    (x >>u i & 1)`. None otherwise (the parts are then listed one by one)."""
    bits = [(g[0].name, g[0].mask.bit_length() - 1) for g, _ in zip(split.groups, parts)
            if len(g) == 1 and g[0].mask is not None]
    if len(bits) != len(parts) or len(parts) < 3 or len({n for n, _ in bits}) != 1:
        return None
    name = bits[0][0]
    programs = {k: p for (_, k), (_, p) in zip(bits, parts)}
    xs = np.arange(2 << max(programs), dtype=np.int64)       # every value of the bits in play
    for k, program in programs.items():     # the template: a part whose position shows once
        if k < 2 or _count(program, k) != 1:
            continue
        if all(np.array_equal(_values(_put(program, k, j), name, xs, dsl),
                              _values(p, name, xs, dsl)) for j, p in programs.items()):
            shown = dsl.show(_put(program, k, "i"))
            lo, hi = min(programs), max(programs)
            over = f"i in {lo}..{hi}" if sorted(programs) == list(range(lo, hi + 1)) else \
                f"i in {{{', '.join(map(str, sorted(programs)))}}}"
            constant = f" {split.op} {split.constant}" if split.op != "|" and split.constant else ""
            return f"{FOLD[split.op]} over {over} of ({shown}){constant}"
    return None


def _summarised(notes: list[str], split, parts, dsl) -> list[str]:
    """The notes with the parts' lines replaced by the formula, when the parts have one."""
    line = formula(split, parts, dsl)
    if line is None:
        return notes
    return [f"decomposition found: {line}; {split.describe_short()}" if n.startswith(
        "decomposition: ") else n for n in notes if not n.startswith("part {")]


def _count(node: Node, value: int) -> int:
    if isinstance(node, Const):
        return int(node.value == value and not isinstance(node.value, bool))
    return sum(_count(a, value) for a in getattr(node, "args", ()))


def _put(node: Node, old: int, new) -> Node:
    """`node` with its literal `old` replaced by the literal `new`, or by the variable i."""
    if isinstance(node, Const) and node.value == old and not isinstance(node.value, bool):
        return Var("i", INT) if new == "i" else Const(new, INT)
    if isinstance(node, App):
        return App(node.op, tuple(_put(a, old, new) for a in node.args), node.type)
    return node


def _values(program: Node, name: str, xs: np.ndarray, dsl) -> np.ndarray:
    from dsl.evaluate import evaluate

    got = evaluate(program, {name: xs}, dsl=dsl)
    return np.where(got.bad, -1, got.values) if got.bad is not None else got.values


def _one_bit(problem, options, group, part_spec, values: np.ndarray) -> Node | None:
    """The part of a single bit k of x whose value is c when the bit is set and 0 when not, read
    off without a search: `x >>u k & 1`, `x & 2^k` or `(x >>u k & 1) * c`, the first the DSL's
    allowed operators can write; checked on the part's domain. None for any other part."""
    if len(group) != 1 or group[0].mask is None or problem.target_type != INT:
        return None
    from dsl.evaluate import evaluate
    from synth.search import operators

    name, mask = group[0].name, group[0].mask
    k, c = mask.bit_length() - 1, int(values.max())
    allowed = operators(problem.dsl, options.ops)
    x = Var(name, INT)
    bit = x if k == 0 else App("lshr", (x, Const(k, INT)), INT)
    bit = App("bitand", (bit, Const(1, INT)), INT)
    if c == 1:
        program, needs = bit, {"bitand"} | ({"lshr"} if k else set())
    elif c == mask:
        program, needs = App("bitand", (x, Const(mask, INT)), INT), {"bitand"}
    else:
        program, needs = App("mul", (bit, Const(c, INT)), INT), {"bitand", "mul"} | (
            {"lshr"} if k else set())
    if not needs <= allowed:
        return None
    points = sep.domain_points(part_spec, np.random.default_rng(0))
    got = evaluate(program, points, dsl=problem.dsl)
    ok = (got.bad is None or not got.bad.any()) and np.array_equal(got.values, values)
    return program if ok else None


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
