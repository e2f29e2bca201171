"""User DSLs loaded by path: the `clamp` fixture works end to end; malformed ones fail clearly."""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from dsl import INT, App, DSLError, compile_python, evaluate, get_dsl, to_python
from dsl.language import BUILTIN_DIR

FIXTURE = Path(__file__).parent / "dsl_user" / "clamp.lark"
TYPES = {"x": INT, "y": INT}
GRID = list(itertools.product(range(-6, 7), repeat=2))
INT_GRAMMAR = (BUILTIN_DIR / "int.lark").read_text()
CLAMP_ALTERNATIVE = '     | "clamp" "(" expr "," expr "," expr ")" -> clamp\n'
CLAMP_GRAMMAR = INT_GRAMMAR.replace('     | "(" expr ")"\n',
                                    CLAMP_ALTERNATIVE + '     | "(" expr ")"\n')
CLAMP_ROW = '''
import numpy as np
from dsl.ops import Operator, call, lifted, z3mod
from dsl.types import INT
CLAMP = Operator("clamp", (INT, INT, INT), INT,
                 lifted(lambda v, lo, hi: np.minimum(np.maximum(v, lo), hi)),
                 **{**call("clamp", 3), **TEMPLATE},
                 total="min(max({0}, {1}), {2})", needs_total=lambda args: True,
                 z3=lambda v, lo, hi: v, bounds=lambda v, lo, hi: v)
'''


@pytest.fixture(scope="module")
def clamp_dsl():
    return get_dsl(FIXTURE)


# Hand-written Python truths for a few programs.
PROGRAMS = {
    "clamp(x, -3, y) + 1": lambda x, y: min(max(x, -3), y) + 1,
    "clamp(x * y, y, 4)": lambda x, y: min(max(x * y, y), 4),
    "clamp(x, 2, -2)": lambda x, y: -2,                      # lo > hi: the result is hi
    "-clamp(x if x < y else y, x // y, x % 3)":
        lambda x, y: -min(max(x if x < y else y, x // y if y else 0), x % 3),
}


def test_the_user_dsl_has_the_int_rows_and_clamp(clamp_dsl):
    assert set(clamp_dsl.operators) == set(get_dsl("int").operators) | {"clamp"}
    assert clamp_dsl.operators["clamp"].arity == 3
    assert get_dsl(str(FIXTURE)) is clamp_dsl                   # one load per path


@pytest.mark.parametrize("text", PROGRAMS)
def test_parses_prints_and_round_trips(clamp_dsl, text):
    program = clamp_dsl.parse(text, TYPES)
    assert any(isinstance(n, App) and n.op == "clamp" for n in _nodes(program))
    assert clamp_dsl.show(program) == text
    assert clamp_dsl.parse(clamp_dsl.show(program), TYPES) == program


@pytest.mark.parametrize("text", PROGRAMS)
def test_numpy_exported_python_and_z3_agree_with_python(clamp_dsl, text):
    import z3

    from dsl.smt import bit_width, make_variables, to_z3, value_of

    program = clamp_dsl.parse(text, TYPES)
    truth = [PROGRAMS[text](x, y) for x, y in GRID]

    xs, ys = (np.array(column, np.int64) for column in zip(*GRID))
    result = evaluate(program, {"x": xs, "y": ys}, dsl=clamp_dsl)
    assert not result.bad.any() and result.values.tolist() == truth

    source = to_python(program, ["x", "y"], dsl=clamp_dsl)
    assert "clamp" not in source                                # exported form is plain Python
    assert not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(ast.parse(source)))
    exported = compile_python(program, ["x", "y"], dsl=clamp_dsl)
    assert [exported(x, y) for x, y in GRID] == truth

    width = bit_width([program], {"x": (-6, 6), "y": (-6, 6)}, dsl=clamp_dsl)
    v = make_variables(TYPES, width)
    term = to_z3(program, v, dsl=clamp_dsl)
    got = [value_of(z3.simplify(z3.substitute(term, (v["x"], z3.BitVecVal(x, width)),
                                              (v["y"], z3.BitVecVal(y, width)))))
           for x, y in GRID]
    assert got == truth


def test_z3_proves_clamp_equals_its_python_form(clamp_dsl):
    import z3

    from dsl.smt import bit_width, make_variables, to_z3

    types = {"x": INT, "y": INT, "z": INT}
    ranges = {name: (-1000, 1000) for name in types}
    clamp = clamp_dsl.parse("clamp(x, y, z)", types)
    plain = get_dsl("int").parse("min(max(x, y), z)", types)
    width = bit_width([clamp, plain], ranges, dsl=clamp_dsl)
    v = make_variables(types, width)
    solver = z3.Solver()
    for name, (lo, hi) in ranges.items():
        solver.add(v[name] >= lo, v[name] <= hi)
    solver.add(to_z3(clamp, v, dsl=clamp_dsl) != to_z3(plain, v))
    assert solver.check() == z3.unsat


def _nodes(node):
    yield node
    for arg in getattr(node, "args", ()):
        yield from _nodes(arg)


# ---- malformed user DSLs ------------------------------------------------------------------------

def write(tmp_path: Path, grammar: str, rows: str | None, name: str = "bad") -> Path:
    (tmp_path / f"{name}.lark").write_text(grammar)
    if rows is not None:
        (tmp_path / f"{name}.py").write_text(rows)
    return tmp_path / f"{name}.lark"


GOOD_ROWS = ("from dsl.int import OPERATORS as INT_OPERATORS\nTEMPLATE = {}\n" + CLAMP_ROW
             + "OPERATORS = [*INT_OPERATORS, CLAMP]\n")


def test_the_malformed_fixtures_start_from_a_good_one(tmp_path):
    dsl = get_dsl(write(tmp_path, CLAMP_GRAMMAR, GOOD_ROWS))
    assert "clamp" in dsl.operators


@pytest.mark.parametrize("grammar, rows, fragments", [
    pytest.param(CLAMP_GRAMMAR + "\n?broken: expr (\n", GOOD_ROWS, ["invalid grammar"],
                 id="grammar syntax error"),
    pytest.param(CLAMP_GRAMMAR, "from dsl.int import OPERATORS\n",
                 ["grammar alias 'clamp'", "has no operator row"], id="alias without a row"),
    pytest.param(INT_GRAMMAR, GOOD_ROWS, ["operator rows with no grammar alias: ['clamp']"],
                 id="row without an alias"),
    pytest.param(CLAMP_GRAMMAR.replace(CLAMP_ALTERNATIVE, CLAMP_ALTERNATIVE.replace(
        ' "," expr ")"', ' ")"', 1)), GOOD_ROWS,
        ["alias 'clamp' has 2 sub-expressions but its row takes 3 arguments"],
        id="arity mismatch"),
    pytest.param(CLAMP_GRAMMAR, GOOD_ROWS.replace("TEMPLATE = {}",
                                                  "TEMPLATE = {'template': 'clamp({0}, {1})'}"),
                 ["'clamp'", "template 'clamp({0}, {1})' must use exactly {0}..{2}"],
                 id="bad template"),
])
def test_malformed_grammar_or_rows_name_the_problem_and_the_file(tmp_path, grammar, rows,
                                                                 fragments):
    path = write(tmp_path, grammar, rows)
    with pytest.raises(DSLError) as info:
        get_dsl(path)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize("rows, fragments", [
    pytest.param("ROWS = []\n", ["must define OPERATORS"], id="no OPERATORS"),
    pytest.param("OPERATORS = 3\n", ["must define OPERATORS, a list"], id="OPERATORS not a list"),
    pytest.param("raise RuntimeError('boom at import')\n",
                 ["importing", "failed: RuntimeError: boom at import"], id="raises on import"),
    pytest.param("OPERATORS = [1 +]\n", ["importing", "SyntaxError"], id="syntax error"),
])
def test_broken_rows_modules_name_the_problem_and_the_rows_file(tmp_path, rows, fragments):
    path = write(tmp_path, CLAMP_GRAMMAR, rows)
    with pytest.raises(DSLError) as info:
        get_dsl(path)
    message = str(info.value)
    assert str(path.with_suffix(".py")) in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_a_row_that_is_not_an_operator(tmp_path):
    path = write(tmp_path, INT_GRAMMAR, "from dsl.int import OPERATORS as I\nOPERATORS = [*I, 'x']\n")
    row = len(get_dsl("int").operators)
    with pytest.raises(DSLError, match=rf"bad\.lark: operator row {row}: expected a "
                                       r"dsl\.ops\.Operator, got str"):
        get_dsl(path)


def test_missing_rows_file(tmp_path):
    path = write(tmp_path, CLAMP_GRAMMAR, None)
    with pytest.raises(DSLError, match="needs its operator rows in .*bad\\.py"):
        get_dsl(path)


def test_a_path_that_is_not_a_lark_file(tmp_path):
    path = tmp_path / "rules.txt"
    path.write_text(CLAMP_GRAMMAR)
    from dsl.language import BUILTINS

    builtins = re.escape(str(list(BUILTINS)))
    with pytest.raises(DSLError, match=rf"expected a built-in name {builtins} or a path to a "
                                       r"\.lark file, got '.*rules\.txt'"):
        get_dsl(path)


def test_a_missing_grammar_file(tmp_path):
    with pytest.raises(DSLError, match=r"grammar file '.*nowhere\.lark' does not exist"):
        get_dsl(tmp_path / "nowhere.lark")
