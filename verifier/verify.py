"""`check(program, oracle)`: every judgement of a program against its network, in one value.

The parts are independent modules on plain values (`fidelity`, `equivalence`, `generalisation`,
`speed`); this one picks the points, resolves the reference and assembles a `Verification`, whose
`to_dict()` is the `verification` section of a report (JSON-serialisable: ints, floats, str, bool,
None, lists and dicts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsl import Node, get_dsl
from dsl.errors import DSLError
from dsl.program import Expression
from dsl.types import INT
from oracle.metric import metric_for
from verifier import equivalence, fidelity, generalisation, speed
from verifier.equivalence import Counterexample, Equivalence, Verdict
from verifier.fidelity import Fidelity
from verifier.generalisation import Generalisation, NetworkBeyond
from verifier.speed import Size, Speed


@dataclass(frozen=True)
class Verification:
    """`holds`: agreement with the network reaches `min_agreement` and no counterexample to the
    reference is known (an UNKNOWN verdict does not make it fail, nor count as a proof)."""

    fidelity: Fidelity
    equivalence: Equivalence
    generalisation: Generalisation | None  # None when there is no reference
    network_beyond: NetworkBeyond
    speed: Speed
    size: Size
    min_agreement: float = 1.0
    follows: NetworkBeyond | None = None    # the network against the program found, beyond the range
    beyond_note: str | None = None          # why nothing was compared beyond the range, if so

    @property
    def holds(self) -> bool:
        return (self.fidelity.agreement >= self.min_agreement
                and self.equivalence.verdict is not Verdict.COUNTEREXAMPLE)

    def to_dict(self) -> dict[str, Any]:
        eq, gen = self.equivalence, self.generalisation
        return {
            "fidelity": self.fidelity.to_dict(),
            "reference": eq.verdict.value,
            "counterexample": eq.counterexample.to_dict() if eq.counterexample else None,
            "reference_reason": eq.reason,
            "generalisation": {
                "checked": gen.checked if gen else 0,
                "holds": gen.holds if gen else None,
                "counterexample": gen.counterexample.to_dict()
                if gen and gen.counterexample else None,
                "note": self.beyond_note,
                "network_agreement_beyond_range": self.network_beyond.agreement,
                "network_beyond_range_note": self.network_beyond.note,
                "network_follows_program_beyond_range": self.follows.agreement if self.follows else None,
                "network_follows_points": self.follows.points if self.follows else 0,
                "network_departs_from_program_at": self.follows.departures_dict() if self.follows else [],
                "network_follows_note": self.follows.note if self.follows else None,
            },
            "speed": self.speed.to_dict(),
            "size": self.size.to_dict(),
            "holds": self.holds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Verification":
        """The inverse of `to_dict` (for clients that receive a JSON report)."""
        def counterexample(d: dict[str, Any] | None) -> Counterexample | None:
            return Counterexample(tuple(d["inputs"].items()), d["program"], d["reference"]) if d else None

        g, sp, sz = data["generalisation"], data["speed"], data["size"]
        verdict = Verdict(data["reference"])
        return cls(
            fidelity=Fidelity.from_dict(data["fidelity"]),
            equivalence=Equivalence(verdict, counterexample(data["counterexample"]),
                                    data.get("reference_reason")),
            generalisation=None if g["holds"] is None and not g["checked"]
            else Generalisation(g["checked"], g["holds"], counterexample(g["counterexample"])),
            network_beyond=NetworkBeyond(g["network_agreement_beyond_range"],
                                         note=g["network_beyond_range_note"]),
            follows=NetworkBeyond(g.get("network_follows_program_beyond_range"),
                                  g.get("network_follows_points", 0), g.get("network_follows_note"),
                                  tuple((tuple(d["inputs"].items()), d["network"], d["program"])
                                        for d in g.get("network_departs_from_program_at", []))),
            speed=Speed(sp["network_us_per_query"], sp["program_us_per_query"],
                        sp["python_us_per_query"], 0),
            size=Size(sz["program_nodes"], sz["program_chars"], sz["network_parameters"],
                      sz["network_bytes"]),
            min_agreement=data["fidelity"]["agreement"] if data["holds"] else 1.0,
            beyond_note=g.get("note"))


def check(program: Any, oracle: Any, *, reference: Node | str | None = None,
          min_agreement: float = 1.0, timeout_ms: int = 10_000, max_disagreements: int = 20,
          seed: int = 0, hypothesis_examples: int = 500, sample_size: int = 200_000,
          speed_points: int = 65_536) -> Verification:
    """Judge `program` (an Expression, a Node, or text in the spec's DSL) against `oracle`'s network.

    `reference` (a Node or DSL text; default `oracle.spec.reference`) is proved equal to the
    program on the training range with Z3 (`timeout_ms` per query) and compared beyond it with
    `hypothesis_examples` Hypothesis examples. Raises DSLError for a program or reference that
    does not parse or type-check against the spec's inputs, or whose type is not the output's.
    """
    spec = oracle.spec
    dsl = get_dsl(spec.dsl)
    variables = spec.variables()
    if isinstance(program, Expression):
        dsl, program = program.dsl, program.node
    program = dsl.parse(program, variables) if isinstance(program, str) else program
    if program.type != spec.output.type:
        raise DSLError(f"program: has type {program.type} but the spec's output is "
                       f"{spec.output.type}")
    if reference is None:
        reference = spec.reference
    if isinstance(reference, str):
        reference = dsl.parse(reference, variables)
    gen, beyond_note = None, whole_width(dsl, spec)
    if reference is not None and beyond_note is None:
        gen = generalisation.search(program, reference, variables=variables,
                                    ranges=spec.ranges(), examples=hypothesis_examples, dsl=dsl,
                                    seed=seed)
    return Verification(
        fidelity=fidelity.measure(program, oracle, max_disagreements=max_disagreements,
                                  sample_size=sample_size, seed=seed, dsl=dsl,
                                  metric=metric_for(spec)),
        equivalence=equivalence.prove(program, reference, variables=variables,
                                      ranges=spec.ranges(), timeout_ms=timeout_ms, dsl=dsl),
        generalisation=gen,
        network_beyond=generalisation.network_beyond(oracle, reference, seed=seed, dsl=dsl),
        follows=generalisation.network_beyond(oracle, program, seed=seed, dsl=dsl),
        speed=speed.measure(program, oracle, max_points=speed_points, seed=seed, dsl=dsl),
        size=speed.sizes(program, oracle, dsl=dsl),
        min_agreement=min_agreement,
        beyond_note=beyond_note,
    )


def whole_width(dsl: Any, spec: Any) -> str | None:
    """Why no input lies beyond the training range, or None: in a fixed-width DSL (`bv8`, ...)
    whose int inputs each range over every W-bit value, an input outside the range is not a
    W-bit value at all, and Z3's proof on the range already covers every input there is."""
    width = getattr(dsl, "width", None)
    ints = [i for i in spec.inputs if i.type == INT]
    if width is None or not ints or any((i.lo, i.hi) != (0, (1 << width) - 1) for i in ints):
        return None
    return f"no input lies beyond the training range: the inputs take every {width}-bit value"
