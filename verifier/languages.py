"""What an automaton is compared with: a reference language, and the exact comparison of two DFAs.

`reference_of(text, automaton)` reads a spec's reference for a sequence classifier:
- a DFA as JSON text (`{"letters": ..., "transitions": ..., ...}`, `Automaton.to_dict()`'s form):
  an `Automaton`;
- a regular expression (Python's syntax for the regular part: literals, classes, groups, `|`,
  `*`, `+`, `?`, `{m,n}`; greenery parses it), over the letters written as their values (one input
  of values 0..9: the word 0110 is the text "0110"): an `Automaton`;
- a Python predicate, `lambda w: ...`, over the same text (or, for other alphabets, over a tuple
  of steps: a step is its value for one input, a tuple of values for several): a `Predicate`.
  Predicates are evaluated, so they are checked before: only a small expression language passes
  (comparisons, boolean and arithmetic operators but no `*`, `**` or shifts, conditional
  expressions, comprehensions, subscripts and slices, str methods such as `count`, `startswith`,
  and len, sum, any, all, min, max, abs, range, zip, set, sorted, str, int, tuple, list, bool; int
  constants up to 10^4, strings up to 100 characters); anything else is a DSLError naming it.

`check_reference(text, spec)` reads a sequence spec's reference before any program exists (what a
door such as the job API checks on submission).

`difference(a, b, min_len)` decides whether two automata over the same letters answer alike on
every word of at least `min_len` letters, by a breadth-first search of their product: None, or the
shortest word where they differ.
"""

from __future__ import annotations

import ast
import json
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from dsl.automaton import Automaton
from dsl.errors import DSLError
from dsl.types import BOOL

SAFE_FUNCTIONS = frozenset({"len", "sum", "any", "all", "min", "max", "abs", "range", "zip", "set", "sorted",
                            "str", "int", "tuple", "list", "bool", "enumerate", "reversed"})
STR_METHODS = frozenset({"count", "startswith", "endswith", "find", "rfind", "index", "split", "replace",
                         "strip", "lstrip", "rstrip", "join", "isdigit"})
SAFE_NODES = (ast.Expression, ast.Lambda, ast.arguments, ast.arg, ast.Name, ast.Load, ast.Store, ast.Constant,
              ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.Call, ast.Attribute, ast.Subscript,
              ast.Slice, ast.Tuple, ast.List, ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.comprehension,
              ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, ast.Add, ast.Sub, ast.Mod, ast.FloorDiv,
              ast.BitAnd, ast.BitOr, ast.BitXor, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In,
              ast.NotIn, ast.Is, ast.IsNot)
MAX_CONSTANT = 10**4


@dataclass(frozen=True)
class Predicate:
    """A reference given as a Python predicate over a word's text (or tuple of steps)."""

    text: str
    function: Callable[[Any], Any]
    as_text: bool                 # words are passed as text (one input of values 0..9)

    def __call__(self, word: Any) -> Any:
        return self.function(word)


def word_form(automaton: Automaton, word: Sequence[int]) -> Any:
    """The word (letter indices) as a predicate sees it: text, or a tuple of steps."""
    steps = [automaton.letters[a] for a in word]
    if _text_letters(automaton):
        return "".join(str(s[0]) for s in steps)
    return tuple(s[0] if len(s) == 1 else s for s in steps)


def reference_of(text: str, automaton: Automaton) -> Automaton | Predicate:
    """The reference that `text` states, over `automaton`'s inputs and letters (see the module)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as e:
            raise DSLError(f"reference: expected a DFA as JSON, got text that does not parse ({e})") from None
        ref = Automaton.from_dict({"inputs": list(automaton.inputs), **data})
        if set(ref.letters) != set(automaton.letters):
            raise DSLError(f"reference.letters: expected the steps {[list(a) for a in automaton.letters]}, "
                           f"got {[list(a) for a in ref.letters]}")
        order = [ref.letters.index(a) for a in automaton.letters]
        return Automaton(automaton.inputs, automaton.letters,
                         tuple(tuple(row[i] for i in order) for row in ref.transitions), ref.outputs,
                         ref.initial, ref.output_type)
    if stripped.startswith("lambda"):
        return _predicate(stripped, _text_letters(automaton))
    return _regex(stripped, automaton)


def check_reference(text: str, spec: Any) -> Automaton | Predicate:
    """Read a sequence spec's reference without a network or a program (for a door checking a
    spec before it runs anything): DSLError naming what is wrong, else the reference."""
    from oracle.domains import IntegerLattice

    step = spec.domain().step
    if not isinstance(step, IntegerLattice) or step.size > 4096:
        raise DSLError(f"reference: an automaton's reference needs int or bool steps of at most 4096 "
                       f"values, got a step domain of {step.size} points")
    letters = tuple(tuple(int(v) for v in row) for row in step.points(limit=4096).tolist())
    output_type = spec.output.type
    blank = Automaton(tuple(spec.input_names), letters, ((0,) * len(letters),),
                      (False,) if output_type == BOOL else (int(spec.output.lo),), 0, output_type)
    return reference_of(text, blank)


def difference(a: Automaton, b: Automaton, min_len: int = 1) -> tuple[int, ...] | None:
    """The shortest word of at least `min_len` letters that `a` and `b` answer differently, or None
    when there is none (their product, searched breadth-first, the length counted up to min_len)."""
    start = (a.initial, b.initial, 0)
    parent: dict[tuple[int, int, int], tuple[Any, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        p, q, n = node
        if n >= min_len and a.outputs[p] != b.outputs[q]:
            word = []
            while parent[node] is not None:
                node, letter = parent[node]
                word.append(letter)
            return tuple(reversed(word))
        for letter in range(len(a.letters)):
            nxt = (a.transitions[p][letter], b.transitions[q][letter], min(n + 1, min_len))
            if nxt not in parent:
                parent[nxt] = (node, letter)
                queue.append(nxt)
    return None


def _text_letters(automaton: Automaton) -> bool:
    return len(automaton.inputs) == 1 and all(0 <= a[0] <= 9 for a in automaton.letters)


def _regex(text: str, automaton: Automaton) -> Automaton:
    if automaton.output_type != BOOL or not _text_letters(automaton):
        raise DSLError(f"reference: a regular expression needs a bool answer and one input of values 0..9 "
                       f"(its letters are the digits), got {text!r:.80}")
    from greenery import parse

    try:
        fsm = parse(text).to_fsm()
    except Exception as e:  # greenery's NoMatch and friends
        raise DSLError(f"reference: cannot read {text!r:.80} as a regular expression ({type(e).__name__}: {e})") from None
    states = sorted(fsm.states, key=repr)
    index = {s: i for i, s in enumerate(states)}
    dead = len(states)
    chars = [str(a[0]) for a in automaton.letters]
    rows = []
    for s in states:
        row = []
        for c in chars:
            target = next((t for cls, t in fsm.map.get(s, {}).items() if cls.accepts(c)), None)
            row.append(dead if target is None else index[target])
        rows.append(tuple(row))
    rows.append((dead,) * len(chars))
    outputs = tuple(s in fsm.finals for s in states) + (False,)
    return Automaton(automaton.inputs, automaton.letters, tuple(rows), outputs, index[fsm.initial], BOOL).minimal()


def _predicate(text: str, as_text: bool) -> Predicate:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise DSLError(f"reference: cannot parse the predicate {text!r:.80} ({e.msg})") from None
    body = tree.body
    if not isinstance(body, ast.Lambda) or len(body.args.args) != 1 or body.args.vararg or body.args.kwarg \
            or body.args.defaults or body.args.kwonlyargs:
        raise DSLError(f"reference: expected a predicate 'lambda w: ...' of one argument, got {text!r:.80}")
    for node in ast.walk(tree):
        why = _unsafe(node)
        if why:
            raise DSLError(f"reference: the predicate may not use {why} (in {text!r:.80})")
    code = compile(tree, "<reference>", "eval")
    builtins = {name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
                for name in SAFE_FUNCTIONS}
    function = eval(code, {"__builtins__": builtins})  # noqa: S307  (checked above: no names but these)
    return Predicate(text, function, as_text)


def _unsafe(node: ast.AST) -> str | None:
    if not isinstance(node, SAFE_NODES):
        return f"{type(node).__name__}"
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        return f"the name {node.id!r}"
    if isinstance(node, ast.Attribute) and node.attr not in STR_METHODS:
        return f"the attribute {node.attr!r} (only str methods {sorted(STR_METHODS)})"
    if isinstance(node, ast.Call):
        f = node.func
        if not ((isinstance(f, ast.Name) and f.id in SAFE_FUNCTIONS) or isinstance(f, ast.Attribute)):
            return f"a call of {ast.unparse(f)!r} (only {sorted(SAFE_FUNCTIONS)} and str methods)"
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, str) and len(v) > 100 or isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_CONSTANT:
            return f"the constant {v!r:.40} (ints up to {MAX_CONSTANT}, strings up to 100 characters)"
        if not isinstance(v, (str, int, bool, type(None))):
            return f"the constant {v!r:.40}"
    return None
