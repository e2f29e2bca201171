"""The spec: what the network's inputs and output mean (see docs/spec.md for the format).

`load_spec(source, *, base_dir=None) -> Spec` reads a path (.json or .toml), JSON text or a dict and
validates every field against the codec rows of `oracle.encoding`; any mistake raises `SpecError`
naming the field, the offending value and what was expected. Types are `dsl.types` values (`INT`,
`BOOL`, `REAL`); the format names them "int", "bool", "real". Whether the model's shapes fit the
spec is checked when the model is loaded (`oracle.load`), not here.

What passes validation runs: input names are ASCII identifiers (Python reads identifiers after
NFKC normalisation, and the DSLs' variables are ASCII, so a name like 'ﬁ' would be another name,
'fi'), constants fit int64, scales and offsets are finite and sane, every encoding and the
network's whole input and output are at most 2^20 columns wide (`oracle.encoding`).
"""

from __future__ import annotations

import json
import keyword
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from dsl.errors import SpecError
from dsl.types import BOOL, INT, REAL, Type
from oracle import domains
from oracle.encoding import (DECODINGS, DEFAULT_DECODING, DEFAULT_ENCODING, ENCODINGS, INT_LIMIT,
                             MAX_COLUMNS, Codec, encode_width, shown)
from oracle.units import port_units

TOP_KEYS = ("name", "model", "inputs", "output", "dsl", "reference", "constants", "family", "sequence")
#: The kinds of network, each searched by its own family (netsynth/api.py `FAMILIES`).
FAMILY_NAMES = ("function", "real", "rule", "stateful", "automaton")
RESERVED_NAMES = frozenset({"abs", "min", "max", "True", "False"})
TYPES = {"int": INT, "bool": BOOL, "real": REAL}  # the types a spec may name
MAX_REAL = 1e12            # real ranges: finite, magnitudes at most this
INT64 = (-2**63, 2**63 - 1)
SEQUENCE_KEYS = ("length", "output")
SEQUENCE_OUTPUTS = ("per_step", "final")
MAX_SEQUENCE_LENGTH = 4096   # the longest training length a spec may state
AUTOMATON_CLASSES = 16       # a final int output with at most this many values is an automaton's


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: Type            # INT, BOOL or REAL
    lo: int | float       # ints for INT and BOOL (0, 1), floats for REAL
    hi: int | float
    encoding: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)  # defaults filled in
    units: Mapping[str, float] | None = field(default=None, hash=False)  # SI exponents (oracle.units)


@dataclass(frozen=True)
class OutputSpec:
    type: Type
    lo: int | float | None  # None only for a real output given without a range
    hi: int | float | None
    decoding: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # A real output's agreement: |program - network| <= abs + rel * |network| (oracle.metric).
    tolerance: tuple[float, float] | None = None   # (abs, rel); None: the metric's default
    units: Mapping[str, float] | None = field(default=None, hash=False)  # SI exponents (oracle.units)


@dataclass(frozen=True)
class SequenceSpec:
    """The spec's `sequence` section: the network reads sequences of min_len..max_len steps, each
    step the spec's inputs, and answers once at the end (`final`) or after every step (`per_step`)."""

    min_len: int
    max_len: int
    output: str   # "final" or "per_step"

    @property
    def per_step(self) -> bool:
        return self.output == "per_step"


@dataclass(frozen=True)
class Spec:
    name: str
    inputs: tuple[InputSpec, ...]
    output: OutputSpec
    dsl: str = "int"  # "int" or an absolute path to a user .lark file
    reference: str | None = None
    constants: tuple[int, ...] = ()
    model: Path | None = None
    source: Path | None = field(default=None, compare=False)  # the spec file, when loaded from one
    family_given: str | None = None   # the spec's "family" field, when it names one
    sequence: SequenceSpec | None = None  # present for a network that reads sequences of steps

    @property
    def family(self) -> str:
        """Which search family fits this network: the spec's "family" when given; otherwise
        "real" for a real output, "rule" for real inputs with an int or bool output, "function"
        for int and bool functions."""
        if self.family_given is not None:
            return self.family_given
        if self.sequence is not None:  # "automaton" for a final bool or few-class answer
            return "automaton" if _automaton_output(self) else "stateful"
        if self.output.type == REAL:
            return "real"
        if any(i.type == REAL for i in self.inputs):
            return "rule"
        return "function"

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    def variables(self) -> dict[str, Type]:
        return {i.name: i.type for i in self.inputs}

    def ranges(self) -> dict[str, tuple[int | float, int | float]]:
        return {i.name: (i.lo, i.hi) for i in self.inputs}

    def domain(self) -> domains.IntegerLattice | domains.RealBox | domains.Sequences:
        """Where the inputs live: an integer lattice for int/bool inputs, a real box for reals;
        for a sequence spec, the sequences of those steps of the spec's lengths."""
        step = domains.for_inputs(self.inputs)
        if self.sequence is None:
            return step
        return domains.Sequences(step, self.sequence.min_len, self.sequence.max_len)

    def domain_size(self) -> int | float:
        """The number of points of the input domain (math.inf for real inputs)."""
        return self.domain().size

    def to_dict(self) -> dict[str, Any]:
        """A plain dict that `load_spec` turns back into an equal Spec (paths made absolute)."""
        def port(kind: str, codec: str, p: InputSpec | OutputSpec) -> dict[str, Any]:
            bounds = {} if p.lo is None else {"range": [p.lo, p.hi]}
            tolerance = getattr(p, "tolerance", None)
            extra = {} if tolerance is None else {"tolerance": {"abs": tolerance[0],
                                                               "rel": tolerance[1]}}
            units = {} if p.units is None else {"units": dict(p.units)}
            return {"type": p.type.name, **bounds, kind: codec, **dict(p.params), **extra, **units}
        out: dict[str, Any] = {
            "name": self.name,
            "inputs": [{"name": i.name, **port("encoding", i.encoding, i)} for i in self.inputs],
            "output": port("decoding", self.output.decoding, self.output),
            "dsl": self.dsl, "constants": list(self.constants)}
        if self.reference is not None:
            out["reference"] = self.reference
        if self.model is not None:
            out["model"] = str(self.model)
        if self.family_given is not None:
            out["family"] = self.family_given
        if self.sequence is not None:
            out["sequence"] = {"length": [self.sequence.min_len, self.sequence.max_len],
                               "output": self.sequence.output}
        return out


def load_spec(source: str | Path | Mapping[str, Any], *, base_dir: str | Path | None = None) -> Spec:
    """Parse and validate a spec; relative `model`/`dsl` paths resolve against the spec's folder."""
    path = None
    if isinstance(source, Mapping):
        raw = dict(source)
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        try:
            raw = json.loads(source)
        except ValueError as e:  # JSONDecodeError, or an int literal of more than 4300 digits
            raise SpecError(f"spec: invalid JSON ({e})") from None
    elif isinstance(source, (str, Path)):
        path = Path(source).resolve()
        raw = _read_file(path)
    else:
        raise SpecError(f"spec: expected a path, JSON text or a dict, got {type(source).__name__}")
    if not isinstance(raw, dict):
        raise SpecError(f"spec: expected an object at the top level, got {type(raw).__name__}")
    base = Path(base_dir).resolve() if base_dir is not None else (path.parent if path else Path.cwd())
    return _build(raw, base, path)


def _read_file(path: Path) -> Any:
    if not path.is_file():
        raise SpecError(f"spec: no such file {str(path)!r}")
    text = path.read_text()
    try:
        return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except ValueError as e:  # JSON/TOML decode errors, or an int literal of more than 4300 digits
        raise SpecError(f"spec: cannot parse {str(path)!r} ({e})") from None


def _build(raw: dict[str, Any], base: Path, path: Path | None) -> Spec:
    _no_unknown_keys("spec", raw, TOP_KEYS)
    for key in ("inputs", "output"):
        if key not in raw:
            raise SpecError(f"{key}: missing required field")
    if not isinstance(raw["inputs"], list) or not raw["inputs"]:
        raise SpecError(f"inputs: expected a non-empty list, got {shown(raw['inputs'])}")
    inputs = tuple(_input(f"inputs[{k}]", item) for k, item in enumerate(raw["inputs"]))
    _check_inputs(inputs)
    output = _output(raw["output"])
    name = _string("name", raw.get("name", path.stem if path else "spec"))
    dsl = _string("dsl", raw["dsl"]) if "dsl" in raw else _implied_dsl(inputs, output)[0]
    if dsl != "int" and (dsl.endswith(".lark") or "/" in dsl):
        dsl = str((base / dsl).resolve())
    reference = raw.get("reference")
    if reference is not None:
        reference = _string("reference", reference)
    constants = raw.get("constants", [])
    if not isinstance(constants, list) or not all(_is_int(c) for c in constants):
        raise SpecError(f"constants: expected a list of ints, got {shown(constants)}")
    for k, c in enumerate(constants):
        if not INT64[0] <= c <= INT64[1]:
            raise SpecError(f"constants[{k}]: expected an int in [-2^63, 2^63 - 1] (the DSL's int64 "
                            f"literals), got {shown(c)}")
    model = raw.get("model")
    model = (base / _string("model", model)).resolve() if model is not None else None
    family = raw.get("family")
    if family is not None and family not in FAMILY_NAMES:
        raise SpecError(f"family: expected one of {', '.join(FAMILY_NAMES)}, got {shown(family)}")
    sequence = _sequence(raw["sequence"]) if "sequence" in raw else None
    spec = Spec(name, inputs, output, dsl, reference, tuple(constants), model, path, family, sequence)
    if sequence is not None:
        _check_sequence_family(spec)
    return spec


def _sequence(item: Any) -> SequenceSpec:
    """The `sequence` section: {"length": [lo, hi], "output": "per_step" | "final"}."""
    if not isinstance(item, dict):
        raise SpecError(f"sequence: expected an object with 'length' and 'output', got {shown(item)}")
    _no_unknown_keys("sequence", item, SEQUENCE_KEYS)
    if "length" not in item:
        raise SpecError("sequence.length: missing required field")
    rng = item["length"]
    if not (isinstance(rng, list) and len(rng) == 2 and all(_is_int(v) for v in rng)
            and 1 <= rng[0] <= rng[1] <= MAX_SEQUENCE_LENGTH):
        raise SpecError(f"sequence.length: expected [lo, hi] with 1 <= lo <= hi <= {MAX_SEQUENCE_LENGTH}, "
                        f"got {shown(rng)}")
    output = item.get("output", "final")
    if output not in SEQUENCE_OUTPUTS:
        raise SpecError(f"sequence.output: expected one of {list(SEQUENCE_OUTPUTS)}, got {shown(output)}")
    return SequenceSpec(rng[0], rng[1], output)


def _automaton_output(spec: Spec) -> bool:
    """A final answer that is a bool, or an int of at most AUTOMATON_CLASSES values."""
    out = spec.output
    small = out.type == BOOL or (out.type == INT and out.hi - out.lo + 1 <= AUTOMATON_CLASSES)
    return not spec.sequence.per_step and small


def _check_sequence_family(spec: Spec) -> None:
    """A sequence spec is searched by "stateful" or "automaton"; "automaton" needs a final
    bool or small int answer."""
    family = spec.family_given
    if family is not None and family not in ("stateful", "automaton"):
        raise SpecError(f"family: a spec with a 'sequence' section is searched by 'stateful' or "
                        f"'automaton', got {shown(family)}")
    if family == "automaton" and not _automaton_output(spec):
        raise SpecError(f"family: 'automaton' needs sequence.output 'final' and a bool output or an int "
                        f"output of at most {AUTOMATON_CLASSES} values, got sequence.output "
                        f"{shown(spec.sequence.output)} and output type {spec.output.type.name!r}"
                        f"{'' if spec.output.lo is None else f' range [{spec.output.lo}, {spec.output.hi}]'}")


def _input(where: str, item: Any) -> InputSpec:
    if not isinstance(item, dict):
        raise SpecError(f"{where}: expected an object, got {shown(item)}")
    if "name" not in item:
        raise SpecError(f"{where}.name: missing required field")
    name = item["name"]
    if not (isinstance(name, str) and name.isascii() and name.isidentifier()) \
            or keyword.iskeyword(name) or name in RESERVED_NAMES:
        raise SpecError(f"{where}.name: expected an ASCII Python identifier that is not a keyword nor "
                        f"one of {sorted(RESERVED_NAMES)}, got {shown(name)}{_nfkc_note(name)}")
    typ, lo, hi = _type_range(where, item)
    codec = _codec(where, "encoding", item, typ, ENCODINGS, DEFAULT_ENCODING)
    params = _params(where, item, codec, ("name", "type", "range", "encoding", "units"), lo, hi)
    return InputSpec(name, typ, lo, hi, codec.name, params, port_units(where, item, typ))


def _nfkc_note(name: Any) -> str:
    """Why a non-ASCII identifier is refused when Python would read it as another name."""
    import unicodedata

    if isinstance(name, str) and name.isidentifier() and not name.isascii():
        same = unicodedata.normalize("NFKC", name)
        return f" (Python reads it as {same!r})" if same != name else " (the DSLs' variables are ASCII)"
    return ""


def _check_inputs(inputs: tuple[InputSpec, ...]) -> None:
    """Names unique; real inputs not mixed with others; the network's input at most 2^20 wide."""
    seen: dict[str, int] = {}
    for k, inp in enumerate(inputs):
        if inp.name in seen:
            raise SpecError(f"inputs[{k}].name: duplicate name {inp.name!r} (also inputs[{seen[inp.name]}])")
        seen[inp.name] = k
    kinds = [inp.type == REAL for inp in inputs]
    if any(kinds) and not all(kinds):
        k = kinds.index(not kinds[0])
        raise SpecError(f"inputs[{k}].type: real inputs cannot be mixed with int or bool ones yet "
                        f"(inputs[0] is {inputs[0].type}), got {inputs[k].type.name!r}")
    width = sum(encode_width(i) for i in inputs)
    if width > MAX_COLUMNS:
        parts = ", ".join(f"{i.name}: {i.encoding} {encode_width(i)}" for i in inputs)
        raise SpecError(f"inputs: expected encodings of at most 2^20 = {MAX_COLUMNS} columns in all, "
                        f"got {width} ({parts})")


def _output(item: Any) -> OutputSpec:
    if not isinstance(item, dict):
        raise SpecError(f"output: expected an object, got {shown(item)}")
    typ, lo, hi = _type_range("output", item)
    codec = _codec("output", "decoding", item, typ, DECODINGS, DEFAULT_DECODING)
    tolerance = None
    if typ == REAL and "tolerance" in item:
        from oracle.metric import read_tolerance

        tolerance = read_tolerance(item["tolerance"])
        item = {k: v for k, v in item.items() if k != "tolerance"}
    params = _params("output", item, codec, ("type", "range", "decoding", "units"), lo, hi)
    return OutputSpec(typ, lo, hi, codec.name, params, tolerance, port_units("output", item, typ))



def _type_range(where: str, item: dict[str, Any]) -> tuple[Type, Any, Any]:
    name = item.get("type", "int")
    if not isinstance(name, str) or name not in TYPES:
        raise SpecError(f"{where}.type: expected 'int', 'bool' or 'real', got {shown(name)}")
    typ = TYPES[name]
    if typ == BOOL:
        if item.get("range", [0, 1]) != [0, 1]:
            raise SpecError(f"{where}.range: a bool has range [0, 1], got {shown(item['range'])}")
        return typ, 0, 1
    if typ == REAL:
        return (typ, *_real_range(where, item))
    if "range" not in item:
        raise SpecError(f"{where}.range: missing required field for an int")
    rng = item["range"]
    if not (isinstance(rng, list) and len(rng) == 2 and all(_is_int(v) for v in rng) and rng[0] <= rng[1]):
        raise SpecError(f"{where}.range: expected [lo, hi] with lo <= hi, got {shown(rng)}")
    if max(abs(rng[0]), abs(rng[1])) > INT_LIMIT:
        raise SpecError(f"{where}.range: expected bounds below 2^62 in magnitude, got {shown(rng)}")
    return typ, rng[0], rng[1]


def _real_range(where: str, item: dict[str, Any]) -> tuple[float | None, float | None]:
    """A real's [lo, hi]: required for inputs, optional for the output (None, None)."""
    if "range" not in item:
        if where == "output":
            return None, None
        raise SpecError(f"{where}.range: missing required field for a real")
    rng = item["range"]
    if not (isinstance(rng, list) and len(rng) == 2 and all(_is_number(v) for v in rng)
            and all(_is_int(v) or math.isfinite(v) for v in rng) and rng[0] <= rng[1]):
        raise SpecError(f"{where}.range: expected [lo, hi] of finite numbers with lo <= hi, got {shown(rng)}")
    if max(abs(rng[0]), abs(rng[1])) > MAX_REAL:
        raise SpecError(f"{where}.range: expected bounds at most {MAX_REAL:g} in magnitude for a real, "
                        f"got {shown(rng)}")
    if where != "output" and rng[0] == rng[1]:
        raise SpecError(f"{where}.range: expected [lo, hi] with lo < hi for a real input, got {shown(rng)}")
    return float(rng[0]), float(rng[1])


def _codec(where: str, key: str, item: dict[str, Any], typ: Type,
           table: dict[tuple[Type, str], Codec], default: dict[Type, str]) -> Codec:
    name = item.get(key, default[typ])
    if not isinstance(name, str) or (typ, name) not in table:
        known = sorted(n for t, n in table if t == typ)
        raise SpecError(f"{where}.{key}: expected one of {known} for type {typ}, got {shown(name)}")
    return table[(typ, name)]


def _params(where: str, item: dict[str, Any], codec: Codec, fixed: tuple[str, ...],
            lo: Any, hi: Any) -> Mapping[str, Any]:
    _no_unknown_keys(where, item, fixed + tuple(codec.defaults))
    params = {}
    for key, default in codec.defaults.items():
        value = item.get(key, default(lo, hi))
        wants_int = key == "width"
        if not (_is_int(value) if wants_int else _is_number(value)):
            kind = "an int" if wants_int else "a number"
            raise SpecError(f"{where}.{key}: expected {kind} for {codec.name}, got {shown(value)}")
        params[key] = value
    complaint = codec.check(lo, hi, params)
    if complaint:
        raise SpecError(f"{where}.{complaint}")
    return MappingProxyType(params)


def _no_unknown_keys(where: str, item: dict[str, Any], known: tuple[str, ...]) -> None:
    for key in item:
        if key not in known:
            raise SpecError(f"{where}: unknown key {shown(key)}; expected one of {list(known)}")


def _implied_dsl(inputs: tuple[InputSpec, ...], output: OutputSpec) -> tuple[str, str]:
    from oracle.implied import implied_dsl

    return implied_dsl(inputs, output)


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(f"{key}: expected a non-empty string, got {shown(value)}")
    return value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
