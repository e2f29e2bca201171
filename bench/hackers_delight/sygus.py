"""cvc5's SyGuS solver on a task's input-output examples, with a time budget, in a child process.

`problem(task, examples, ops=..., literals=...)` writes the SyGuS-IF text: `f` over 8-bit
vectors, one `constraint` per example, and either a grammar of the named `bv8` operators (each
row's SMT-LIB operator; `rotl`/`rotr` as `define-fun`s rotating by the count modulo 8, as bv8
does) with the same literals netsynth's search starts from, or no grammar (cvc5's default one).
`solve(text, budget)` runs cvc5 (the `cvc5` pip package, `pip install -e '.[bench]'`) in a child
process killed at the budget and returns what it printed and how long `check-synth` took.
`evaluate(solution, columns)` computes cvc5's answer on arrays with the bv8 rows' numpy forms, so
it can be checked on the whole domain.
"""

from __future__ import annotations

import multiprocessing
import queue
import re
import time
from dataclasses import dataclass

import numpy as np

BV = "(_ BitVec 8)"
#: bv8 row -> its SyGuS grammar rule (S: an 8-bit term, B: a Boolean one).
INT_RULES = {
    "add": "(bvadd S S)", "sub": "(bvsub S S)", "mul": "(bvmul S S)", "udiv": "(bvudiv S S)",
    "urem": "(bvurem S S)", "sdiv": "(bvsdiv S S)", "srem": "(bvsrem S S)", "negate": "(bvneg S)",
    "bitand": "(bvand S S)", "bitor": "(bvor S S)", "bitxor": "(bvxor S S)", "invert": "(bvnot S)",
    "shl": "(bvshl S S)", "lshr": "(bvlshr S S)", "ashr": "(bvashr S S)", "rotl": "(rotl S S)",
    "rotr": "(rotr S S)", "ite": "(ite B S S)",
}
BOOL_RULES = {
    "eq": "(= S S)", "ne": "(distinct S S)", "ult": "(bvult S S)", "ule": "(bvule S S)",
    "ugt": "(bvugt S S)", "uge": "(bvuge S S)", "slt": "(bvslt S S)", "sle": "(bvsle S S)",
    "sgt": "(bvsgt S S)", "sge": "(bvsge S S)", "and": "(and B B)", "or": "(or B B)",
    "not": "(not B)", "ite": "(ite B B B)",
}
ROTATIONS = f"""\
(define-fun rotl ((a {BV}) (n {BV})) {BV} (bvor (bvshl a (bvurem n #x08)) (bvlshr a (bvsub #x08 (bvurem n #x08)))))
(define-fun rotr ((a {BV}) (n {BV})) {BV} (bvor (bvlshr a (bvurem n #x08)) (bvshl a (bvsub #x08 (bvurem n #x08)))))
"""


def _value(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    return f"#x{int(v):02x}"


def problem(inputs: list[str], examples: tuple[dict, np.ndarray], *, output: str,
            ops: list[str] | None, literals: list[int]) -> str:
    """SyGuS-IF text for f(inputs) from `examples` (columns by input name, outputs); `ops` None
    gives cvc5's default grammar."""
    columns, outputs = examples
    params = " ".join(f"({n} {BV})" for n in inputs)
    sort = "Bool" if output == "bool" else BV
    if ops is None:
        lines = [f"(synth-fun f ({params}) {sort})"]
    else:
        leaves = " ".join(inputs + [_value(v) for v in literals])
        ints = [INT_RULES[o] for o in ops if o in INT_RULES]
        bools = [BOOL_RULES[o] for o in ops if o in BOOL_RULES]
        if output == "bool":
            bools = ["true", "false"] + bools
        rule_s = f"(S {BV} ({leaves} {' '.join(ints)}))"
        rule_b = f"(B Bool ({' '.join(bools)}))"
        uses_b = output == "bool" or "(ite B S S)" in ints
        order = [("B", "Bool", rule_b), ("S", BV, rule_s)] if output == "bool" else \
            [("S", BV, rule_s)] + ([("B", "Bool", rule_b)] if uses_b else [])
        lines = [ROTATIONS if {"rotl", "rotr"} & set(ops) else "",
                 f"(synth-fun f ({params}) {sort}",
                 f"  ({' '.join(f'({n} {s})' for n, s, _ in order)})",
                 f"  ({' '.join(r for _, _, r in order)}))"]
    for i in range(len(outputs)):
        args = " ".join(_value(columns[n][i]) for n in inputs)
        lines.append(f"(constraint (= (f {args}) {_value(outputs[i])}))")
    return "(set-logic BV)\n" + "\n".join(lines) + "\n(check-synth)\n"


@dataclass(frozen=True)
class Answer:
    solution: str | None      # the body of cvc5's define-fun, or None
    seconds: float            # check-synth's wall time in the child (the budget if killed)
    note: str                 # "timeout", "no solution", an error, or ""


def _child(text: str, options: dict[str, str], out: multiprocessing.Queue) -> None:
    import cvc5

    solver = cvc5.Solver()
    solver.setOption("sygus", "true")
    for key, value in options.items():
        solver.setOption(key, value)
    parser = cvc5.InputParser(solver)
    parser.setStringInput(cvc5.InputLanguage.SYGUS_2_1, text, "task")
    printed, start = [], 0.0
    try:
        while True:
            command = parser.nextCommand()
            if command.isNull():
                break
            if str(command).startswith("(check-synth"):
                start = time.perf_counter()
            printed.append(command.invoke(solver, parser.getSymbolManager()) or "")
        out.put(("".join(printed), time.perf_counter() - start, ""))
    except Exception as e:  # cvc5's errors reach the table as a note
        out.put(("", time.perf_counter() - start if start else 0.0, f"{type(e).__name__}: {e}"))


def solve(text: str, budget: float, *, options: dict[str, str] | None = None) -> Answer:
    """Run cvc5 on `text` for at most `budget` seconds (the child is killed then)."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=_child, args=(text, options or {}, out), daemon=True)
    child.start()
    try:
        printed, seconds, error = out.get(timeout=budget + 5)   # + start-up and parsing
    except queue.Empty:
        return Answer(None, budget, "timeout")
    finally:
        if child.is_alive():
            child.kill()
        child.join()
    if error:
        return Answer(None, seconds, error)
    if seconds > budget:
        return Answer(None, budget, "timeout")
    match = re.search(r"\(define-fun f \(.*?\)\s+(?:Bool|\(_ BitVec 8\))\s+(.*)\)\s*\)\s*$",
                      printed, re.S)
    if match is None:
        return Answer(None, seconds, printed.strip() or "no solution")
    return Answer(match.group(1).strip(), seconds, "")


# ---- cvc5's answer on arrays ------------------------------------------------------------------

def parse(text: str):
    """An s-expression as nested lists of atoms (strings), `let`s expanded."""
    return _expand(_read(text), {})


def _expand(expr, bound: dict):
    """`expr` with every `let`-bound name replaced by its term (a tree, as sizes count it)."""
    if isinstance(expr, str):
        return bound.get(expr, expr)
    if expr and expr[0] == "let":
        inner = dict(bound)
        inner.update({name: _expand(term, bound) for name, term in expr[1]})
        return _expand(expr[2], inner)
    return [_expand(e, bound) for e in expr]


def _read(text: str):
    tokens = re.findall(r"\(|\)|[^\s()]+", text)
    stack: list[list] = [[]]
    for token in tokens:
        if token == "(":
            stack.append([])
        elif token == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    return stack[0][0]


def size(expr) -> int:
    """Nodes: one per application and one per leaf (as netsynth counts a program's size)."""
    if isinstance(expr, list):
        if expr[0] == "_":            # (_ bvN 8) is one literal
            return 1
        return 1 + sum(size(e) for e in expr[1:])
    return 1


#: SMT-LIB operator -> bv8 row, for the operators both have.
ROW_OF = {rule[1:].split()[0]: name for table in (INT_RULES, BOOL_RULES)
          for name, rule in table.items() if name != "ite"}
ROW_OF.update({"rotl": "rotl", "rotr": "rotr", "ite": "ite"})


def evaluate(expr, columns: dict[str, np.ndarray]) -> np.ndarray:
    """cvc5's answer at every point (8-bit values as int64, or bools), with the bv8 rows."""
    from dsl import get_dsl

    rows = get_dsl("bv8").operators
    if isinstance(expr, str):
        if expr in columns:
            return columns[expr]
        if expr in ("true", "false"):
            return np.array(expr == "true")
        return np.array(int(expr[2:], 16 if expr.startswith("#x") else 2), np.int64)
    head, args = expr[0], expr[1:]
    if not isinstance(head, str):                     # ((_ extract 7 7) x) and the like
        raise ValueError(f"no evaluation for {head!r}")
    if head == "_":                                   # (_ bv5 8)
        return np.array(int(args[0][2:]), np.int64)
    values = [evaluate(a, columns) for a in args]
    if head == "ite":                                 # SMT-LIB: condition first
        return np.where(values[0], values[1], values[2])
    extra = {"bvnand": lambda a, b: ~(a & b) & 255, "bvnor": lambda a, b: ~(a | b) & 255,
             "bvxnor": lambda a, b: ~(a ^ b) & 255, "xor": np.logical_xor,
             "=>": lambda a, b: ~a | b}
    if head in extra:
        return extra[head](*values)
    if head == "bvsmod":                              # sign of the divisor
        r = rows["srem"].numpy(*values)[0]
        a, b = values
        fix = (r != 0) & (((r ^ b) & 128) != 0)
        return np.where(b == 0, a, np.where(fix, (r + b) & 255, r))
    if head not in ROW_OF:
        raise ValueError(f"no evaluation for {head!r}")
    if head in ("and", "or") and len(values) > 2:     # n-ary in SMT-LIB
        fold = np.logical_and if head == "and" else np.logical_or
        return fold.reduce(np.broadcast_arrays(*values))
    return rows[ROW_OF[head]].numpy(*values)[0]


def as_bv8(expr) -> str | None:
    """cvc5's answer in bv8's syntax, when every operator has a bv8 row."""
    from dsl import BOOL, INT, Const, Var, get_dsl

    language = get_dsl("bv8")

    def build(e):
        if isinstance(e, str):
            if e in ("true", "false"):
                return Const(e == "true", BOOL)
            if e.startswith("#"):
                return Const(int(e[2:], 16 if e.startswith("#x") else 2), INT)
            return Var(e, INT)
        if e[0] == "_":
            return Const(int(e[1][2:]), INT)
        if not isinstance(e[0], str) or e[0] not in ROW_OF or (e[0] in ("and", "or") and len(e) > 3):
            raise KeyError(e[0])
        args = [build(a) for a in e[1:]]
        if e[0] == "ite":
            args = [args[1], args[0], args[2]]        # bv8's `a if c else b`
        return language.app(ROW_OF[e[0]], *args)

    try:
        return language.show(build(expr))
    except (KeyError, ValueError):
        return None
