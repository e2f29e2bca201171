"""The bit-vector DSLs (`bv8`, `bv16`, `bv32`): every back-end computes the semantics doc's values.

Ground truth is a reference interpreter written here from docs/semantics.md ("The bit-vector
DSLs") on Python's ints: signed values by subtracting 2^W, division by truncating a Fraction,
rotations on a list of bits, so that it shares no trick with dsl/bv.py. Against it, on random
well-typed programs of every width: the numpy evaluator, the exported Python, the rows' scalar
forms (what the enumerator's kernels compile) run by Python, and the Z3 term, both on the
verifier's wider vectors and on native W-bit ones; the printer round-trips. sympy and C exports
are checked on fewer programs.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dsl import BOOL, INT, App, Const, Var, compile_python, evaluate, get_dsl
from dsl.bv import WIDTHS, BitVectorDSL
from dsl.errors import DSLError
from dsl.program import Expression

TYPES = {"x": INT, "y": INT, "b": BOOL}
INPUTS = list(TYPES)

INT_BINARY = ["add", "sub", "mul", "udiv", "urem", "sdiv", "srem", "bitand", "bitor", "bitxor",
              "shl", "lshr", "ashr", "rotl", "rotr"]
INT_UNARY = ["negate", "invert"]
COMPARISONS = ["eq", "ne", "ult", "ule", "ugt", "uge", "slt", "sle", "sgt", "sge"]
GENERATED = {*INT_BINARY, *INT_UNARY, *COMPARISONS, "and", "or", "not", "ite"}


def test_the_generator_draws_every_operator_and_every_width_loads():
    for w in WIDTHS:
        language = get_dsl(f"bv{w}")
        assert isinstance(language, BitVectorDSL) and language.width == w
        assert set(language.operators) == GENERATED


# ---- random programs and points ---------------------------------------------------------------

def edges(w: int) -> list[int]:
    """Values where W-bit semantics turn: 0, 1, the sign boundary, all ones, counts near W."""
    m, h = (1 << w) - 1, 1 << (w - 1)
    return [0, 1, 2, w - 1, w, w + 1, h - 1, h, h + 1, m - 1, m]


def values(w: int):
    return st.one_of(st.sampled_from(edges(w)), st.integers(0, (1 << w) - 1))


@st.composite
def programs(draw, w: int, type_=INT, depth: int = 4):
    """A well-typed `bv<w>` program of type `type_` over x, y (ints) and b (bool)."""
    language = get_dsl(f"bv{w}")
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if type_ == BOOL:
            return draw(st.sampled_from([Var("b", BOOL), Const(True, BOOL), Const(False, BOOL)]))
        if draw(st.booleans()):
            return Var(draw(st.sampled_from(["x", "y"])))
        return Const(draw(values(w)))
    sub = lambda t: programs(w, t, depth - 1)  # noqa: E731
    if type_ == INT:
        kind = draw(st.sampled_from(["binary", "unary", "ite"]))
        if kind == "binary":
            return language.app(draw(st.sampled_from(INT_BINARY)), draw(sub(INT)), draw(sub(INT)))
        if kind == "unary":
            return language.app(draw(st.sampled_from(INT_UNARY)), draw(sub(INT)))
        return language.app("ite", draw(sub(INT)), draw(sub(BOOL)), draw(sub(INT)))
    kind = draw(st.sampled_from(["compare", "connective", "not", "ite"]))
    if kind == "compare":
        return language.app(draw(st.sampled_from(COMPARISONS)), draw(sub(INT)), draw(sub(INT)))
    if kind == "connective":
        return language.app(draw(st.sampled_from(["and", "or"])), draw(sub(BOOL)), draw(sub(BOOL)))
    if kind == "not":
        return language.app("not", draw(sub(BOOL)))
    return language.app("ite", draw(sub(BOOL)), draw(sub(BOOL)), draw(sub(BOOL)))


def points(w: int):
    return st.fixed_dictionaries({"x": values(w), "y": values(w), "b": st.booleans()})


@st.composite
def cases(draw, depth: int = 4):
    """(width, program, points) with the program of either type."""
    w = draw(st.sampled_from(WIDTHS))
    program = draw(programs(w, draw(st.sampled_from([INT, BOOL])), depth))
    return w, program, draw(st.lists(points(w), min_size=1, max_size=4))


# ---- reference interpreter, from docs/semantics.md --------------------------------------------

def reference(node, env, w: int):
    m = (1 << w) - 1

    def signed(v: int) -> int:
        return v - (1 << w) if v >= 1 << (w - 1) else v

    def trunc_div(a: int, b: int) -> int:
        return math.trunc(Fraction(a, b))

    def rotate_left(a: int, k: int) -> int:
        bits = [(a >> i) & 1 for i in range(w)]        # bits[i] is bit i
        k %= w
        turned = bits[w - k:] + bits[:w - k]            # bit i moves to bit i + k
        return sum(bit << i for i, bit in enumerate(turned))

    if isinstance(node, Var):
        return env[node.name]
    if isinstance(node, Const):
        return node.value
    args = [reference(a, env, w) for a in node.args]
    a = args[0]
    b = args[1] if len(args) > 1 else None
    op = node.op
    if op == "ite":
        return args[0] if args[1] else args[2]
    return {
        "add": lambda: (a + b) % (m + 1), "sub": lambda: (a - b) % (m + 1),
        "mul": lambda: (a * b) % (m + 1),
        "udiv": lambda: m if b == 0 else a // b,
        "urem": lambda: a if b == 0 else a % b,
        # bvsdiv: x /s 0 is -1 for x >= 0 and 1 for x < 0; otherwise truncate toward zero.
        "sdiv": lambda: ((m if signed(a) >= 0 else 1) if b == 0
                         else trunc_div(signed(a), signed(b)) % (m + 1)),
        "srem": lambda: (a if b == 0 else
                         (signed(a) - signed(b) * trunc_div(signed(a), signed(b))) % (m + 1)),
        "negate": lambda: (-a) % (m + 1), "invert": lambda: m - a,
        "bitand": lambda: a & b, "bitor": lambda: a | b, "bitxor": lambda: a ^ b,
        "shl": lambda: 0 if b >= w else (a * 2**b) % (m + 1),
        "lshr": lambda: 0 if b >= w else a // 2**b,
        "ashr": lambda: math.floor(Fraction(signed(a), 2**min(b, w))) % (m + 1),
        "rotl": lambda: rotate_left(a, b), "rotr": lambda: rotate_left(a, w - b % w),
        "eq": lambda: a == b, "ne": lambda: a != b, "ult": lambda: a < b, "ule": lambda: a <= b,
        "ugt": lambda: a > b, "uge": lambda: a >= b,
        "slt": lambda: signed(a) < signed(b), "sle": lambda: signed(a) <= signed(b),
        "sgt": lambda: signed(a) > signed(b), "sge": lambda: signed(a) >= signed(b),
        "and": lambda: a and b, "or": lambda: a or b, "not": lambda: not a,
    }[op]()


def scalar(node, env, language):
    """The program through its rows' scalar forms, in plain Python."""
    if isinstance(node, Var):
        return env[node.name]
    if isinstance(node, Const):
        return node.value
    args = [scalar(a, env, language) for a in node.args]
    return language.operators[node.op].scalar(*args)


# ---- the property -------------------------------------------------------------------------------

@settings(max_examples=1000, deadline=None)
@given(case=cases())
def test_numpy_python_scalar_and_z3_agree_with_the_reference(case):
    w, program, at = case
    language = get_dsl(f"bv{w}")
    text = language.show(program)
    assert language.parse(text, TYPES) == program, text

    truths = [reference(program, p, w) for p in at]
    exported = compile_python(program, INPUTS, dsl=language)
    for p, truth in zip(at, truths):
        if program.type == INT:
            assert 0 <= truth < 1 << w
        assert exported(**p) == truth, (text, p)
        assert scalar(program, p, language) == truth, (text, p)

    env = {"x": np.array([p["x"] for p in at], np.int64),
           "y": np.array([p["y"] for p in at], np.int64),
           "b": np.array([p["b"] for p in at], bool)}
    result = evaluate(program, env, dsl=language)
    assert not result.bad.any(), text
    assert result.values.tolist() == truths, text

    check_z3(program, language, at, truths)


def check_z3(program, language, at, truths) -> None:
    import z3

    from dsl.smt import bit_width, make_variables, to_z3, value_of

    w = language.width
    ranges = {"x": (0, (1 << w) - 1), "y": (0, (1 << w) - 1)}
    wide = bit_width([program], ranges, dsl=language)
    assert wide > w + 1                    # unsigned W-bit values read back as they are
    for width, read in ((wide, value_of), (w, lambda t: t.as_long() if z3.is_bv_value(t)
                                           else value_of(t))):
        variables = make_variables(TYPES, width)
        term = to_z3(program, variables, dsl=language, width=width)
        for p, truth in zip(at, truths):
            pairs = [(variables["x"], z3.BitVecVal(p["x"], width)),
                     (variables["y"], z3.BitVecVal(p["y"], width)),
                     (variables["b"], z3.BoolVal(p["b"]))]
            got = read(z3.simplify(z3.substitute(term, *pairs)))
            assert got == truth, (language.show(program), p, width)
    event(f"z3: bv{w}")


@settings(max_examples=300, deadline=None)
@given(case=cases(), x=st.integers(-2**70, 2**70), y=st.integers(-300, 300))
def test_the_exported_python_returns_for_ints_that_are_no_w_bit_values(case, x, y):
    """Meaningless there, but what the verifier's search beyond the range calls it with."""
    w, program, _ = case
    got = compile_python(program, INPUTS, dsl=get_dsl(f"bv{w}"))(x=x, y=y, b=True)
    assert type(got) is (bool if program.type == BOOL else int)


# ---- by hand -------------------------------------------------------------------------------

def run(text: str, w: int = 8, **inputs) -> list:
    language = get_dsl(f"bv{w}")
    program = language.parse(text, {k: INT for k in inputs})
    env = {k: np.array(v, np.int64) for k, v in inputs.items()}
    got = evaluate(program, env, dsl=language)
    assert not got.bad.any()
    python = compile_python(program, list(inputs), dsl=language)
    n = len(next(iter(inputs.values()))) if inputs else 1
    assert got.values.tolist() == [python(**{k: v[i] for k, v in inputs.items()})
                                   for i in range(n)], text
    return got.values.tolist()


@pytest.mark.parametrize("text, inputs, want, w", [
    ("x ^ (x - 1)", {"x": [0, 1, 12, 128]}, [255, 1, 7, 255], 8),
    ("x & x - 1", {"x": [0, 1, 12, 255]}, [0, 0, 8, 254], 8),
    ("x + 1", {"x": [255, 65535]}, [256, 0], 16),
    ("-x", {"x": [0, 1, 128]}, [0, 255, 128], 8),
    ("~x", {"x": [0, 0xF0]}, [255, 0x0F], 8),
    ("x * 3", {"x": [100]}, [44], 8),                           # 300 mod 256
    ("x * x", {"x": [0xFFFFFFFF]}, [1], 32),                    # (2^32 - 1)^2 mod 2^32
    ("x /u 0", {"x": [0, 7, 255]}, [255, 255, 255], 8),         # bvudiv by 0: all ones
    ("x %u 0", {"x": [0, 7, 255]}, [0, 7, 255], 8),             # bvurem by 0: x
    ("x /s 0", {"x": [0, 5, 127, 128, 255]}, [255, 255, 255, 1, 1], 8),
    ("x %s 0", {"x": [5, 200]}, [5, 200], 8),
    ("x /s 255", {"x": [128, 7, 249]}, [128, 249, 7], 8),       # -128 / -1 wraps; 7 / -1; -7 / -1
    ("x /s 2", {"x": [249]}, [253], 8),                         # -7 / 2 == -3 (toward zero)
    ("x %s 2", {"x": [249, 7]}, [255, 1], 8),                   # -7 rem 2 == -1: the dividend's sign
    ("x %s 254", {"x": [7]}, [1], 8),                           # 7 rem -2 == 1
    ("x << y", {"x": [1, 1, 255], "y": [7, 8, 200]}, [128, 0, 0], 8),
    ("x >>u y", {"x": [128, 128], "y": [7, 8]}, [1, 0], 8),
    ("x >>s y", {"x": [128, 128, 127, 128], "y": [1, 8, 9, 255]}, [192, 255, 0, 255], 8),
    ("rotl(x, y)", {"x": [0x81, 0x81, 0x81], "y": [1, 8, 9]}, [0x03, 0x81, 0x03], 8),
    ("rotr(x, y)", {"x": [0x81, 0x8001], "y": [1, 17]}, [0x8040, 0xC000], 16),
    ("rotl(x, 4)", {"x": [0x12345678]}, [0x23456781], 32),
])
def test_values_by_hand(text, inputs, want, w):
    assert run(text, w, **inputs) == want


@pytest.mark.parametrize("text, want", [
    ("128 <u 127", False), ("128 <s 127", True), ("255 >s 0", False), ("255 >u 0", True),
    ("127 <=s 127", True), ("0 >=s 128", True), ("255 == 255", True), ("1 != 1", False),
])
def test_comparisons_read_signed_or_unsigned(text, want):
    assert run(text) == [want]


def test_printing_round_trips_and_keeps_the_suffixes():
    language = get_dsl("bv8")
    variables = {"x": INT, "y": INT, "z": INT}
    for text, shown in [
        ("x ^ (x - 1)", "x ^ x - 1"),              # Python's precedence: - binds tighter
        ("(x | y) <s z", "(x | y) <s z"),          # kept: the Python export reads it under ^
        ("(x ^ y) <u z", "x ^ y <u z"),
        ("x >>u 1 >>s 2", "x >>u 1 >>s 2"),
        ("x /u (y %s z)", "x /u (y %s z)"),
        ("rotl(x + 1, y if x <u 3 else z)", "rotl(x + 1, y if x <u 3 else z)"),
        ("-(-x)", "--x"),
        ("-1", "-1"),
    ]:
        program = language.parse(text, variables)
        assert language.show(program) == shown
        assert language.parse(shown, variables) == program


def test_literals_are_w_bit_values():
    bv8 = get_dsl("bv8")
    assert bv8.parse("-1", {}) == App("negate", (Const(1),), INT)     # no literal folding
    assert run("-1") == [255]
    assert get_dsl("bv16").parse("65535", {}) == Const(65535)
    for text in ("256", "x + 300", "x if x <u 1000 else 0"):
        with pytest.raises(DSLError, match=r"not a bv8 value: expected an int in \[0, 255\]"):
            bv8.parse(text, {"x": INT})


@pytest.mark.parametrize("literal", [-1, 256, 1 << 40])
def test_an_argument_that_is_no_w_bit_value_makes_the_point_bad(literal):
    """What the search meets when its literal pool offers such ints (docs/semantics.md)."""
    bv8 = get_dsl("bv8")
    x = Var("x")
    env = {"x": np.array([0, 5], np.int64)}
    for op in ("add", "udiv", "shl", "ult", "eq"):
        assert evaluate(App(op, (x, Const(literal)), bv8.operators[op].result_type), env,
                        dsl=bv8).bad.tolist() == [True, True], op
    taken = App("ite", (Const(literal), Var("b", BOOL), x), INT)
    got = evaluate(taken, {**env, "b": np.array([True, False])}, dsl=bv8)
    assert got.bad.tolist() == [True, False]
    overflow = bv8.operators["ult"].overflow        # the checked kernels' test, per point
    assert overflow(0, literal) and not overflow(0, 255)


def test_the_verifier_proves_and_refutes_bv8_programs():
    from verifier.equivalence import Verdict, prove

    bv8 = get_dsl("bv8")
    variables, ranges = {"x": INT}, {"x": (0, 255)}
    same = prove(bv8.parse("x ^ (x - 1)", variables), bv8.parse("-x ^ ~x", variables),
                 variables=variables, ranges=ranges, dsl=bv8)
    assert same.verdict == Verdict.EQUIVALENT
    differ = prove(bv8.parse("x & x + 1", variables), bv8.parse("x & (x - 1)", variables),
                   variables=variables, ranges=ranges, dsl=bv8)
    assert differ.verdict == Verdict.COUNTEREXAMPLE
    point = differ.counterexample
    x = dict(point.inputs)["x"]
    assert 0 <= x <= 255 and point.program == x & ((x + 1) % 256) != point.reference


# ---- exports beyond Python ---------------------------------------------------------------------

GRID = [{"x": x, "y": y, "b": b} for x in (0, 1, 7, 127, 128, 200, 255)
        for y in (0, 1, 3, 8, 129, 255) for b in (False, True)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=programs(8, INT, 3) | programs(8, BOOL, 3))
def test_sympy_evaluates_like_python(node):
    import sympy

    language = get_dsl("bv8")
    expr = Expression(node, language, tuple(INPUTS), tuple(TYPES.values())).to_sympy()
    symbols = {s.name: s for s in expr.free_symbols}
    for point in GRID[::9]:
        value = expr.subs({symbols[k]: (sympy.true if v is True else sympy.false if v is False
                                        else v) for k, v in point.items() if k in symbols})
        want = reference(node, point, 8)
        assert (bool(value) if isinstance(want, bool) else int(value)) == want, \
            (language.show(node), point)


def test_sympy_keeps_nested_modulo_as_written():
    """sympy 1.14 evaluates Mod(2*Mod(x, 128), 256) to 2*Mod(Mod(x, 128)**2, 128): 98 at 7."""
    e = Expression.parse("0 + 2 * x", {"x": INT}, dsl="bv8").to_sympy()
    assert e.subs({next(iter(e.free_symbols)): 7}) == 14


def test_latex_names_the_operators_sympy_has_no_symbol_for():
    e = Expression.parse("x /s y + rotl(x, 3)", {"x": INT, "y": INT}, dsl="bv8")
    assert r"\operatorname{sdiv}\left(x, y\right)" in e.to_latex()
    assert r"\operatorname{rotl}\left(x, 3\right)" in e.to_latex()


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this machine")
@settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(w=st.sampled_from(WIDTHS), data=st.data())
def test_c_computes_like_python(w, data, tmp_path_factory):
    node = data.draw(programs(w, INT, 3))
    language = get_dsl(f"bv{w}")
    scale = (1 << w) // 256
    grid = [{k: (v if k == "b" or v <= 8 else v * scale + (v > 127) * (scale - 1))
             for k, v in p.items()} for p in GRID]          # the same edges, at width w
    e = Expression(node, language, tuple(INPUTS), tuple(TYPES.values()))
    folder = tmp_path_factory.mktemp("c")
    calls = "\n".join(f'    printf("%lld\\n", (long long)f({p["x"]}, {p["y"]}, {int(p["b"])}));'
                      for p in grid)
    (folder / "p.c").write_text(e.to_c() + f"\n#include <stdio.h>\nint main(void) {{\n{calls}\n"
                                           f"    return 0;\n}}\n")
    subprocess.run(["cc", "-std=c99", "-O1", "-o", str(folder / "p"), str(folder / "p.c")],
                   check=True, capture_output=True)
    out = subprocess.run([str(folder / "p")], check=True, capture_output=True, text=True).stdout
    assert [int(v) for v in out.split()] == [reference(node, p, w) for p in grid], \
        language.show(node)


# ---- the enumerator's compiled kernels -----------------------------------------------------------

@pytest.mark.parametrize("key, name", [(f"bv{w}", name) for w in (8, 32)
                                       for name in sorted(GENERATED - {"and", "or", "not"})])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_kernels_compute_what_numpy_does_wherever_the_enumerator_runs_them(key, name, data):
    """numba's int64 is not Python's int: products wrap, shifts past 63 are undefined."""
    from synth.int_engine.bank import fingerprint_key, fingerprints, segment
    from synth.int_engine.blocks import kernel_applies
    from synth.int_engine.kernels import kernel

    language = get_dsl(key)
    w, row = language.width, language.operators[name]
    at = data.draw(st.sampled_from([INT, BOOL])) if name == "ite" else None
    types = [at if t.var else t for t in row.arg_types]
    result = at if row.result_type.var else row.result_type
    ints = st.one_of(values(w), st.sampled_from([-1, 1 << w, 1 << 40]))   # some no W-bit value
    args = [np.array(data.draw(st.lists(st.lists(st.booleans() if t == BOOL else ints,
                                                 min_size=3, max_size=3),
                                        min_size=1, max_size=3)), t.np_dtype) for t in types]
    compiled = kernel(key, row)
    parts = [(segment(a, 0), 0, len(a)) for a in args]
    if not kernel_applies(row, compiled, result, parts):
        event("numpy's checked path")
        return
    n = int(np.prod([len(a) for a in args]))
    fps, ok = np.empty(n, np.uint64), np.empty(n, bool)
    compiled.fingerprints(args, fingerprint_key(3), fps, ok)
    got = np.empty((n, 3), result.np_dtype)
    compiled.values(args, np.arange(n, dtype=np.int64), got)
    shaped = [a.reshape([len(a) if i == k else 1 for i in range(len(args))] + [3])
              for k, a in enumerate(args)]
    want, bad = row.numpy(*shaped)
    want = np.broadcast_to(want, tuple(len(a) for a in args) + (3,)).reshape(n, 3)
    bad = np.zeros((n, 3), bool) if bad is None else \
        np.broadcast_to(bad, tuple(len(a) for a in args) + (3,)).reshape(n, 3)
    assert ok.tolist() == (~bad.any(axis=1)).tolist(), name
    assert got[ok].tolist() == want[ok].tolist(), name
    assert fps[ok].tolist() == fingerprints(want[ok], fingerprint_key(3)).tolist()
    event("kernel (checked)" if compiled.checked else "kernel")
