"""Unit tests of the int DSL: printing, total semantics, export, errors, grammar/row consistency."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import numpy as np
import pytest

from dsl import (
    BOOL, DSL, INT, App, Const, DSLError, Var, compile_python, evaluate, get_dsl, to_python,
)
from dsl.int import OPERATORS
from dsl.language import BUILTIN_DIR, RESERVED

INT_DSL = get_dsl("int")
TYPES = {"x": INT, "y": INT, "z": INT, "b": BOOL, "c": BOOL}
GRAMMAR = (BUILTIN_DIR / "int.lark").read_text()
x, y, z, b, c = Var("x"), Var("y"), Var("z"), Var("b", BOOL), Var("c", BOOL)


def parse(text: str):
    return INT_DSL.parse(text, TYPES)


def app(op, *args):
    return INT_DSL.app(op, *args)


# ---- printing with minimal parentheses --------------------------------------------------------

@pytest.mark.parametrize("text, printed, tree", [
    ("x - (y - z)", "x - (y - z)", app("sub", x, app("sub", y, z))),
    ("(x - y) - z", "x - y - z", app("sub", app("sub", x, y), z)),
    ("-3 * x", "-3 * x", app("mul", Const(-3), x)),
    ("-(3 * x)", "-(3 * x)", app("neg", app("mul", Const(3), x))),
    ("x - -3", "x - -3", app("sub", x, Const(-3))),
    ("-(-x)", "--x", app("neg", app("neg", x))),
    ("~(-x)", "~-x", app("invert", app("neg", x))),
    ("(x * y) + z", "x * y + z", app("add", app("mul", x, y), z)),
    ("x * (y + z)", "x * (y + z)", app("mul", x, app("add", y, z))),
    ("(x // y) * z", "x // y * z", app("mul", app("floordiv", x, y), z)),
    ("x // (y * z)", "x // (y * z)", app("floordiv", x, app("mul", y, z))),
    ("x % (y % z)", "x % (y % z)", app("mod", x, app("mod", y, z))),
    ("(x << y) << z", "x << y << z", app("lshift", app("lshift", x, y), z)),
    ("x >> (y >> z)", "x >> (y >> z)", app("rshift", x, app("rshift", y, z))),
    ("x << (y + z)", "x << y + z", app("lshift", x, app("add", y, z))),
    ("(x << y) + z", "(x << y) + z", app("add", app("lshift", x, y), z)),
    ("x | (y & z)", "x | y & z", app("bitor", x, app("bitand", y, z))),
    ("(x | y) & z", "(x | y) & z", app("bitand", app("bitor", x, y), z)),
    ("x ^ (y | z)", "x ^ (y | z)", app("bitxor", x, app("bitor", y, z))),
    ("not (x < y)", "not x < y", app("not", app("lt", x, y))),
    ("(x + y) < (y * z)", "x + y < y * z", app("lt", app("add", x, y), app("mul", y, z))),
    ("not (b and c)", "not (b and c)", app("not", app("and", b, c))),
    ("(not b) and c", "not b and c", app("and", app("not", b), c)),
    ("b or (c and b)", "b or c and b", app("or", b, app("and", c, b))),
    ("(b or c) and b", "(b or c) and b", app("and", app("or", b, c), b)),
    ("(b and c) and b", "b and c and b", app("and", app("and", b, c), b)),
    ("b and (c and b)", "b and (c and b)", app("and", b, app("and", c, b))),
    ("abs(x) + min((x), max(y, z))", "abs(x) + min(x, max(y, z))",
     app("add", app("abs", x), app("min", x, app("max", y, z)))),
    # nested ternaries, in each position
    ("x if b else (y if c else z)", "x if b else y if c else z",
     app("ite", x, b, app("ite", y, c, z))),
    ("(x if b else y) if c else z", "(x if b else y) if c else z",
     app("ite", app("ite", x, b, y), c, z)),
    ("x if (b if c else b) else y", "x if (b if c else b) else y",
     app("ite", x, app("ite", b, c, b), y)),
    ("(x + y) if b else z", "x + y if b else z", app("ite", app("add", x, y), b, z)),
    ("(x if b else y) + z", "(x if b else y) + z", app("add", app("ite", x, b, y), z)),
    ("min(x if b else y, z)", "min(x if b else y, z)", app("min", app("ite", x, b, y), z)),
    ("not (b if c else b)", "not (b if c else b)", app("not", app("ite", b, c, b))),
    ("(not b) if c else b", "not b if c else b", app("ite", app("not", b), c, b)),
])
def test_printing_uses_minimal_parentheses(text, printed, tree):
    assert parse(text) == tree
    assert INT_DSL.show(tree) == printed
    assert parse(printed) == tree


def test_negative_literal_folds_and_int64_min_round_trips():
    assert app("neg", Const(3)) == Const(-3)
    assert parse("-9223372036854775808") == Const(-2**63)
    assert parse("--9223372036854775808") == App("neg", (Const(-2**63),), INT)
    with pytest.raises(DSLError, match="9223372036854775808 .*does not fit 64 bits"):
        parse("9223372036854775808")
    with pytest.raises(DSLError, match="-9223372036854775809 .*does not fit 64 bits"):
        parse("-9223372036854775809")


# ---- the total semantics, by hand-computed values, in all three back-ends -----------------------

TOTAL_CASES = [
    ("x // 0", 7, 0, 0),
    ("x // y", 7, 0, 0),
    ("x // y", -7, 0, 0),
    ("x % 0", 7, 0, 7),
    ("x % y", -7, 0, -7),
    ("x // y", -7, 2, -4),        # floor, not truncation
    ("x % y", -7, 2, 1),          # sign of the divisor
    ("x // y", 7, -2, -4),
    ("x % y", 7, -2, -1),
    ("x << -1", 5, 0, 0),
    ("x << y", 5, -1, 0),
    ("x >> -1", 5, 0, 0),
    ("x >> y", -5, -3, 0),
    ("x >> 100", -5, 0, -1),
    ("x >> y", -5, 100, -1),
    ("x >> 100", 5, 0, 0),
    ("x >> 1", -5, 0, -3),
    ("x << y", -5, 3, -40),
    ("x & y", -6, 7, 2),          # two's complement with infinite sign extension
    ("~x", 5, 0, -6),
]


def z3_value(program, xv: int, yv: int):
    import z3

    from dsl.smt import bit_width, make_variables, to_z3, value_of

    ranges = {"x": (min(xv, 0), max(xv, 0)), "y": (min(yv, 0), max(yv, 0))}
    width = bit_width([program], ranges)
    v = make_variables({"x": INT, "y": INT}, width)
    term = to_z3(program, v)
    return value_of(z3.simplify(z3.substitute(
        term, (v["x"], z3.BitVecVal(xv, width)), (v["y"], z3.BitVecVal(yv, width)))))


@pytest.mark.parametrize("text, xv, yv, expected", TOTAL_CASES)
def test_total_semantics_in_every_back_end(text, xv, yv, expected):
    program = parse(text)
    result = evaluate(program, {"x": np.array([xv]), "y": np.array([yv])})
    assert result.bad.tolist() == [False]
    assert result.values.tolist() == [expected]
    assert compile_python(program, ["x", "y"])(xv, yv) == expected
    assert z3_value(program, xv, yv) == expected


def test_total_forms_agree_with_python_where_python_is_defined():
    # The hand-computed table above uses Python's own answers where Python has one.
    for text, xv, yv, expected in TOTAL_CASES:
        try:
            assert eval(text, {}, {"x": xv, "y": yv}) == expected, text
        except (ZeroDivisionError, ValueError):
            pass


# ---- export -------------------------------------------------------------------------------------

def test_to_python_is_a_standalone_import_free_function_with_inputs_in_order():
    program = parse("abs(x // y) + min(x % y, max(y << x, y >> x)) - (x if x < y and not x == 0 "
                    "or y != 3 else ~y) * -2 ^ y & 5 | y")
    source = to_python(program, ["y", "x"])
    assert source.startswith("def f(y, x):\n    return ")
    module = ast.parse(source)
    (function,) = module.body
    assert isinstance(function, ast.FunctionDef) and function.name == "f"
    assert [a.arg for a in function.args.args] == ["y", "x"]
    assert isinstance(function.body[0], ast.Return) and len(function.body) == 1
    assert not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(module))
    assert {n.id for n in ast.walk(module) if isinstance(n, ast.Name)} == \
        {"x", "y", "abs", "min", "max"}
    # What a user gets by pasting the source into a bare namespace.
    namespace: dict = {}
    exec(source, {"__builtins__": {"abs": abs, "min": min, "max": max}}, namespace)
    assert namespace["f"](0, 9) == compile_python(program, ["y", "x"])(0, 9)


def test_exported_inputs_follow_the_given_order():
    program = parse("x - y")
    assert compile_python(program, ["x", "y"])(10, 1) == 9
    assert compile_python(program, ["y", "x"])(10, 1) == -9


def test_bool_literals_export_as_python_constants():
    source = to_python(parse("True if b else x < 0 and False"), ["x", "b"])
    values = [n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant)]
    assert True in values and False in values


def test_to_python_rejects_a_program_using_other_inputs():
    with pytest.raises(DSLError, match=r"\['z'\].*\['x', 'y'\]"):
        to_python(parse("x + z"), ["x", "y"])


def test_guards_only_where_python_could_raise():
    assert "if" not in to_python(parse("x // 3 + x % -2 + (x << 2) + (x >> 0)"), ["x"])
    assert "if" in to_python(parse("x // (3 - 3)"), ["x"])


# ---- errors name where and what -----------------------------------------------------------------

@pytest.mark.parametrize("text, fragments", [
    ("x +", ["column 3", "unexpected end of program", "expected one of", "INT", "NAME"]),
    ("x + * y", ["column 5", "unexpected '*'", "expected one of", "INT", "("]),
    ("x $ y", ["column 3", "unexpected character '$'", "expected one of", "+"]),
    ("min(x y)", ["column 7", "unexpected 'y'", ","]),
    ("(x + y", ["end of program", ")"]),
    ("x + z", ["unknown variable 'z'", "column 5", "the inputs are: x, y, b"]),
    ("x + b", ["'x + b'", "'add'", "expects (int, int), got (int, bool)"]),
    ("x * (y + b)", ["'y + b'", "column 6"]),
    ("b if x else y", ["'b if x else y'", "'ite'", "(T, bool, T)"]),
    ("not x", ["'not x'", "expects (bool)", "got (int)"]),
])
def test_errors_say_where_and_what_was_expected(text, fragments):
    with pytest.raises(DSLError) as info:
        INT_DSL.parse(text, {"x": INT, "y": INT, "b": BOOL})
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_unknown_variable_lists_the_inputs():
    with pytest.raises(DSLError, match=r"unknown variable 'w'.*the inputs are: x, y"):
        INT_DSL.parse("x + w", {"x": INT, "y": INT})


def test_app_type_errors_name_the_operator_and_types():
    with pytest.raises(DSLError, match=r"'add' expects \(int, int\), got \(int, bool\)"):
        app("add", x, b)
    with pytest.raises(DSLError, match="unknown operator 'pow'"):
        app("pow", x, y)


# ---- grammar aliases and operator rows are one-to-one -------------------------------------------

def grammar_aliases(grammar: str) -> set[str]:
    """Aliases of rule alternatives (`%import common.CNAME -> NAME` renames a terminal)."""
    rules = "\n".join(line for line in grammar.splitlines() if not line.startswith("%"))
    return set(re.findall(r"->\s*(\w+)", rules))


def test_every_grammar_alias_has_a_row_and_every_row_an_alias():
    aliases = grammar_aliases(GRAMMAR)
    assert RESERVED <= aliases
    assert aliases - RESERVED == set(INT_DSL.operators)


def test_a_grammar_alias_without_a_row_is_an_error():
    rows = [op for op in OPERATORS if op.name != "mod"]
    with pytest.raises(DSLError, match=r"t\.lark: grammar alias 'mod' .*has no operator row"):
        DSL("t", GRAMMAR, rows, source="t.lark")


def test_a_row_without_a_grammar_alias_is_an_error():
    grammar = GRAMMAR.replace('| term "%" factor                 -> mod\n', "")
    assert grammar != GRAMMAR
    with pytest.raises(DSLError, match=r"t\.lark: operator rows with no grammar alias: \['mod'\]"):
        DSL("t", grammar, OPERATORS, source="t.lark")


def test_an_alias_whose_arity_differs_from_its_row_is_an_error():
    grammar = GRAMMAR.replace('"abs" "(" expr ")"', '"abs" "(" expr "," expr ")"')
    assert grammar != GRAMMAR
    with pytest.raises(DSLError, match=r"alias 'abs' has 2 sub-expressions but its row takes 1"):
        DSL("t", grammar, OPERATORS, source="t.lark")


def test_duplicate_rows_are_an_error():
    with pytest.raises(DSLError, match="two operator rows are named 'add'"):
        DSL("t", GRAMMAR, [*OPERATORS, OPERATORS[0]], source="t.lark")


# ---- cheap imports ------------------------------------------------------------------------------

def test_import_dsl_imports_neither_torch_ray_nor_z3():
    code = ("import dsl, sys; p = dsl.get_dsl('int').parse('x + 1', {'x': dsl.INT}); "
            "dsl.evaluate(p, {'x': [1]}); dsl.compile_python(p, ['x']); "
            "print(sorted(m for m in ('torch', 'ray', 'z3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=BUILTIN_DIR.parent)
    assert out.stdout.strip() == "[]"
