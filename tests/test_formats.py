"""Exports beyond Python (sympy, LaTeX, C, SMT-LIB) compute what the program computes.

Truths: the exported Python run by Python (`compile_python`) on random well-typed programs (the
generator of tests/test_dsl_properties.py draws every operator of the int DSL), and the reference
interpreter there, which says where a program leaves int64 (the C export's documented limit).
The C source is compiled by the system's C compiler and run; the SMT-LIB definition is read by Z3.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl import INT, compile_python, get_dsl
from dsl.program import Expression
from test_dsl_properties import TYPES, programs, reference

DSL = get_dsl("int")
INPUTS = tuple(TYPES)
GRID = [{"x": x, "y": y, "b": b} for x in range(-9, 10, 3) for y in range(-7, 8, 2) for b in (False, True)]


def expression(node) -> Expression:
    return Expression(node, DSL, INPUTS, tuple(TYPES.values()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(INT, depth=3) | programs(TYPES["b"], depth=3))
def test_sympy_evaluates_like_python(node) -> None:
    import sympy

    e = expression(node)
    expr, python = e.to_sympy(), compile_python(node, INPUTS, dsl=DSL)
    symbols = {s.name: s for s in expr.free_symbols}
    for point in GRID[::7]:
        if reference(node, point).raises:   # plain Python raises there: sympy's x/0 is zoo
            continue
        value = expr.subs({symbols[k]: (sympy.true if v is True else sympy.false if v is False else v)
                           for k, v in point.items() if k in symbols})
        want = python(**point)
        got = bool(value) if isinstance(want, bool) else int(value)
        assert got == want, (DSL.show(node), point)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this machine")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(node=programs(INT, depth=3))
def test_c_computes_like_python_where_int64_holds(node, tmp_path_factory) -> None:
    e = expression(node)
    python = compile_python(node, INPUTS, dsl=DSL)
    # Points where no sub-term leaves int64 and plain semantics are defined: the C export's domain.
    usable = [p for p in GRID if not reference(node, p).overflow]
    folder = tmp_path_factory.mktemp("c")
    calls = "\n".join(f'    printf("%lld\\n", (long long)f({p["x"]}, {p["y"]}, {int(p["b"])}));'
                      for p in usable)
    (folder / "p.c").write_text(e.to_c() + f"\n#include <stdio.h>\nint main(void) {{\n{calls}\n    return 0;\n}}\n")
    subprocess.run(["cc", "-std=c99", "-O1", "-fwrapv", "-o", str(folder / "p"), str(folder / "p.c")],
                   check=True, capture_output=True)
    out = subprocess.run([str(folder / "p")], check=True, capture_output=True, text=True).stdout
    assert [int(v) for v in out.split()] == [int(python(**p)) for p in usable], DSL.show(node)


@settings(max_examples=60, deadline=None)
@given(programs(INT, depth=3), st.sampled_from(GRID))
def test_smtlib_definition_is_the_program(node, point) -> None:
    import z3

    e = expression(node)
    ranges = {"x": (-9, 9), "y": (-7, 7)}
    text = e.to_smtlib(ranges)
    width = int(text.split("(_ BitVec ")[1].split(")")[0])
    want = compile_python(node, INPUTS, dsl=DSL)(**point)
    call = f"(f (_ bv{point['x'] % (1 << width)} {width}) (_ bv{point['y'] % (1 << width)} {width}) " \
           f"{'true' if point['b'] else 'false'})"
    solver = z3.Solver()
    solver.from_string(text + f"(assert (not (= {call} (_ bv{want % (1 << width)} {width}))))")
    assert solver.check() == z3.unsat, (DSL.show(node), point)


@pytest.mark.parametrize("text, latex", [
    ("(x + y) % 113", r"\left(x + y\right) \bmod 113"),
    ("(x ^ y) & 240", r"\left(\left(x \oplus y\right) \mathbin{\&} 240\right)"),
    ("max(x, y) // 3", r"\left\lfloor{\frac{\max\left(x, y\right)}{3}}\right\rfloor"),
])
def test_latex_by_hand(text: str, latex: str) -> None:
    assert Expression.parse(text, {"x": INT, "y": INT}).to_latex() == latex


def test_a_row_without_a_form_is_a_clear_error() -> None:
    from dsl.errors import DSLError

    fixture = Path(__file__).parent / "dsl_user" / "clamp.lark"
    e = Expression.parse("clamp(x, 0, y)", {"x": INT, "y": INT}, dsl=str(fixture))
    with pytest.raises(DSLError, match="operator 'clamp' of DSL .* has no sympy form"):
        e.to_sympy()
