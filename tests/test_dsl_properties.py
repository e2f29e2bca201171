"""The int DSL's three back-ends agree with Python on random well-typed programs.

Ground truth is Python's own unbounded ints: the exported function (`compile_python`), the printed
DSL text run by `eval` (DSL text is Python), and a small reference interpreter written here from
docs/semantics.md, which also records which sub-terms overflow int64 and where plain Python raises.
Against these we check the numpy evaluator (values and its `bad` mask) and the Z3 encoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from dsl import BOOL, INT, App, Const, Var, compile_python, evaluate, get_dsl
from dsl.errors import Z3EncodingError
from dsl.ops import INT64_MAX, INT64_MIN

DSL = get_dsl("int")
TYPES = {"x": INT, "y": INT, "b": BOOL}
INPUTS = list(TYPES)
LO, HI = -300, 300
RANGES = {"x": (LO, HI), "y": (LO, HI)}
# Z3 folds constants quickly even at a few thousand bits, but wide terms from big shifts cost
# milliseconds each; programs whose bit-vectors would be wider than this skip the Z3 check.
Z3_MAX_WIDTH = 2048
# numpy's `mul` flags |float product| >= 9.2e18, a little below 2**63 (see dsl/int.py): exact
# products in that margin may be flagged although they fit. Anything else flagged must overflow.
MUL_MARGIN = 9_190_000_000_000_000_000

# ---- random well-typed programs ---------------------------------------------------------------

INT_BINARY = ["add", "sub", "mul", "floordiv", "mod", "min", "max", "bitand", "bitor", "bitxor"]
INT_UNARY = ["neg", "abs", "invert"]
SHIFTS = ["lshift", "rshift"]
COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge"]
CONNECTIVES = ["and", "or"]
GENERATED = {*INT_BINARY, *INT_UNARY, *SHIFTS, *COMPARISONS, *CONNECTIVES, "not", "ite"}
# Shift counts avoid shifts and products: Python cannot compute x << (x << x).
COUNT_BINARY = ["add", "sub", "floordiv", "mod", "min", "max", "bitand", "bitor", "bitxor"]
LARGE = [2**31, 2**40, -2**40, 2**62, INT64_MAX, INT64_MIN]


@st.composite
def int_literals(draw, *, count: bool = False):
    if count:
        return Const(draw(st.integers(-70, 70)))
    if draw(st.integers(0, 9)) == 0:
        return Const(draw(st.sampled_from(LARGE)))
    return Const(draw(st.integers(-16, 16)))


@st.composite
def programs(draw, type_=INT, depth: int = 4, *, count: bool = False):
    """A well-typed program of type `type_`, built with `DSL.app` (which folds -literal)."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if type_ == BOOL:
            return draw(st.sampled_from([Var("b", BOOL), Const(True, BOOL), Const(False, BOOL)]))
        if draw(st.booleans()):
            return Var(draw(st.sampled_from(["x", "y"])))
        return draw(int_literals(count=count))
    sub = lambda t: programs(t, depth - 1, count=count)  # noqa: E731
    if type_ == INT:
        kinds = ["binary", "unary", "ite"] + ([] if count else ["shift"])
        kind = draw(st.sampled_from(kinds))
        if kind == "binary":
            op = draw(st.sampled_from(COUNT_BINARY if count else INT_BINARY))
            return DSL.app(op, draw(sub(INT)), draw(sub(INT)))
        if kind == "unary":
            return DSL.app(draw(st.sampled_from(INT_UNARY)), draw(sub(INT)))
        if kind == "shift":
            shifted = draw(sub(INT))
            return DSL.app(draw(st.sampled_from(SHIFTS)), shifted,
                           draw(programs(INT, min(depth - 1, 2), count=True)))
        return DSL.app("ite", draw(sub(INT)), draw(sub(BOOL)), draw(sub(INT)))
    kind = draw(st.sampled_from(["compare", "connective", "not", "ite"]))
    if kind == "compare":
        return DSL.app(draw(st.sampled_from(COMPARISONS)), draw(sub(INT)), draw(sub(INT)))
    if kind == "connective":
        return DSL.app(draw(st.sampled_from(CONNECTIVES)), draw(sub(BOOL)), draw(sub(BOOL)))
    if kind == "not":
        return DSL.app("not", draw(sub(BOOL)))
    return DSL.app("ite", draw(sub(BOOL)), draw(sub(BOOL)), draw(sub(BOOL)))


points = st.fixed_dictionaries({"x": st.integers(LO, HI), "y": st.integers(LO, HI),
                                "b": st.booleans()})


def test_the_generator_draws_every_operator_of_the_int_dsl():
    assert GENERATED == set(DSL.operators)


# ---- reference interpreter: Python's ints, evaluated in Python's order --------------------------

@dataclass
class Ref:
    value: int | bool
    overflow: bool = False   # some sub-term Python evaluates lies outside int64
    margin: bool = False     # some evaluated product lies within MUL_MARGIN of the int64 limits
    raises: bool = False     # plain Python (the DSL text) raises: // or % by 0, negative shift
    ints: list = field(default_factory=list)  # (sub-term, value) of every int sub-term


def reference(node, env) -> Ref:
    if isinstance(node, Var):
        return Ref(env[node.name], ints=[(node, env[node.name])] if node.type == INT else [])
    if isinstance(node, Const):
        return Ref(node.value, ints=[(node, node.value)] if node.type == INT else [])
    args = [reference(a, env) for a in node.args]   # total semantics: evaluating more is harmless
    vals = [a.value for a in args]
    op = node.op
    evaluated = args
    if op == "ite":
        evaluated = [args[1], args[0] if vals[1] else args[2]]
        value = vals[0] if vals[1] else vals[2]
    elif op in ("and", "or"):
        short = (not vals[0]) if op == "and" else vals[0]
        evaluated = args[:1] if short else args
        value = vals[0] if short else vals[1]
    else:
        a = vals[0]
        b = vals[1] if len(vals) > 1 else None
        value = {
            "add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
            "floordiv": lambda: a // b if b != 0 else 0, "mod": lambda: a % b if b != 0 else a,
            "neg": lambda: -a, "abs": lambda: abs(a), "min": lambda: min(a, b),
            "max": lambda: max(a, b), "bitand": lambda: a & b, "bitor": lambda: a | b,
            "bitxor": lambda: a ^ b, "invert": lambda: ~a,
            "lshift": lambda: a << b if b >= 0 else 0, "rshift": lambda: a >> b if b >= 0 else 0,
            "eq": lambda: a == b, "ne": lambda: a != b, "lt": lambda: a < b,
            "le": lambda: a <= b, "gt": lambda: a > b, "ge": lambda: a >= b, "not": lambda: not a,
        }[op]()
    out = Ref(value,
              overflow=any(a.overflow for a in evaluated),
              margin=any(a.margin for a in evaluated),
              raises=any(a.raises for a in evaluated),
              ints=[pair for a in args for pair in a.ints])
    if node.type == INT:
        out.ints.append((node, value))
        out.overflow |= not INT64_MIN <= value <= INT64_MAX
        out.margin |= op == "mul" and abs(value) >= MUL_MARGIN
    out.raises |= (op in ("floordiv", "mod") and vals[1] == 0) or \
        (op in ("lshift", "rshift") and vals[1] < 0)
    return out


# ---- the property -------------------------------------------------------------------------------

@settings(max_examples=2000, deadline=None)
@given(program=st.one_of(programs(INT), programs(BOOL)),
       at=st.lists(points, min_size=1, max_size=4))
def test_numpy_python_and_z3_agree_with_python_ints(program, at):
    text = DSL.show(program)
    assert DSL.parse(text, TYPES) == program, text

    exported = compile_python(program, INPUTS)
    refs = [reference(program, p) for p in at]
    truths = [exported(**p) for p in at]
    for p, ref, truth in zip(at, refs, truths):
        assert type(truth) is (bool if program.type == BOOL else int)
        assert truth == ref.value, (text, p)
        # The DSL text is Python: same value wherever plain Python does not raise.
        try:
            plain = eval(text, {"__builtins__": {"abs": abs, "min": min, "max": max}}, dict(p))
        except (ZeroDivisionError, ValueError):
            assert ref.raises, (text, p)
        else:
            assert not ref.raises and plain == truth, (text, p)

    env = {"x": np.array([p["x"] for p in at], np.int64),
           "y": np.array([p["y"] for p in at], np.int64),
           "b": np.array([p["b"] for p in at], bool)}
    result = evaluate(program, env)
    assert result.values.shape == result.bad.shape == (len(at),)
    for i, (ref, truth) in enumerate(zip(refs, truths)):
        if ref.overflow:
            assert result.bad[i], f"{text} at {at[i]}: overflow not flagged"
            event("numpy: overflow flagged")
        elif result.bad[i]:
            assert ref.margin, f"{text} at {at[i]}: flagged but every value fits int64"
        else:
            assert result.values[i] == truth, (text, at[i])

    check_z3(program, text, at, truths, refs)


def check_z3(program, text, at, truths, refs) -> None:
    import z3

    from dsl.ops import signed_bits
    from dsl.smt import bit_width, interval, make_variables, to_z3, value_of

    try:
        width = bit_width([program], RANGES)
    except Z3EncodingError:
        event("z3: skipped, wider than MAX_WIDTH")
        return
    # Soundness of the interval analysis: every sub-term's value lies in its interval, and so
    # fits the width with room to spare (evaluated or not: Z3 builds both branches of an If).
    bounds = {}
    for ref in refs:
        for node, v in ref.ints:
            lo, hi = bounds[node] if node in bounds else bounds.setdefault(
                node, interval(node, RANGES))
            assert lo <= v <= hi, (text, DSL.show(node), v, (lo, hi))
            assert signed_bits(v, v) <= width - 2, (text, width)
    if width > Z3_MAX_WIDTH:
        event("z3: skipped, wide")
        return
    event("z3: checked")
    variables = make_variables(TYPES, width)
    term = to_z3(program, variables)
    for p, truth in zip(at, truths):
        pairs = [(variables["x"], z3.BitVecVal(p["x"], width)),
                 (variables["y"], z3.BitVecVal(p["y"], width)),
                 (variables["b"], z3.BoolVal(p["b"]))]
        assert value_of(z3.simplify(z3.substitute(term, *pairs))) == truth, (text, p, width)


# ---- numpy overflow is flagged, never silently wrapped ----------------------------------------

def run(text: str, **inputs):
    env = {k: np.array(v, np.int64) for k, v in inputs.items()}
    return evaluate(DSL.parse(text, {k: INT for k in inputs}), env)


@pytest.mark.parametrize("text, inputs", [
    ("x * x", {"x": [2**40]}),
    ("4611686018427387904 + 4611686018427387904", {}),          # 2**62 + 2**62
    ("9223372036854775807 + 1", {}),
    ("-9223372036854775808 - 1", {}),
    ("-x", {"x": [INT64_MIN]}),
    ("1 << 70", {}),
    ("1 << 63", {}),
    ("x << 1", {"x": [2**62]}),
    ("3 << x", {"x": [2**40]}),                                  # huge count, nonzero value
    ("abs(x)", {"x": [INT64_MIN]}),
    ("x // -1", {"x": [INT64_MIN]}),
    ("x * -1", {"x": [INT64_MIN]}),
    ("(x * x) % 7 == 0", {"x": [2**32]}),                        # bad reaches a bool result
    ("0 if x * x > 0 else 1", {"x": [2**33]}),                   # ... and through a condition
])
def test_numpy_overflow_is_flagged(text, inputs):
    assert run(text, **inputs).bad.tolist() == [True]


def test_minus_int64_min_literal_is_flagged():
    program = DSL.app("neg", Const(INT64_MIN))      # -(-2**63): cannot fold into a literal
    assert program == App("neg", (Const(INT64_MIN),), INT)
    assert evaluate(program, {}).bad.tolist() == [True]
    assert DSL.parse(DSL.show(program), {}) == program


@pytest.mark.parametrize("text, inputs, value", [
    ("-1 << 63", {}, INT64_MIN),                                  # fits exactly
    ("0 << x", {"x": [10**6]}, 0),
    ("x >> 100", {"x": [-5]}, -1),
    ("9223372036854775807 + 0", {}, INT64_MAX),
    ("-9223372036854775808 % -1", {}, 0),
    ("x * x if x < 10 else 0", {"x": [2**40]}, 0),                # untaken branch overflows
    ("x < 0 and x * x > 0", {"x": [2**40]}, False),              # short-circuited
    ("x > 0 or x * x > 0", {"x": [2**40]}, True),
])
def test_values_that_fit_are_not_flagged(text, inputs, value):
    result = run(text, **inputs)
    assert result.bad.tolist() == [False]
    assert result.values.tolist() == [value]


def test_overflow_is_flagged_per_point():
    result = run("x * y", x=[2, 2**40, -(2**40), 3], y=[5, 2**40, 2**22, -(2**62)])
    assert result.bad.tolist() == [False, True, False, True]
    assert result.values[[0, 2]].tolist() == [10, -(2**62)]
