"""An automaton program (kind "automaton"): a complete deterministic finite automaton over the
steps of a sequence, with an output per state (a DFA for a bool output, a Moore machine for a
small int one). The answer for a word is the output of the state reached after its last step.

- `letters[i]` is the step that letter i stands for: one value per input (`inputs`, the spec's
  step inputs, in order); `transitions[q][i]` is the state after letter i in state q; `outputs[q]`
  is state q's answer (bool or int); `initial` is the start state.
- `evaluate(columns)`: columns map each input to an (n, T) array of its step values (n words of T
  steps), or to a list of n 1-D arrays (words of different lengths); a step that is no letter
  makes its word `bad`.
- `minimal()`: the unique minimal automaton of the same answers (unreachable states dropped,
  equivalent states merged by partition refinement), its states numbered in breadth-first order
  from the start over the letters, so two automata of the same language compare equal.
- `show()` is a transition table, `to_python()` a function with a transition dict and a loop,
  `to_dict()`/`from_dict()` JSON, `to_regex()` a regular expression when the automaton is small
  (greenery), `to_svg()` a state diagram (Graphviz), `to_dot()` its DOT source.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from dsl.errors import DSLError
from dsl.evaluate import Evaluation
from dsl.types import BOOL, INT, Type, type_named

REGEX_STATES = 12      # to_regex only for automata of at most this many states
REGEX_CHARS = 400      # and only when the expression is at most this long
MAX_STATES = 100_000


@dataclass(frozen=True)
class Automaton:
    inputs: tuple[str, ...]
    letters: tuple[tuple[int, ...], ...]
    transitions: tuple[tuple[int, ...], ...]
    outputs: tuple[Any, ...]
    initial: int = 0
    output_type: Type = BOOL
    kind: str = "automaton"

    def __post_init__(self) -> None:
        n, k = len(self.transitions), len(self.letters)
        if not 1 <= n <= MAX_STATES or len(self.outputs) != n:
            raise DSLError(f"automaton.transitions: expected 1..{MAX_STATES} states with one output each, "
                           f"got {n} states and {len(self.outputs)} outputs")
        if not 0 <= self.initial < n:
            raise DSLError(f"automaton.initial: expected a state in 0..{n - 1}, got {self.initial!r}")
        if len(set(self.letters)) != k or any(len(a) != len(self.inputs) for a in self.letters):
            raise DSLError(f"automaton.letters: expected distinct steps of {len(self.inputs)} values, "
                           f"got {list(self.letters)[:8]}")
        for q, row in enumerate(self.transitions):
            if len(row) != k or not all(isinstance(r, int) and 0 <= r < n for r in row):
                raise DSLError(f"automaton.transitions[{q}]: expected {k} states in 0..{n - 1}, got {list(row)}")

    # ---- the Program protocol ---------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self.transitions)

    @property
    def type(self) -> Type:
        return self.output_type

    def evaluate(self, columns: Mapping[str, Any]) -> Evaluation:
        """The answer for each word (see the module's docstring for `columns`)."""
        if set(columns) != set(self.inputs):
            raise DSLError(f"evaluate: expected columns {list(self.inputs)}, got {list(columns)}")
        first = columns[self.inputs[0]]
        if isinstance(first, np.ndarray) and first.ndim == 2:
            codes, bad = self._codes([np.asarray(columns[name]) for name in self.inputs])
            return self._finish(self._run(codes), bad.any(axis=1))
        n = len(first)
        values, bad = np.empty(n, self.output_type.np_dtype), np.zeros(n, bool)
        for j in range(n):  # ragged: one word at a time
            word = [np.asarray(columns[name][j]).reshape(1, -1) for name in self.inputs]
            ev = self.evaluate(dict(zip(self.inputs, word)))
            values[j], bad[j] = ev.values[0], ev.bad[0]
        return Evaluation(values, bad)

    def show(self) -> str:
        """The transition table: one row per state, one column per letter; `>` marks the start."""
        heads = [self._letter_text(a) for a in self.letters]
        rows = [["state", *heads, "output"]]
        for q, row in enumerate(self.transitions):
            rows.append([(">" if q == self.initial else " ") + f"q{q}", *(f"q{r}" for r in row),
                         _value_text(self.outputs[q])])
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join(lines)

    def to_python(self, name: str = "f") -> str:
        """`def name(word)`: word is a sequence of steps (a step is its value for one input, a
        tuple of values for several); KeyError for a step that is no letter."""
        single = len(self.inputs) == 1
        key = (lambda a: a[0]) if single else (lambda a: a)
        delta = {(q, key(a)): r for q, row in enumerate(self.transitions) for a, r in zip(self.letters, row)}
        step = self.inputs[0] if single else "(" + ", ".join(self.inputs) + ")"
        return "\n".join([
            f"def {name}(word):",
            f'    """{self.size}-state automaton; each step of word is {step}."""',
            f"    delta = {delta!r}",
            f"    output = {dict(enumerate(self.outputs))!r}",
            f"    state = {self.initial}",
            "    for step in word:",
            "        state = delta[state, step]",
            "    return output[state]",
            ""])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "inputs": list(self.inputs), "letters": [list(a) for a in self.letters],
                "initial": self.initial, "outputs": list(self.outputs),
                "transitions": [list(r) for r in self.transitions], "output_type": self.output_type.name}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], spec: Any = None) -> "Automaton":
        """The automaton of `to_dict()`; DSLError naming the field when it is malformed or does
        not fit `spec`'s step inputs."""
        for key in ("inputs", "letters", "outputs", "transitions"):
            if not isinstance(data.get(key), list):
                raise DSLError(f"automaton.{key}: expected a list, got {data.get(key)!r:.80}")
        try:
            out_type = type_named(data.get("output_type", "bool"))
        except KeyError as e:
            raise DSLError(f"automaton.output_type: {e.args[0]}") from None
        cast = bool if out_type == BOOL else int
        if not all(isinstance(v, (bool, int)) for v in data["outputs"]):
            raise DSLError(f"automaton.outputs: expected bools or ints, got {data['outputs'][:8]!r}")
        if not all(isinstance(a, list) and all(_is_int(v) for v in a) for a in data["letters"]):
            raise DSLError(f"automaton.letters: expected lists of ints, got {data['letters'][:8]!r}")
        if not all(isinstance(r, list) for r in data["transitions"]):
            raise DSLError("automaton.transitions: expected one list of states per state")
        inputs = tuple(data["inputs"])
        if spec is not None and inputs != tuple(spec.input_names):
            raise DSLError(f"automaton.inputs: expected the spec's step inputs {list(spec.input_names)}, "
                           f"got {list(inputs)}")
        initial = data.get("initial", 0)
        if not _is_int(initial):
            raise DSLError(f"automaton.initial: expected an int, got {initial!r}")
        return cls(inputs, tuple(tuple(a) for a in data["letters"]),
                   tuple(tuple(r) for r in data["transitions"]), tuple(cast(v) for v in data["outputs"]),
                   initial, out_type)

    def __str__(self) -> str:
        return self.show()

    # ---- automata ---------------------------------------------------------------------------

    def run(self, word: Sequence[int]) -> Any:
        """The answer for a word given as letter indices."""
        state = self.initial
        for a in word:
            state = self.transitions[state][a]
        return self.outputs[state]

    def minimal(self) -> "Automaton":
        """The minimal automaton with the same answers, states in breadth-first order."""
        order = self._reachable()
        # Moore's partition refinement: split blocks by (output, blocks of the successors)
        block = {q: self.outputs[q] for q in order}
        while True:
            signature = {q: (block[q], tuple(block[r] for r in self.transitions[q])) for q in order}
            names: dict[Any, int] = {}
            refined = {q: names.setdefault(signature[q], len(names)) for q in order}
            if len(names) == len(set(block.values())):
                block = refined
                break
            block = refined
        reps: dict[int, int] = {}
        for q in order:
            reps.setdefault(block[q], q)
        merged = Automaton(self.inputs, self.letters,
                           tuple(tuple(block[r] for r in self.transitions[reps[b]]) for b in range(len(reps))),
                           tuple(self.outputs[reps[b]] for b in range(len(reps))), block[self.initial],
                           self.output_type)
        return merged._renumbered()

    def _reachable(self) -> list[int]:
        """States reachable from the start, in breadth-first order over the letters."""
        seen, order, queue = {self.initial}, [self.initial], deque([self.initial])
        while queue:
            q = queue.popleft()
            for r in self.transitions[q]:
                if r not in seen:
                    seen.add(r)
                    order.append(r)
                    queue.append(r)
        return order

    def _renumbered(self) -> "Automaton":
        order = self._reachable()
        new = {q: i for i, q in enumerate(order)}
        return Automaton(self.inputs, self.letters, tuple(tuple(new[r] for r in self.transitions[q]) for q in order),
                         tuple(self.outputs[q] for q in order), 0, self.output_type)

    def to_regex(self) -> str | None:
        """A regular expression of the words answered True (letters written as their values, one
        input of values 0..9), or None when the automaton is not such a DFA or the expression
        would be long (more than REGEX_STATES states or REGEX_CHARS characters)."""
        chars = self._chars()
        if self.output_type != BOOL or chars is None or self.size > REGEX_STATES:
            return None
        from greenery import Charclass, Fsm
        from greenery.rxelems import from_fsm

        classes = [Charclass(c) for c in chars]
        other = ~Charclass("".join(chars))
        sink = self.size
        table = {q: {**{c: r for c, r in zip(classes, row)}, other: sink} for q, row in enumerate(self.transitions)}
        table[sink] = {c: sink for c in [*classes, other]}
        fsm = Fsm(alphabet={*classes, other}, states=set(table), initial=self.initial,
                  finals={q for q, out in enumerate(self.outputs) if out}, map=table)
        if not any(self.outputs[q] for q in self._reachable()):
            return "(?!)"  # the empty language (greenery writes "[]", which Python's re cannot read)
        text = str(from_fsm(fsm).reduce())
        return text if len(text) <= REGEX_CHARS else None

    def to_svg(self) -> str:
        """The state diagram as SVG text (Graphviz `dot`): double circles accept (bool output) or
        states show their output (int), an arrow marks the start, parallel edges are merged."""
        return self._graph().pipe(format="svg", encoding="utf-8")

    def to_dot(self) -> str:
        """The state diagram's DOT source (what `to_svg` renders; needs no `dot` binary)."""
        return self._graph().source

    def _graph(self) -> Any:
        import graphviz

        g = graphviz.Digraph(graph_attr={"rankdir": "LR"}, node_attr={"fontname": "Helvetica"},
                             edge_attr={"fontname": "Helvetica"})
        g.node("start", "", shape="none", width="0")
        for q in range(self.size):
            out = self.outputs[q]
            if self.output_type == BOOL:
                g.node(f"q{q}", f"q{q}", shape="doublecircle" if out else "circle")
            else:
                g.node(f"q{q}", f"q{q} / {out}", shape="circle")
        g.edge("start", f"q{self.initial}")
        for q, row in enumerate(self.transitions):
            labels: dict[int, list[str]] = {}
            for a, r in zip(self.letters, row):
                labels.setdefault(r, []).append(self._letter_text(a))
            for r, texts in labels.items():
                g.edge(f"q{q}", f"q{r}", label=", ".join(texts))
        return g

    # ---- helpers ----------------------------------------------------------------------------

    def _chars(self) -> list[str] | None:
        if len(self.inputs) == 1 and all(0 <= a[0] <= 9 for a in self.letters):
            return [str(a[0]) for a in self.letters]
        return None

    def _letter_text(self, a: tuple[int, ...]) -> str:
        if len(self.inputs) == 1:
            return f"{self.inputs[0]}={a[0]}"
        return "(" + ", ".join(f"{n}={v}" for n, v in zip(self.inputs, a)) + ")"

    def _codes(self, arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Letter indices (n, T) of the steps, and where a step is no letter: each step's values
        numbered in mixed radix over the letters' value ranges, looked up in a dense table."""
        letters = np.array(self.letters, np.int64)                       # (k, D)
        lo, hi = letters.min(axis=0), letters.max(axis=0)
        widths = hi - lo + 1
        if float(np.prod(widths.astype(np.float64))) > 2**22:  # sparse letters: one dict lookup per distinct step
            steps = np.stack([a.astype(np.int64) for a in arrays], axis=-1)
            flat = steps.reshape(-1, steps.shape[-1])
            uniq, inverse = np.unique(flat, axis=0, return_inverse=True)
            lookup = {a: i for i, a in enumerate(self.letters)}
            codes = np.array([lookup.get(tuple(row), -1) for row in uniq.tolist()], np.int64)[inverse.ravel()]
            codes = codes.reshape(arrays[0].shape)
            return np.maximum(codes, 0), codes < 0
        strides = np.concatenate([np.cumprod(widths[::-1])[::-1][1:], [1]]).astype(np.int64)
        table = np.full(int(np.prod(widths)), -1, np.int64)
        table[(letters - lo) @ strides] = np.arange(len(letters))
        key = np.zeros(arrays[0].shape, np.int64)
        outside = np.zeros(arrays[0].shape, bool)
        for j, a in enumerate(arrays):
            a = a.astype(np.int64)
            outside |= (a < lo[j]) | (a > hi[j])
            key += (np.clip(a, lo[j], hi[j]) - lo[j]) * strides[j]
        codes = np.where(outside, -1, table[key])
        return np.maximum(codes, 0), codes < 0

    def _run(self, codes: np.ndarray) -> np.ndarray:
        table = np.array(self.transitions, np.int64)
        state = np.full(len(codes), self.initial, np.int64)
        for t in range(codes.shape[1]):
            state = table[state, codes[:, t]]
        return state

    def _finish(self, state: np.ndarray, bad: np.ndarray) -> Evaluation:
        outputs = np.array(self.outputs, self.output_type.np_dtype)
        return Evaluation(outputs[state], bad)


def _value_text(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "accept" if v else "reject"
    return str(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


__all__ = ["Automaton", "INT", "BOOL"]
