"""A DSL: a lark grammar plus its operator rows; parsing, type checking and printing.

`get_dsl("int")` returns the built-in DSL (`"bv8"`, `"bv16"` and `"bv32"` the bit-vector ones of
dsl/bv.py); `get_dsl("path/to/my.lark")` loads a user DSL whose rows
are the `OPERATORS` list of the Python file of the same stem beside it. Both are validated: every
grammar alias has a row, every row an alias, arities and types are consistent.

Programs have limits (`MAX_CHARS`, `MAX_DEPTH`): `parse` refuses a longer or deeper text before any
recursion over it, and `check_depth` refuses a deeper AST, so that the recursive walks over
programs (printing, evaluation, export, Z3) never run out of stack.
"""

from __future__ import annotations

import functools
import importlib.util
import keyword
import string
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import lark

from dsl.ast import App, Const, Node, Var
from dsl.errors import DSLError
from dsl.ops import ATOM, INT64_MAX, INT64_MIN, UNARY, Operator
from dsl.types import BOOL, INT, Type, substitute, unify

#: Aliases the parser handles itself: they are not operators.
RESERVED = frozenset({"var", "int_lit", "true", "false"})
BUILTIN_DIR = Path(__file__).parent
BUILTINS = ("int", "bv8", "bv16", "bv32", "real")
#: Built-ins whose grammar and rows module are not named after them. Such a module builds its DSLs
#: itself: `language(name, grammar, source=...)` returns the DSL called `name`.
BUILTIN_MODULES = {"bv8": "bv", "bv16": "bv", "bv32": "bv"}

#: The longest program text `parse` accepts. lark parses 10,000 characters of any shape in a
#: fraction of a second; a reference a person writes is a few hundred.
MAX_CHARS = 10_000
#: The deepest program accepted: at most this many levels of syntax tree (a variable or literal is
#: one level, each operator one more) and of nested parentheses. A search builds programs of at
#: most 64 nodes. At this depth the recursive walks stay far from Python's recursion limit, and
#: an int program's exported Python nests at most 199 parentheses: Python's parser takes 200.
MAX_DEPTH = 200


class DSL:
    """A validated DSL. Programs are parsed into netsynth's AST and printed back.

    Raises DSLError naming the problem and where it is (file, rule or row) at construction.
    """

    def __init__(self, name: str, grammar: str, operators: Iterable[Operator], *,
                 source: str = "<grammar>") -> None:
        self.name, self.source = name, source
        self.operators: dict[str, Operator] = {}
        for i, op in enumerate(operators):
            _check_row(op, f"{source}: operator row {i}")
            if op.name in self.operators:
                raise DSLError(f"{source}: two operator rows are named {op.name!r}")
            self.operators[op.name] = op
        try:
            self._parser = lark.Lark(grammar, parser="lalr", propagate_positions=True)
        except lark.exceptions.LarkError as e:
            raise DSLError(f"{source}: invalid grammar: {e}") from None
        self._terminals = {t.name: (t.pattern.value if t.pattern.type == "str" else t.name)
                           for t in self._parser.terminals}
        self._terminals["$END"] = "end of program"
        self._check_aliases()

    def __repr__(self) -> str:
        return f"DSL({self.name!r}, {len(self.operators)} operators)"

    # ---- validation ------------------------------------------------------------------------
    def _check_aliases(self) -> None:
        aliases: dict[str, int] = {}
        for rule in self._parser.rules:
            if rule.alias is None:
                continue
            kept = sum(1 for s in rule.expansion if not (s.is_term and s.filter_out))
            if rule.alias in RESERVED:
                continue
            if rule.alias not in self.operators:
                raise DSLError(f"{self.source}: grammar alias {rule.alias!r} (rule "
                               f"{rule.origin.name!r}) has no operator row; rows: "
                               f"{sorted(self.operators)}")
            arity = self.operators[rule.alias].arity
            if kept != arity:
                raise DSLError(f"{self.source}: grammar alias {rule.alias!r} has {kept} "
                               f"sub-expressions but its row takes {arity} arguments")
            aliases[rule.alias] = kept
        missing = sorted(set(self.operators) - set(aliases))
        if missing:
            raise DSLError(f"{self.source}: operator rows with no grammar alias: {missing}")

    # ---- building ------------------------------------------------------------------------------
    def app(self, op: str, *args: Node) -> Node:
        """A well-typed application; `-` of an int literal folds into a negative literal."""
        row = self.operators.get(op)
        if row is None:
            raise DSLError(f"unknown operator {op!r} in DSL {self.name!r}")
        binding = unify(row.arg_types, tuple(a.type for a in args))
        if binding is None:
            want = ", ".join(map(str, row.arg_types))
            got = ", ".join(str(a.type) for a in args)
            raise DSLError(f"operator {op!r} expects ({want}), got ({got})")
        if (op == "neg" and len(args) == 1 and isinstance(args[0], Const) and args[0].type == INT
                and -args[0].value <= INT64_MAX):  # -(-2**63) stays an App: it overflows int64
            return Const(-args[0].value, INT)
        return App(op, tuple(args), substitute(row.result_type, binding))

    # ---- parsing -------------------------------------------------------------------------------
    def parse(self, text: str, variables: Mapping[str, Type]) -> Node:
        """Parse `text` into a typed AST over the given input variables.

        Raises DSLError for a text that does not parse or type-check, one longer than MAX_CHARS
        characters, or one nested deeper than MAX_DEPTH (parentheses or syntax tree).
        """
        _check_text(text)
        try:
            tree = self._parser.parse(text)
        except lark.exceptions.UnexpectedInput as e:
            context = e.get_context(text).rstrip("\n")
            raise DSLError(f"cannot parse {text!r} at line {e.line}, column {e.column}: "
                           f"{_describe(e, self._terminals)}\n{context}") from None
        levels, deepest = _tree_depth(tree)
        if levels > MAX_DEPTH:
            where = (f" (deepest at line {deepest.meta.line}, column {deepest.meta.column})"
                     if not deepest.meta.empty else "")
            raise DSLError(f"program: nested {levels} deep{where}, above the limit of "
                           f"{MAX_DEPTH}; it starts {_start(text)}")
        return self._convert(tree, text, variables)

    def _convert(self, tree: lark.Tree, text: str, variables: Mapping[str, Type]) -> Node:
        kind = tree.data
        where = f"column {tree.meta.column}" if not tree.meta.empty else "?"
        if kind == "var":
            name = str(tree.children[0])
            if name not in variables:
                known = ", ".join(variables) or "none"
                raise DSLError(f"unknown variable {name!r} at {where} in {text!r}; "
                               f"the inputs are: {known}")
            return Var(name, variables[name])
        if kind == "int_lit":
            value = int(tree.children[0])
            if value >= 2**63:
                raise DSLError(f"integer literal {value} at {where} does not fit 64 bits")
            return Const(value, INT)
        if kind in ("true", "false"):
            return Const(kind == "true", BOOL)
        if kind == "neg" and getattr(tree.children[0], "data", None) == "int_lit":
            value = -int(tree.children[0].children[0])  # -9223372036854775808 is INT64_MIN
            if value < INT64_MIN:
                raise DSLError(f"integer literal {value} at {where} does not fit 64 bits")
            return Const(value, INT)
        args = []
        for child in tree.children:  # a loop, not a comprehension: one frame per level
            args.append(self._convert(child, text, variables))
        try:
            return self.app(str(kind), *args)
        except DSLError as e:
            source = text[tree.meta.start_pos:tree.meta.end_pos] if not tree.meta.empty else text
            raise DSLError(f"type error in {source!r} at {where}: {e}") from None

    # ---- printing ------------------------------------------------------------------------------
    def show(self, node: Node) -> str:
        """Print with the fewest parentheses that parse back to the same AST.

        Raises DSLError for a program nested deeper than MAX_DEPTH.
        """
        check_depth(node)
        return self._show(node, total=False)[0]

    def _show(self, node: Node, *, total: bool) -> tuple[str, int]:
        """(text, precedence); with `total`, Python source that never raises (see dsl.export)."""
        if isinstance(node, Var):
            return node.name, ATOM
        if isinstance(node, Const):
            if isinstance(node.value, bool):
                return str(node.value), ATOM
            return str(node.value), (UNARY if node.value < 0 else ATOM)
        row = self.operators[node.op]
        shown = []
        for arg in node.args:  # a loop, not a comprehension: one frame per level
            shown.append(self._show(arg, total=total))
        parts = [f"({text})" if prec < need else text
                 for (text, prec), need in zip(shown, row.arg_prec)]
        if total and row.total and row.needs_total and row.needs_total(node.args):
            if all(isinstance(node.args[i], (Var, Const)) for i in _repeated(row.total)):
                return row.total.format(*parts), ATOM
            # Spelling out a repeated compound argument twice per level would make the source
            # grow as 2^depth (`x % y % y % ...`): a lambda computes each argument once.
            names = [f"_{i}" for i in range(len(parts))]
            call = ", ".join(text for text, _ in shown)  # call arguments need no parentheses
            return f"(lambda {', '.join(names)}: {row.total.format(*names)})({call})", ATOM
        return row.template.format(*parts), row.prec


def _describe(e: lark.exceptions.UnexpectedInput, terminals: Mapping[str, str]) -> str:
    if isinstance(e, lark.exceptions.UnexpectedToken):
        expected = sorted(terminals.get(name, name) for name in e.expected)
        found = terminals["$END"] if e.token.type == "$END" else repr(str(e.token))
        return f"unexpected {found}; expected one of: {' '.join(expected)}"
    if isinstance(e, lark.exceptions.UnexpectedCharacters):
        expected = sorted(terminals.get(name, name) for name in e.allowed or ())
        return f"unexpected character {e.char!r}; expected one of: {' '.join(expected)}"
    if isinstance(e, lark.exceptions.UnexpectedEOF):
        return "unexpected end of program"
    return type(e).__name__


def check_depth(node: Node) -> None:
    """Raise DSLError if `node` is nested deeper than MAX_DEPTH (measured without recursion)."""
    levels = _ast_depth(node)
    if levels > MAX_DEPTH:
        raise DSLError(f"program: nested {levels} deep, above the limit of {MAX_DEPTH}")


def _ast_depth(node: Node) -> int:
    # Level by level, without recursion; a sub-program shared between branches is counted once.
    levels, frontier = 1, [node]
    while True:
        below = {id(a): a for n in frontier if isinstance(n, App) for a in n.args}
        if not below:
            return levels
        levels, frontier = levels + 1, below.values()


def _tree_depth(tree: lark.Tree) -> tuple[int, lark.Tree]:
    """The depth of a parse tree and its deepest node, without recursion; a negative literal
    (`neg` of `int_lit`, which the parser folds) is one level, as its AST `Const` is."""
    deepest, at = 0, tree
    stack = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        if level > deepest:
            deepest, at = level, node
        if node.data == "neg" and getattr(node.children[0], "data", None) == "int_lit":
            continue
        stack.extend((c, level + 1) for c in node.children if isinstance(c, lark.Tree))
    return deepest, at


def _check_text(text: str) -> None:
    """Refuse, before lark sees it, a text longer than MAX_CHARS or with parentheses nested
    deeper than MAX_DEPTH."""
    if len(text) > MAX_CHARS:
        raise DSLError(f"program: {len(text)} characters, above the limit of {MAX_CHARS}; "
                       f"it starts {_start(text)}")
    if text.count("(") <= MAX_DEPTH:
        return
    level = deepest = 0
    first = None  # where the nesting first goes past the limit
    for i, char in enumerate(text):
        if char == "(":
            level += 1
            deepest = max(deepest, level)
            if level > MAX_DEPTH and first is None:
                first = i
        elif char == ")":
            level -= 1
    if first is not None:
        line = text.count("\n", 0, first) + 1
        column = first - text.rfind("\n", 0, first)
        raise DSLError(f"program: parentheses nested {deepest} deep (level {MAX_DEPTH + 1} "
                       f"opens at line {line}, column {column}), above the limit of "
                       f"{MAX_DEPTH}; it starts {_start(text)}")


def _start(text: str, chars: int = 40) -> str:
    return repr(text) if len(text) <= chars else repr(text[:chars]) + "..."


@functools.lru_cache(maxsize=None)
def _repeated(template: str) -> frozenset[int]:
    """The arguments a template uses more than once: {0} for "({0} + {0}) * {1}"."""
    uses = Counter(int(f[1]) for f in string.Formatter().parse(template) if f[1] is not None)
    return frozenset(i for i, n in uses.items() if n > 1)


def _check_row(op: object, where: str) -> None:
    if not isinstance(op, Operator):
        raise DSLError(f"{where}: expected a dsl.ops.Operator, got {type(op).__name__}")
    where = f"{where} ({op.name!r})"
    if not op.name or not op.name.replace("_", "a").isalnum() or op.name in RESERVED:
        raise DSLError(f"{where}: operator name must be a lowercase identifier, not reserved")
    if not all(isinstance(t, Type) for t in (*op.arg_types, op.result_type)):
        raise DSLError(f"{where}: arg_types and result_type must be dsl.types.Type values")
    if op.result_type.var and op.result_type not in op.arg_types:
        raise DSLError(f"{where}: result type {op.result_type} is a type variable that no "
                       f"argument binds")
    if len(op.arg_prec) != op.arity:
        raise DSLError(f"{where}: arg_prec has {len(op.arg_prec)} entries for "
                       f"{op.arity} arguments")
    fields = {f[1] for f in string.Formatter().parse(op.template) if f[1] is not None}
    if fields != {str(i) for i in range(op.arity)}:
        raise DSLError(f"{where}: template {op.template!r} must use exactly "
                       f"{{0}}..{{{op.arity - 1}}}")
    if not callable(op.numpy) or not callable(op.z3):
        raise DSLError(f"{where}: numpy and z3 must be callables")
    if op.result_type != BOOL and op.bounds is None and not op.result_type.var:
        if op.result_type == INT:
            raise DSLError(f"{where}: int operators need a bounds function (sizes Z3 terms)")


# ---- loading ------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _load(key: str) -> DSL:
    if key in BUILTINS:
        stem = BUILTIN_MODULES.get(key, key)
        grammar_path = BUILTIN_DIR / f"{stem}.lark"
        module = importlib.import_module(f"dsl.{stem}")
        if stem != key or hasattr(module, "language"):
            return module.language(key, grammar_path.read_text(), source=str(grammar_path))
        return DSL(key, grammar_path.read_text(), module.OPERATORS, source=str(grammar_path))
    grammar_path = Path(key)
    if grammar_path.suffix != ".lark":
        raise DSLError(f"dsl: expected a built-in name {list(BUILTINS)} or a path to a .lark "
                       f"file, got {key!r}")
    if not grammar_path.is_file():
        raise DSLError(f"dsl: grammar file {key!r} does not exist")
    rows_path = grammar_path.with_suffix(".py")
    if not rows_path.is_file():
        raise DSLError(f"dsl: {key!r} needs its operator rows in {str(rows_path)!r} "
                       f"(a list named OPERATORS)")
    spec = importlib.util.spec_from_file_location(f"netsynth_user_dsl_{grammar_path.stem}",
                                                  rows_path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's module: report what broke and where
        raise DSLError(f"dsl: importing {str(rows_path)!r} failed: "
                       f"{type(e).__name__}: {e}") from None
    rows = getattr(module, "OPERATORS", None)
    if not isinstance(rows, Sequence):
        raise DSLError(f"dsl: {str(rows_path)!r} must define OPERATORS, a list of "
                       f"dsl.ops.Operator rows")
    return DSL(grammar_path.stem, grammar_path.read_text(), rows, source=str(grammar_path))


def dsl_key(name_or_path: str | Path, *, base: str | Path | None = None) -> str:
    """How a DSL is named everywhere (specs, options, caches): a built-in's name, or the absolute
    path of a user grammar, a relative path taken from `base` (default: the working directory)."""
    key = str(name_or_path)
    if key in BUILTINS:
        return key
    return str((Path(base) / key).resolve() if base is not None else Path(key).resolve())


def get_dsl(name_or_path: str | Path = "int") -> DSL:
    """The built-in DSL of that name, or the user DSL whose grammar is at that path."""
    return _load(dsl_key(name_or_path))


def is_identifier(name: str) -> bool:
    """Whether `name` can be an input variable (a Python identifier that no grammar reserves)."""
    return name.isidentifier() and not keyword.iskeyword(name) and name not in {"abs", "min", "max"}
