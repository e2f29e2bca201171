"""Programs with state: what a recurrent network that answers at every step is turned into.

A `Stateful` program reads a sequence of steps (each step: its `inputs`, e.g. `x`, or `a, b`) and
answers once per step:

    s_0 = init                       (one value per register, before the first step)
    s_t = step(s_(t-1), x_t)         (each register in order: a register's step reads the new
                                      values of the registers before it and the old values of
                                      itself and those after it, as Python's assignments in a loop)
    y_t = out(s_t, x_t)

`step` and `out` are expressions of the `int` DSL over the registers, the step's inputs and the
window terms `<input>_<k>` (the input k steps back, 0 before the sequence starts), so zero
registers and window terms give a sliding-window function. Text form (`show`, `parse`):

    init s = 0; r = 0
    step s = s + x; r = r + s
    out r

Columns for `evaluate` are per input an (n, T) array: n sequences of T steps; values are (n, T).
Exports: `to_python` (a loop, as MIPS prints its programs), `to_numpy` (vectorised over the
sequences), `trace` (every step of one sequence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from dsl.ast import Node, Var, size, variables, walk
from dsl.errors import DSLError
from dsl.evaluate import Evaluation, evaluate
from dsl.export import python_expression
from dsl.language import DSL, get_dsl, is_identifier
from dsl.stateful_numpy import numpy_expression
from dsl.types import BOOL, INT, Type

_WINDOW = re.compile(r"^(?P<name>[A-Za-z_]\w*?)_(?P<lag>[1-9]\d*)$")
MAX_WINDOW = 16


@dataclass(frozen=True)
class Register:
    name: str
    init: int | bool
    step: Node

    @property
    def type(self) -> Type:
        return self.step.type


def window_terms(inputs: Sequence[str], window: int) -> list[str]:
    """The names of the window terms up to `window` steps back: x_1, x_2, ... per input."""
    return [f"{name}_{k}" for k in range(1, window + 1) for name in inputs]


@dataclass(frozen=True)
class Stateful:
    """`init`/`step` per register and one `out` expression (see the module's docstring)."""

    inputs: tuple[str, ...]
    registers: tuple[Register, ...]
    out: Node
    types: tuple[Type, ...] = ()
    dsl: DSL = field(default_factory=lambda: get_dsl("int"), compare=False, repr=False)
    kind: str = "stateful"

    def __post_init__(self) -> None:
        names = set(self.inputs)
        for i, reg in enumerate(self.registers):
            if not is_identifier(reg.name) or reg.name in names or _WINDOW.match(reg.name):
                raise DSLError(f"registers[{i}].name: expected a fresh identifier that is no "
                               f"input and no window term, got {reg.name!r}")
            if type(reg.init) is not (bool if reg.type == BOOL else int):
                raise DSLError(f"registers[{i}].init: expected a {reg.type} value, got {reg.init!r}")
            names.add(reg.name)
        allowed = set(self.variables())
        for where, node in self._nodes():
            unknown = variables(node) - allowed
            if unknown:
                raise DSLError(f"{where}: uses {sorted(unknown)}, expected only {sorted(allowed)}")

    def _nodes(self):
        for i, reg in enumerate(self.registers):
            yield f"registers[{i}].step", reg.step
        yield "out", self.out

    # ---- the Program protocol ----------------------------------------------------------------
    @property
    def window(self) -> int:
        """How many steps back the expressions read (0: only the current step)."""
        lags = [int(m.group("lag")) for _, node in self._nodes() for v in variables(node)
                if (m := _WINDOW.match(v)) and m.group("name") in self.inputs]
        return max(lags, default=0)

    def variables(self, window: int = MAX_WINDOW) -> dict[str, Type]:
        """What step and out may read: inputs, window terms, registers, with their types."""
        types = dict(zip(self.inputs, self.types or (INT,) * len(self.inputs)))
        out = dict(types)
        for k in range(1, window + 1):
            out.update({f"{n}_{k}": t for n, t in types.items()})
        out.update({r.name: r.type for r in self.registers})
        return out

    @property
    def size(self) -> int:
        return size(self.out) + sum(1 + size(r.step) for r in self.registers)

    @property
    def type(self) -> Type:
        return self.out.type

    def show(self) -> str:
        lines = []
        if self.registers:
            lines.append("init " + "; ".join(f"{r.name} = {r.init}" for r in self.registers))
            lines.append("step " + "; ".join(f"{r.name} = {self.dsl.show(r.step)}" for r in self.registers))
        lines.append("out " + self.dsl.show(self.out))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.show()

    def evaluate(self, columns: Mapping[str, np.ndarray]) -> Evaluation:
        """Outputs at every step: columns are input name -> (n, T); values and bad are (n, T).
        A point is bad from the step where a register or the output overflowed int64 on."""
        values, bad, _ = self._run(columns)
        return Evaluation(values, bad)

    def registers_over(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each register's value after every step, (n, T) per register."""
        return self._run(columns)[2]

    def _run(self, columns: Mapping[str, np.ndarray]):
        cols = _columns(self.inputs, columns)
        n, steps = next(iter(cols.values())).shape
        state = {r.name: np.full(n, r.init, dtype=r.type.np_dtype) for r in self.registers}
        history = {r.name: np.zeros((n, steps), dtype=r.type.np_dtype) for r in self.registers}
        values = np.zeros((n, steps), dtype=self.type.np_dtype)
        bad = np.zeros((n, steps), dtype=bool)
        tainted = np.zeros(n, dtype=bool)
        window = self.window
        for t in range(steps):
            env = dict(state)
            for name, col in cols.items():
                env[name] = col[:, t]
                for k in range(1, window + 1):
                    env[f"{name}_{k}"] = col[:, t - k] if t >= k else np.zeros(n, dtype=col.dtype)
            for reg in self.registers:
                e = evaluate(reg.step, env, dsl=self.dsl)
                env[reg.name] = state[reg.name] = e.values
                history[reg.name][:, t] = e.values
                tainted |= e.bad
            e = evaluate(self.out, env, dsl=self.dsl)
            values[:, t] = e.values
            bad[:, t] = tainted | e.bad
        return values, bad, history

    # ---- exports --------------------------------------------------------------------------------
    def to_python(self, name: str = "f") -> str:
        """`def name(xs)`: xs is a list of steps (a value, or a tuple for several inputs); returns
        the list of outputs. Standalone: no import."""
        if not is_identifier(name):
            raise DSLError(f"function name must be an identifier, got {name!r}")
        step = self.inputs[0] if len(self.inputs) == 1 else ", ".join(self.inputs)
        lines = [f"def {name}(xs):", f'    """{self._doc()}"""']
        lines += [f"    {r.name} = {r.init!r}" for r in self.registers]
        lines += [f"    {w} = 0" for w in window_terms(self.inputs, self.window)]
        lines += ["    ys = []", f"    for {step} in xs:"]
        lines += [f"        {r.name} = {python_expression(r.step, dsl=self.dsl)}" for r in self.registers]
        lines.append(f"        ys.append({python_expression(self.out, dsl=self.dsl)})")
        lines += [f"        {_shift_line(n, self.window)}" for n in self.inputs if self.window]
        lines.append("    return ys")
        return "\n".join(lines) + "\n"

    def to_numpy(self, name: str = "f") -> str:
        """`def name(xs)` over numpy: xs is (n, T) (one input) or (n, T, D); returns (n, T).
        Needs `import numpy as np` (included)."""
        if not is_identifier(name):
            raise DSLError(f"function name must be an identifier, got {name!r}")
        w = self.window
        lines = ["import numpy as np", "", "", f"def {name}(xs):", f'    """{self._doc()} (vectorised)"""',
                 "    xs = np.asarray(xs, dtype=np.int64)",
                 "    xs = xs[..., None] if xs.ndim == 2 else xs",
                 "    n, steps = xs.shape[:2]",
                 "    pad = np.concatenate([np.zeros((n, %d, xs.shape[2]), dtype=np.int64), xs], axis=1)" % w]
        lines += [f"    {r.name} = np.full(n, {r.init!r})" for r in self.registers]
        lines += [f"    ys = np.zeros((n, steps), dtype=np.{np.dtype(self.type.np_dtype).name})",
                  "    for t in range(steps):"]
        for d, inp in enumerate(self.inputs):
            lines.append(f"        {inp} = pad[:, t + {w}, {d}]")
            lines += [f"        {inp}_{k} = pad[:, t + {w - k}, {d}]" for k in range(1, w + 1)]
        lines += [f"        {r.name} = {numpy_expression(r.step)}" for r in self.registers]
        lines.append(f"        ys[:, t] = {numpy_expression(self.out)}")
        lines.append("    return ys")
        return "\n".join(lines) + "\n"

    def function(self):
        """The exported Python, compiled: call it with a list of steps."""
        scope: dict[str, Any] = {"__builtins__": {"abs": abs, "min": min, "max": max}}
        exec(compile(self.to_python("f"), "<stateful>", "exec"), scope)  # noqa: S102 (our own source)
        return scope["f"]

    def trace(self, sequence: Sequence[Any]) -> list[dict]:
        """Every step of one sequence: the step's inputs, the registers after it, the output."""
        x = np.asarray(sequence, dtype=np.int64).reshape(len(sequence), -1)
        cols = {n: x[None, :, d] for d, n in enumerate(self.inputs)}
        values, _, regs = self._run(cols)
        rows = []
        for t in range(len(sequence)):
            row = {"t": t, **{n: int(x[t, d]) for d, n in enumerate(self.inputs)}}
            row.update({r: _plain(v[0, t]) for r, v in regs.items()})
            row["y"] = _plain(values[0, t])
            rows.append(row)
        return rows

    def _doc(self) -> str:
        return self.show().replace("\n", "; ")

    # ---- serialisation --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"kind": self.kind, "inputs": list(self.inputs),
                "types": [str(t) for t in (self.types or (INT,) * len(self.inputs))],
                "registers": [{"name": r.name, "init": r.init, "type": str(r.type),
                               "step": self.dsl.show(r.step)} for r in self.registers],
                "out": self.dsl.show(self.out), "text": self.show()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], spec: Any = None) -> "Stateful":
        """Back from `to_dict`; `spec` (optional) gives the inputs' names and types."""
        if not isinstance(data, Mapping) or data.get("kind") != "stateful":
            raise DSLError(f"program: expected a stateful program's dict, got {str(data)[:80]}")
        if spec is not None:
            inputs = {i.name: i.type for i in spec.inputs}
        else:
            inputs = {n: _TYPES[t] for n, t in zip(data["inputs"], data["types"])}
        return cls.parse(data["text"], inputs)

    @classmethod
    def parse(cls, text: str, inputs: Mapping[str, Type], *, dsl: DSL | str = "int") -> "Stateful":
        """Read the text form (`show`); DSLError naming the line that is wrong."""
        language = dsl if isinstance(dsl, DSL) else get_dsl(dsl)
        parts: dict[str, str] = {}
        for line in text.strip().splitlines():
            key, _, rest = line.strip().partition(" ")
            if key not in ("init", "step", "out") or key in parts:
                raise DSLError(f"stateful program: expected lines 'init', 'step', 'out' once each, got {line!r}")
            parts[key] = rest.strip()
        if "out" not in parts or ("init" in parts) != ("step" in parts):
            raise DSLError(f"stateful program: needs an 'out' line, and 'init' with 'step', got {text!r}")
        inits = _assignments(parts.get("init", ""), "init")
        steps = _assignments(parts.get("step", ""), "step")
        names = [n for n, _ in steps]
        if sorted(n for n, _ in inits) != sorted(names) or len(set(names)) != len(names):
            raise DSLError(f"stateful program: init names {[n for n, _ in inits]} and step names "
                           f"{names} differ (each register once in each)")
        env: dict[str, Type] = dict(inputs)
        for k in range(1, MAX_WINDOW + 1):
            env.update({f"{n}_{k}": t for n, t in inputs.items()})
        init_values = {n: _literal(v, n) for n, v in inits}
        env.update({n: BOOL if isinstance(v, bool) else INT for n, v in init_values.items()})
        registers = []
        for name, source in steps:
            node = language.parse(source, env)
            if node.type != env[name]:
                raise DSLError(f"step {name}: its value is {node.type} but its init is {env[name]}")
            registers.append(Register(name, init_values[name], node))
        out = language.parse(parts["out"], env)
        return cls(tuple(inputs), tuple(registers), out, tuple(inputs.values()), language)


_TYPES = {"int": INT, "bool": BOOL}


def _assignments(text: str, where: str) -> list[tuple[str, str]]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, eq, value = part.partition("=")
        if not eq or not is_identifier(name.strip()):
            raise DSLError(f"stateful program: {where}: expected 'name = value', got {part!r}")
        out.append((name.strip(), value.strip()))
    return out


def _literal(text: str, name: str) -> int | bool:
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        raise DSLError(f"stateful program: init {name}: expected an int or True/False, got {text!r}") from None


def _columns(inputs: Sequence[str], columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    cols = {}
    for name in inputs:
        if name not in columns:
            raise DSLError(f"no values given for input {name!r}")
        col = np.asarray(columns[name])
        if col.ndim != 2:
            raise DSLError(f"input {name!r}: expected an (n, T) array of sequences, got shape {col.shape}")
        cols[name] = col.astype(np.int64) if col.dtype != bool else col
    shapes = {c.shape for c in cols.values()}
    if len(shapes) != 1:
        raise DSLError(f"inputs: expected one (n, T) shape for all inputs, got {sorted(shapes)}")
    return cols


def _shift_line(name: str, window: int) -> str:
    names = [f"{name}_{k}" for k in range(window, 0, -1)]
    values = [f"{name}_{k - 1}" if k > 1 else name for k in range(window, 0, -1)]
    return f"{', '.join(names)} = {', '.join(values)}"


def _plain(value: Any) -> int | bool:
    return bool(value) if isinstance(value, np.bool_) else int(value)


def uses(node: Node, name: str) -> bool:
    return any(isinstance(n, Var) and n.name == name for n in walk(node))
