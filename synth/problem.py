"""A synthesis problem: the spec, its network, its DSL, and the literals worth trying."""

from __future__ import annotations

from dataclasses import dataclass

from dsl.ast import Const, Node, Var
from dsl.language import DSL, get_dsl
from dsl.types import BOOL, INT, Type, type_named

#: Powers of two (and 2^k - 1) are offered up to this many bits at most.
MAX_LITERAL_BITS = 16


@dataclass(frozen=True)
class Problem:
    spec: "Spec"                      # noqa: F821  (oracle.spec.Spec)
    oracle: "Oracle"                  # noqa: F821  (oracle.core.Oracle)
    dsl: DSL
    dsl_key: str
    variables: dict[str, Type]
    literals: tuple[Node, ...]
    target_type: Type

    @classmethod
    def from_spec(cls, spec, oracle) -> "Problem":
        dsl = get_dsl(spec.dsl)
        target = type_named(spec.output.type)
        return cls(spec, oracle, dsl, str(spec.dsl), spec.variables(), literal_pool(spec), target)

    def leaves(self) -> dict[Type, list[Node]]:
        """Size-1 programs: the inputs, then the literals, grouped by type."""
        out: dict[Type, list[Node]] = {}
        for name, t in self.variables.items():
            out.setdefault(t, []).append(Var(name, t))
        for lit in self.literals:
            out.setdefault(lit.type, []).append(lit)
        return out


def literal_pool(spec) -> tuple[Node, ...]:
    """0, 1, 2, -1; each range's lo, hi, hi + 1 and size; powers of two and 2^k - 1 up to the bit
    width of the ranges; the spec's `constants`; True and False for a bool output."""
    ints = {0, 1, 2, -1}
    ranges = [(i.lo, i.hi) for i in spec.inputs if i.type == "int"]
    if spec.output.type == "int":
        ranges.append((spec.output.lo, spec.output.hi))
    width = 1
    for lo, hi in ranges:
        ints |= {lo, hi, hi + 1, hi - lo + 1}
        width = max(width, abs(lo).bit_length(), abs(hi).bit_length())
    for k in range(1, min(width, MAX_LITERAL_BITS) + 1):
        ints |= {1 << k, (1 << k) - 1}
    ints |= set(spec.constants)
    pool: list[Node] = [Const(v, INT) for v in sorted(ints, key=lambda v: (abs(v), v))]
    if spec.output.type == "bool":
        pool += [Const(False, BOOL), Const(True, BOOL)]
    return tuple(pool)
