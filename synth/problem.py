"""A synthesis problem: the spec, its network, its DSL, the literals worth trying, and the
metric by which a program's values are compared with the network's.

The literals are the spec's (`literal_pool`) plus those the network itself shows
(`synth.intprobes.literals`: plateaus, extremes, slope changes), read from the oracle when the
problem is made; `notes` says which came from where, and which DSL the search uses and why.

The search families today handle int and bool functions only: `Problem.from_spec` refuses a spec
with a real output or real inputs with a `SpecError` naming the field, until a real family exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl.ast import Const, Node, Var
from dsl.errors import SpecError
from dsl.language import DSL, get_dsl
from dsl.types import BOOL, INT, Type
from oracle.metric import Metric, metric_for

#: The types the search can handle, as inputs and as the output.
SEARCHABLE = (INT, BOOL)

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
    metric: Metric                    # how a program's values are compared with the network's
    notes: tuple[str, ...] = ()       # the DSL chosen and why; the literals read from the network
    discover: bool = True             # whether the search probes the network for structure

    @classmethod
    def from_spec(cls, spec, oracle, *, discover: bool = True) -> "Problem":
        """The problem of `spec`'s network; `SpecError` for a type no search family handles.
        `discover`: also query the network for literals (synth.intprobes.literals), and let the
        search probe it for structure (synth.intprobes.decompose)."""
        if spec.output.type not in SEARCHABLE:
            raise SpecError(f"output.type: no search family handles {spec.output.type} outputs yet (the "
                            f"int DSL searches int and bool functions), got {spec.output.type.name!r}")
        for k, inp in enumerate(spec.inputs):
            if inp.type not in SEARCHABLE:
                raise SpecError(f"inputs[{k}].type: no search family handles {inp.type} inputs yet (the "
                                f"int DSL searches int and bool functions), got {inp.type.name!r}")
        from oracle.implied import implied_dsl

        dsl = get_dsl(spec.dsl)
        implied, why = implied_dsl(spec.inputs, spec.output)
        # Which DSL, when it is not the plain default: chosen from the encoding, or named.
        notes = ([f"DSL {dsl.name}: {why}"] if implied == spec.dsl and implied != "int"
                 else [f"DSL {dsl.name}, as the spec names it"] if spec.dsl != "int" else [])
        pool = literal_pool(spec)
        if discover:
            extra = _from_oracle(spec, oracle, pool, dsl)
            pool += tuple(Const(f.value, INT) for f in extra)
            if extra:
                from synth.intprobes.literals import note as literals_note

                notes.append(literals_note(extra))
        return cls(spec, oracle, dsl, str(spec.dsl), spec.variables(), pool,
                   spec.output.type, metric_for(spec), tuple(notes), discover)

    def leaves(self) -> dict[Type, list[Node]]:
        """Size-1 programs: the inputs, then the literals, grouped by type."""
        out: dict[Type, list[Node]] = {}
        for name, t in self.variables.items():
            out.setdefault(t, []).append(Var(name, t))
        for lit in self.literals:
            out.setdefault(lit.type, []).append(lit)
        return out


def _from_oracle(spec, oracle, pool, dsl) -> list:
    """The literals the network shows that the pool lacks (synth.intprobes.literals)."""
    from synth.intprobes.literals import discover

    known = {c.value for c in pool if c.type == INT}
    return discover(spec, oracle, known=known, fits=_fits(dsl))


def _fits(dsl):
    """Which ints are literals of `dsl`: the W-bit values but 2^W - 1 for a bit-vector DSL
    (`~0` is that at size 2, and as a literal it makes `x + 255` as small as `x - 1`), any
    int otherwise."""
    width = getattr(dsl, "width", None)
    if width is None:
        return lambda v: True
    return lambda v: 0 <= v < (1 << width) - 1


def literal_pool(spec) -> tuple[Node, ...]:
    """0, 1, 2, -1; each range's lo, hi, hi + 1 and size; powers of two and 2^k - 1 up to the bit
    width of the ranges; the spec's `constants`; True and False for a bool output. For a
    bit-vector DSL only those that are W-bit values below 2^W - 1 (`_fits`)."""
    ints = {0, 1, 2, -1}
    ranges = [(i.lo, i.hi) for i in spec.inputs if i.type == INT]
    if spec.output.type == INT:
        ranges.append((spec.output.lo, spec.output.hi))
    width = 1
    for lo, hi in ranges:
        ints |= {lo, hi, hi + 1, hi - lo + 1}
        width = max(width, abs(lo).bit_length(), abs(hi).bit_length())
    for k in range(1, min(width, MAX_LITERAL_BITS) + 1):
        ints |= {1 << k, (1 << k) - 1}
    ints |= set(spec.constants)
    fits = _fits(get_dsl(spec.dsl))
    ints = {v for v in ints if fits(v)}
    pool: list[Node] = [Const(v, INT) for v in sorted(ints, key=lambda v: (abs(v), v))]
    if spec.output.type == BOOL:
        pool += [Const(False, BOOL), Const(True, BOOL)]
    return tuple(pool)
