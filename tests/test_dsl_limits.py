"""Limits on a program's length and nesting (docs/semantics.md, "Limits").

Hostile input (issue 15: 20,000 chained `+`, 50,000 unary minus signs) is refused with a DSLError
naming the limit, never a RecursionError, and over-long or over-parenthesised text never reaches
lark (a spy on the parser shows it). Programs at the limit and just below work end to end. Truths:
the depth a program has by construction, Python's own `eval` of the DSL text (DSL text is Python),
and Python's own min/max for the user DSL's `clamp`.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl import BOOL, INT, App, Const, DSLError, Var, compile_python, evaluate, get_dsl
from dsl.errors import Z3EncodingError
from dsl.export import PYTHON_MAX_PARENS, python_expression, to_python
from dsl.language import MAX_CHARS, MAX_DEPTH

INT_DSL = get_dsl("int")
TYPES = {"x": INT, "y": INT, "b": BOOL}
INPUTS = list(TYPES)
LO, HI = -4, 4
GRID = [dict(zip(INPUTS, p)) for p in itertools.product(range(LO, HI + 1), range(LO, HI + 1),
                                                         (False, True))]
COLUMNS = {name: np.array([p[name] for p in GRID]) for name in INPUTS}
LIMIT = f"above the limit of {MAX_DEPTH}"
DOCS = Path(__file__).parents[1] / "docs" / "semantics.md"
CLAMP = Path(__file__).parent / "dsl_user" / "clamp.lark"


def parse(text: str):
    return INT_DSL.parse(text, TYPES)


@pytest.fixture
def lark_calls(monkeypatch):
    """Every text handed to lark's parser while the test runs."""
    calls: list[str] = []
    real = INT_DSL._parser.parse
    monkeypatch.setattr(INT_DSL._parser, "parse", lambda text: calls.append(text) or real(text))
    return calls


# ---- hostile input: a DSLError naming the limit ----------------------------------------------

HOSTILE = {
    "20,000 chained +": "+".join(["x"] * 20_000),
    "50,000 unary minus signs": "-" * 50_000 + "x",
    "100,000 nested parentheses": "(" * 100_000 + "x" + ")" * 100_000,
    "a 1 MB program": ("x + " * (1 << 18))[:-3],
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE)
def test_hostile_text_is_refused_by_its_length_before_lark(text, lark_calls):
    with pytest.raises(DSLError, match=f"program: {len(text)} characters, above the limit of "
                                       f"{MAX_CHARS}"):
        parse(text)
    assert lark_calls == []


# The same shapes within the length limit: refused by their depth.
DEEP_BUT_SHORT = {
    "5,000 chained +": ("+".join(["x"] * 5_000), 5_000),
    "9,999 unary minus signs": ("-" * 9_999 + "x", 10_000),
    "4,999 nested parentheses": ("(" * 4_999 + "x" + ")" * 4_999, 4_999),
}


@pytest.mark.parametrize("text, depth", DEEP_BUT_SHORT.values(), ids=DEEP_BUT_SHORT)
def test_deep_text_within_the_length_limit_is_refused_by_its_depth(text, depth, lark_calls):
    assert len(text) <= MAX_CHARS
    with pytest.raises(DSLError, match=f"nested {depth} deep.*{LIMIT}"):
        parse(text)
    # Parentheses are counted on the text; operator chains on lark's tree (lark parses 10,000
    # characters of them without recursion), before the conversion to the AST.
    assert lark_calls == ([] if text.startswith("(") else [text])


def _chain(op: str, length: int) -> App:
    """`x op x op ... op x` nested `length` deep, built without the parser."""
    node = Var("x")
    for _ in range(length - 1):
        node = App(op, (node, Var("x")) if op == "add" else (node,), INT)
    return node


@pytest.mark.parametrize("op, depth", [("add", 20_001), ("neg", 100_001)])
def test_deep_asts_are_refused_by_every_walk(op, depth):
    from dsl.smt import bit_width, interval, make_variables, to_z3

    program = _chain(op, depth)
    walks = {
        "show": lambda: INT_DSL.show(program),
        "evaluate": lambda: evaluate(program, COLUMNS),
        "python_expression": lambda: python_expression(program),
        "to_python": lambda: to_python(program, INPUTS),
        "compile_python": lambda: compile_python(program, INPUTS),
        "to_z3": lambda: to_z3(program, make_variables(TYPES, 64)),
        "interval": lambda: interval(program, {"x": (LO, HI), "y": (LO, HI)}),
        "bit_width": lambda: bit_width([program], {"x": (LO, HI), "y": (LO, HI)}),
    }
    for name, walk in walks.items():
        with pytest.raises(DSLError, match=f"program: nested {depth} deep, {LIMIT}"):
            walk()


# ---- the limits are exactly where the docs put them -------------------------------------------

def test_the_docs_state_these_limits():
    text = DOCS.read_text()
    section = text[text.index("### Limits"):text.index("## Writing a user DSL")]
    assert f"longer than {MAX_CHARS:,}" in section.replace("\n", " ")
    assert f"more than {MAX_DEPTH} levels deep" in section.replace("\n", " ")
    assert f"at most {MAX_DEPTH} nested parentheses" in section.replace("\n", " ")


def test_the_length_limit_is_exact(lark_calls):
    assert parse("x" + " " * (MAX_CHARS - 1)) == Var("x")
    with pytest.raises(DSLError, match=f"{MAX_CHARS + 1} characters, above the limit"):
        parse("x" + " " * MAX_CHARS)
    assert len(lark_calls) == 1


# Texts nested exactly n deep, shape by shape (parentheses: n levels of them around `x`).
SHAPES = {
    "chained +": lambda n: " + ".join(["x"] * n),
    "chained - with negative literals": lambda n: " - ".join(["-5"] * n),
    "right-nested -": lambda n: "x - (" * (n - 1) + "y" + ")" * (n - 1),
    "unary minus": lambda n: "-" * (n - 1) + "x",
    "unary minus and invert on a literal": lambda n: "-~" * ((n - 1) // 2) + "-" * (n % 2 == 0)
    + "-5",
    "abs": lambda n: "abs(" * (n - 1) + "x" + ")" * (n - 1),
    "min and max": lambda n: "".join("min(" if i % 2 else "max(" for i in range(n - 1)) + "x"
    + ", y)" * (n - 1),
    "conditional": lambda n: "x if b else " * (n - 1) + "y",
    "not": lambda n: "x if " + "not " * (n - 3) + "x < y else y",
    "parentheses": lambda n: "(" * n + "x" + ")" * n,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_depth_limit_is_exact(shape, lark_calls):
    for n in (MAX_DEPTH - 1, MAX_DEPTH):
        program = parse(SHAPES[shape](n))
        assert parse(INT_DSL.show(program)) == program
        check_agreement(program, SHAPES[shape](n))
    over = SHAPES[shape](MAX_DEPTH + 1)
    what = "parentheses nested" if shape == "parentheses" else "nested"
    with pytest.raises(DSLError, match=f"program: {what} {MAX_DEPTH + 1} deep.*{LIMIT}"):
        parse(over)


def test_a_negative_literal_is_one_level_as_in_the_ast():
    # show prints Const(-5) as `-5`: an AST at the limit whose deepest leaf is a negative literal
    # parses back (its text is not one level deeper than the AST).
    program = INT_DSL.app("sub", Const(-5), Const(-5))
    for _ in range(MAX_DEPTH - 2):
        program = INT_DSL.app("sub", Var("x"), program)
    assert parse(INT_DSL.show(program)) == program
    assert parse("-" * (MAX_DEPTH - 1) + "5") == Const(5 if MAX_DEPTH % 2 else -5)


def test_150_chained_additions_work_end_to_end_including_z3():
    import z3

    from dsl.smt import bit_width, make_variables, to_z3

    text = " + ".join(["x", "y"] * 75)
    program = parse(text)
    assert INT_DSL.show(program) == text
    check_agreement(program, text)
    width = bit_width([program], {"x": (LO, HI), "y": (LO, HI)})
    v = make_variables(TYPES, width)
    term = to_z3(program, v)
    solver = z3.Solver()
    solver.add(term != 75 * v["x"] + 75 * v["y"])
    assert solver.check() == z3.unsat


# ---- random programs around the limit ----------------------------------------------------------

@given(unary=st.lists(st.sampled_from("-~"), max_size=MAX_DEPTH + 10),
       parens=st.integers(1, MAX_DEPTH + 10),
       binary=st.lists(st.sampled_from("+-"), min_size=0, max_size=MAX_DEPTH + 10))
@settings(max_examples=150, deadline=None)
def test_random_texts_are_accepted_exactly_up_to_the_limit(unary, parens, binary):
    # `-~-(((x + y - x ...)))`: each prefix operator is a level, each `+`/`-` (left-associative)
    # another, `x` the last one; parentheses do not add tree levels but are limited themselves.
    leaves = itertools.cycle(["x", "y"])
    chain = next(leaves) + "".join(f" {op} {next(leaves)}" for op in binary)
    text = "".join(unary) + "(" * parens + chain + ")" * parens
    depth = len(unary) + len(binary) + 1
    if parens > MAX_DEPTH:
        with pytest.raises(DSLError, match=f"parentheses nested {parens} deep.*{LIMIT}"):
            parse(text)
    elif depth > MAX_DEPTH:
        with pytest.raises(DSLError, match=f"program: nested {depth} deep.*{LIMIT}"):
            parse(text)
    else:
        program = parse(text)
        assert parse(INT_DSL.show(program)) == program
        check_agreement(program, text)


# One level of a random program, around the argument below it: (type below, type above, build).
def _level(draw, below):
    leaf_int = st.sampled_from([Var("x"), Var("y"), Const(0), Const(3), Const(-2)])
    if below == BOOL:
        kind = draw(st.sampled_from(["not", "and", "or", "ite bool", "condition"]))
        if kind == "not":
            return lambda p: INT_DSL.app("not", p)
        if kind in ("and", "or"):
            first = draw(st.booleans())
            return lambda p: INT_DSL.app(kind, *((p, Var("b", BOOL)) if first
                                                 else (Var("b", BOOL), p)))
        if kind == "ite bool":
            return lambda p: INT_DSL.app("ite", p, Var("b", BOOL), Var("b", BOOL))
        other = draw(leaf_int)
        return lambda p: INT_DSL.app("ite", Var("x"), p, other)
    kind = draw(st.sampled_from(["binary"] * 4 + ["unary", "shift", "compare", "ite"]))
    if kind == "binary":
        op = draw(st.sampled_from(["add", "sub", "mul", "floordiv", "mod", "min", "max",
                                   "bitand", "bitor", "bitxor"]))
        other, first = draw(leaf_int), draw(st.booleans())
        return lambda p: INT_DSL.app(op, *((p, other) if first else (other, p)))
    if kind == "unary":
        op = draw(st.sampled_from(["neg", "abs", "invert"]))
        return lambda p: INT_DSL.app(op, p)
    if kind == "shift":  # counts stay small: Python cannot compute x << (x << x)
        op = draw(st.sampled_from(["lshift", "rshift"]))
        count = draw(st.sampled_from([Var("y"), Const(0), Const(2), Const(-1)]))
        return lambda p: INT_DSL.app(op, p, count)
    if kind == "compare":
        op = draw(st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]))
        other = draw(leaf_int)
        return lambda p: INT_DSL.app(op, p, other)
    other, first = draw(leaf_int), draw(st.booleans())
    return lambda p: INT_DSL.app("ite", *((p, Var("b", BOOL), other) if first
                                         else (other, Var("b", BOOL), p)))


@st.composite
def paths(draw, depth: int):
    """A program exactly `depth` deep: a variable wrapped in depth - 1 random levels."""
    program = draw(st.sampled_from([Var("x"), Var("y"), Var("b", BOOL)]))
    for _ in range(depth - 1):
        program = _level(draw, program.type)(program)
    return program


@given(data=st.data(), depth=st.integers(MAX_DEPTH - 3, MAX_DEPTH + 3))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.data_too_large])
def test_random_programs_work_up_to_the_limit_and_are_refused_beyond(data, depth):
    from dsl.smt import make_variables, to_z3

    program = data.draw(paths(depth))
    if depth > MAX_DEPTH:
        message = f"program: nested {depth} deep, {LIMIT}"
        for walk in (INT_DSL.show, python_expression, lambda p: evaluate(p, COLUMNS),
                     lambda p: to_z3(p, make_variables(TYPES, 64))):
            with pytest.raises(DSLError, match=message):
                walk(program)
        # Its text (printed without the check) is refused by the parser: by the same depth, or
        # first by its parentheses when they are nested deeper than the limit too.
        text = INT_DSL._show(program, total=False)[0]
        parens = max(itertools.accumulate({"(": 1, ")": -1}.get(c, 0) for c in text))
        with pytest.raises(DSLError, match=f"parentheses nested {parens} deep"
                           if parens > MAX_DEPTH else f"program: nested {depth} deep"):
            parse(text)
        return
    text = INT_DSL.show(program)
    assert parse(text) == program
    check_agreement(program, text)
    check_z3(program, text)


# ---- exported source: linear in the program, within Python's parser ---------------------------

def test_exported_guards_stay_linear_in_the_program():
    def source(levels: int) -> str:
        return python_expression(parse("x" + " % (y + 1)" * levels))

    assert source(1) == "(lambda _0, _1: (_0 % _1 if _1 else _0))(x, y + 1)"
    assert python_expression(parse("x % y")) == "(x % y if y else x)"   # atoms are spelled out
    assert len(source(80)) < 2.1 * len(source(40))                      # not 2^40 times longer
    text = "x" + " % (y - 1) // (x + 2)" * ((MAX_DEPTH - 1) // 2)        # 199 levels
    check_agreement(parse(text), text)


def test_a_user_dsl_nesting_python_too_deep_is_refused_by_to_python():
    # clamp's Python form `min(max({0}, {1}), {2})` opens two parentheses per level around its
    # first argument: 100 nested clamps are 200 levels of them, Python's limit; 101 are too many.
    dsl = get_dsl(CLAMP)
    for clamps in (100, 101):
        text = "clamp(" * clamps + "x" + ", y, 3)" * clamps
        program = dsl.parse(text, TYPES)
        assert dsl.parse(dsl.show(program), TYPES) == program
        if clamps * 2 > PYTHON_MAX_PARENS:
            with pytest.raises(DSLError, match=f"nests {clamps * 2} parentheses deep, above the "
                                               f"limit of {PYTHON_MAX_PARENS}"):
                to_python(program, INPUTS, dsl=dsl)
            continue
        exported = compile_python(program, INPUTS, dsl=dsl)
        result = evaluate(program, COLUMNS, dsl=dsl)
        for i, p in enumerate(GRID):
            truth = p["x"]
            for _ in range(clamps):
                truth = min(max(truth, p["y"]), 3)
            assert exported(**p) == result.values[i] == truth


def test_walks_use_about_one_stack_frame_per_level():
    # With room for the program's depth plus a margin, nothing recurses out of the stack: no walk
    # spends several Python frames per level (a comprehension per level would).
    from dsl.smt import bit_width, make_variables, to_z3

    text = SHAPES["abs"](MAX_DEPTH)
    program = parse(text)
    here = len(_frames())
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(here + MAX_DEPTH + 60)
    try:  # (not ==: the dataclasses' own __eq__ spends two levels of the limit per level)
        parse(text)
        INT_DSL.show(program)
        python_expression(program)
        evaluate(program, COLUMNS)
        width = bit_width([program], {"x": (LO, HI), "y": (LO, HI)})
        to_z3(program, make_variables(TYPES, width))
    finally:
        sys.setrecursionlimit(old)


def _frames():
    frame, frames = sys._getframe(), []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


# ---- agreement: numpy, exported Python and Python's eval of the text -----------------------

def check_agreement(program, text: str) -> None:
    """numpy agrees with the exported function wherever it flags no overflow, and the exported
    function with Python's eval of the DSL text wherever plain Python does not raise."""
    exported = compile_python(program, INPUTS)
    result = evaluate(program, COLUMNS)
    code = compile(text, "<dsl text>", "eval")
    for i, p in enumerate(GRID):
        value = exported(**p)
        if not result.bad[i]:
            assert result.values[i] == value, (text, p)
        try:
            truth = eval(code, {"__builtins__": {"abs": abs, "min": min, "max": max}}, dict(p))
        except (ZeroDivisionError, ValueError):  # x // 0, x % 0, a negative shift count
            continue
        assert value == truth, (text, p)


def check_z3(program, text: str) -> None:
    import z3

    from dsl.smt import bit_width, make_variables, to_z3, value_of

    try:
        width = bit_width([program], {"x": (LO, HI), "y": (LO, HI)})
    except Z3EncodingError:  # 200 levels of products: wider than MAX_WIDTH, refused soundly
        return
    v = make_variables(TYPES, width)
    term = to_z3(program, v)
    exported = compile_python(program, INPUTS)
    for p in GRID[::41]:
        pairs = [(v["x"], z3.BitVecVal(p["x"], width)), (v["y"], z3.BitVecVal(p["y"], width)),
                 (v["b"], z3.BoolVal(p["b"]))]
        assert value_of(z3.simplify(z3.substitute(term, *pairs))) == exported(**p), (text, p)
