"""Search options: one frozen object, validated once, and the table every door derives from.

`SearchOptions(**values)` checks every field when it is made and raises `SpecError` (also a
`ValueError`) naming the field, the value and what was expected. `SearchOptions.from_mapping`
takes options from any door (Python keywords, the CLI, the job API's form, a stored job, a
portfolio strategy): values may be typed or text, and an unknown name is an error that lists the
known ones. `OPTIONS` holds one row per field: its help text, how text is read, and whether the job
API lets a client set it (the rest belong to the service's own settings). The CLI's flags, the
service's form fields and their documentation are generated from these rows.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from dsl.errors import SpecError

MAX_SIZE = 64                   # the largest program size any door accepts


@dataclass(frozen=True)
class Option:
    """One search option: how to read it from text, how to check it, what it means."""

    name: str
    parse: Callable[[str], Any]                 # text (a CLI flag, a form field) to a value
    check: Callable[[Any], str | None]          # a complaint about a typed value, or None
    help: str
    api: bool = True                            # a job API client may set it
    metavar: str = "N"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _number(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except (TypeError, ValueError):
            raise SpecError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    return parse


def _flag(text: str) -> bool:
    low = str(text).strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise SpecError(f"expected true or false, got {text!r}")


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda text: None if str(text).strip().lower() in ("", "none", "null") else parse(text)


def _integer(lo: int, hi: int | None = None, *, optional: bool = False) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        if not isinstance(v, int) or isinstance(v, bool) or v < lo or (hi is not None and v > hi):
            what = ("a positive integer" if lo == 1 and hi is None
                    else f"an integer in [{lo}, {hi}]" if hi is not None else f"an integer >= {lo}")
            return f"expected {what}{' or None' if optional else ''}, got {v!r}"
        return None
    return check


def _seconds(v: Any) -> str | None:
    if v is None:
        return None
    if not _is_number(v) or not math.isfinite(v) or v <= 0 or v > 10**7:
        return f"expected a number of seconds in (0, 1e7] or None, got {v!r}"
    return None


def _fraction(v: Any) -> str | None:
    if not _is_number(v) or not 0.0 < v <= 1.0:
        return f"expected a number in (0, 1], got {v!r}"
    return None


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else f"expected true or false, got {v!r}"


def _address(v: Any) -> str | None:
    return None if v is None or (isinstance(v, str) and v) else f"expected a Ray address or None, got {v!r}"


def _names(text: str) -> tuple[str, ...] | None:
    if str(text).strip().lower() in ("", "none", "all"):
        return None
    return tuple(t.strip() for t in str(text).split(",") if t.strip())


def _operators(v: Any) -> str | None:
    if v is None or (isinstance(v, tuple) and v and all(isinstance(t, str) and t for t in v)):
        return None
    return f"expected operator names or symbols such as ('+', '-', '&', '>>'), or None, got {v!r}"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


OPTIONS: tuple[Option, ...] = (
    Option("timeout", _optional(_number(float)), _seconds,
           "search time budget in seconds (default 60)", metavar="S"),
    Option("max_size", _number(int), _integer(1, MAX_SIZE),
           f"largest program size, in nodes (default 12, at most {MAX_SIZE})"),
    Option("min_agreement", _number(float), _fraction,
           "accept a program agreeing with the network on this share of the domain (default 1.0)",
           metavar="A"),
    Option("workers", _number(int), _integer(1),
           "parallel workers (1 runs in-process without Ray)"),
    Option("ray_address", _optional(str), _address,
           "join this Ray cluster (default: $RAY_ADDRESS, else an embedded Ray)", api=False,
           metavar="ADDR"),
    Option("max_candidates", _optional(_number(int)), _integer(1, optional=True),
           "stop after trying this many candidate programs (default: no limit)"),
    Option("memory_bytes", _number(int), _integer(1 << 20),
           "memory cap of the search process (its resident size), in bytes (default 4 GiB)", api=False, metavar="B"),
    Option("sample_size", _number(int), _integer(1, 1 << 16),
           "points the enumeration starts from (default 128)"),
    Option("seed", _number(int), _integer(0, 2**32 - 1), "random seed of the samples (default 0)"),
    Option("conditionals", _flag, _bool,
           "propose if-then-else programs when no single term fits (default true)", metavar="BOOL"),
    Option("predicate_size", _number(int), _integer(1, MAX_SIZE),
           "largest condition of an if-then-else, in nodes (default 5)"),
    Option("ops", _names, _operators,
           "search only these operators, by name or symbol, comma-separated (e.g. '+,-,&,>>'; "
           "'if' allows if-then-else; default: every operator of the DSL)", metavar="OPS"),
)
BY_NAME: Mapping[str, Option] = {o.name: o for o in OPTIONS}


@dataclass(frozen=True)
class SearchOptions:
    """How one search runs; every field checked on construction (see `OPTIONS` for meanings)."""

    timeout: float | None = 60.0
    max_size: int = 12
    min_agreement: float = 1.0
    workers: int = 1
    ray_address: str | None = None
    max_candidates: int | None = None
    memory_bytes: int = 4 << 30
    sample_size: int = 128
    seed: int = 0
    conditionals: bool = True
    predicate_size: int = 5
    ops: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.ops, list):
            object.__setattr__(self, "ops", tuple(self.ops))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("timeout", "min_agreement") and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
                value = float(value)
            complaint = BY_NAME[f.name].check(value)
            if complaint:
                raise SpecError(f"{f.name}: {complaint}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, base: "SearchOptions | None" = None,
                     allowed: Any = None) -> "SearchOptions":
        """Options from `values` (typed, or text as a CLI or a form gives them) over `base`.

        `allowed` limits the names accepted (default: every option); any other name raises
        `SpecError` naming it and the accepted ones. A value that does not parse or check raises
        `SpecError` naming the option.
        """
        names = set(BY_NAME) if allowed is None else set(allowed)
        unknown = sorted(set(values) - names)
        if unknown:
            raise SpecError(f"options: unknown option{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(map(repr, unknown))}; expected some of {sorted(names)}")
        typed = {}
        for name, value in values.items():
            if isinstance(value, str):
                try:
                    value = BY_NAME[name].parse(value)
                except SpecError as e:
                    raise SpecError(f"{name}: {e}") from None
            typed[name] = value
        return dataclasses.replace(base or cls(), **typed)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: The options a job API client may set (the others are the service's settings).
API_OPTIONS: tuple[str, ...] = tuple(o.name for o in OPTIONS if o.api)
