"""Prove a program equal to a reference on the training range, or refute it, with Z3.

`prove(program, reference, variables=..., ranges=...)` asks Z3 whether some input with every int
in its range (bools free) makes the two programs differ. The bit-vectors are sized by
`dsl.smt.bit_width` so that no term wraps on that range: a proof is a proof about the Python
programs. Every query gets its own `z3.Context` (queries may run in threads) and a time limit.

Outcomes are a `Verdict`; `unknown` is its own outcome, never read as yes or no. A counterexample
from Z3 is re-checked by running both exported Python functions on it; if they agree after all, the
result is UNKNOWN with a reason saying so (that would be a bug in an operator's Z3 row).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Mapping

from dsl import DSL, Node, Type, compile_python, get_dsl
from dsl.errors import DSLError, Z3EncodingError
from dsl.smt import bit_width, make_variables, to_z3, value_of
from dsl.types import INT

Value = int | bool


class Verdict(enum.Enum):
    """How a program compares with its reference on the training range."""

    EQUIVALENT = "equivalent"
    COUNTEREXAMPLE = "counterexample"
    UNKNOWN = "unknown"
    NO_REFERENCE = "none"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Counterexample:
    """Inputs (name, value) in input order where the two programs differ, with both values."""

    inputs: tuple[tuple[str, Value], ...]
    program: Value
    reference: Value

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": dict(self.inputs), "program": self.program,
                "reference": self.reference}


@dataclass(frozen=True)
class Equivalence:
    """`counterexample` is set iff the verdict is COUNTEREXAMPLE, `reason` iff it is UNKNOWN."""

    verdict: Verdict
    counterexample: Counterexample | None = None
    reason: str | None = None


def prove(program: Node, reference: Node | None, *, variables: Mapping[str, Type],
          ranges: Mapping[str, tuple[int, int]], timeout_ms: int = 10_000,
          dsl: DSL | None = None) -> Equivalence:
    """Decide `program == reference` for every input with ints in `ranges` (bools unconstrained).

    `variables` gives every input's type, in input order. Raises DSLError when the two programs
    have different result types. A program too wide to encode gives UNKNOWN with the reason.
    """
    if reference is None:
        return Equivalence(Verdict.NO_REFERENCE)
    if program.type != reference.type:
        raise DSLError(f"cannot compare a program of type {program.type} with a reference of "
                       f"type {reference.type}")
    import z3

    dsl = dsl or get_dsl("int")
    int_ranges = {name: tuple(ranges[name]) for name, t in variables.items() if t == INT}
    try:
        width = bit_width([program, reference], int_ranges, dsl=dsl)
    except Z3EncodingError as e:
        return Equivalence(Verdict.UNKNOWN, reason=str(e))
    ctx = z3.Context()
    terms = make_variables(variables, width, ctx=ctx)
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", int(timeout_ms))
    for name, (lo, hi) in int_ranges.items():
        solver.add(terms[name] >= lo, terms[name] <= hi)
    solver.add(to_z3(program, terms, dsl=dsl, width=width, ctx=ctx)
               != to_z3(reference, terms, dsl=dsl, width=width, ctx=ctx))
    answer = solver.check()
    if answer == z3.unsat:
        return Equivalence(Verdict.EQUIVALENT)
    if answer == z3.unknown:
        return Equivalence(Verdict.UNKNOWN, reason=solver.reason_unknown() or "unknown")
    model = solver.model()
    inputs = {name: value_of(model.eval(term, model_completion=True))
              for name, term in terms.items()}
    return _recheck(program, reference, inputs, dsl)


def _recheck(program: Node, reference: Node, inputs: dict[str, Value], dsl: DSL) -> Equivalence:
    names = list(inputs)
    got = compile_python(program, names, dsl=dsl)(**inputs)
    want = compile_python(reference, names, dsl=dsl)(**inputs)
    if got == want:
        return Equivalence(Verdict.UNKNOWN, reason=f"Z3 reported a counterexample {inputs} on "
                           f"which both programs give {got!r} in Python; not trusted")
    return Equivalence(Verdict.COUNTEREXAMPLE, Counterexample(tuple(inputs.items()), got, want))
