"""Value types of netsynth programs.

A `Type` knows its numpy dtype, so the evaluator, the enumerator's value banks and the oracle can
agree on representation. `INT`, `BOOL` and `REAL` (float64) are the types a spec's inputs and output
may have; a sequence of steps is `seq(step)`, a `Type` whose `params` hold the step type (it has no
single dtype: a batch of sequences is an (n, T, D) array). The type checker only compares types and
binds type variables, so new types slot in without changing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class Type:
    """A value type. `var=True` marks a type variable, bound by unification in `unify`."""

    name: str
    dtype: str | None = None
    params: tuple["Type", ...] = field(default=())
    var: bool = False

    def __str__(self) -> str:
        if self.params:
            return f"{self.name}[{', '.join(map(str, self.params))}]"
        return self.name

    @property
    def np_dtype(self) -> np.dtype:
        if self.dtype is None:
            raise TypeError(f"type {self} has no array representation")
        return np.dtype(self.dtype)


INT = Type("int", "int64")
BOOL = Type("bool", "bool")
REAL = Type("real", "float64")
T = Type("T", var=True)

#: Types a spec or a user DSL may name.
BY_NAME: Mapping[str, Type] = {"int": INT, "bool": BOOL, "real": REAL}


def seq(step: Type) -> Type:
    """The type of sequences whose steps have type `step` (of any length)."""
    return Type("seq", None, (step,))


def type_named(name: str | Type) -> Type:
    """Return the concrete type called `name` (a `Type` is returned as it is); raise KeyError
    naming the known ones otherwise."""
    if isinstance(name, Type):
        return name
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown type {name!r}; expected one of {sorted(BY_NAME)}") from None


def unify(pattern: tuple[Type, ...], actual: tuple[Type, ...]) -> dict[Type, Type] | None:
    """Bind the type variables of `pattern` so that it equals `actual`, or return None."""
    if len(pattern) != len(actual):
        return None
    binding: dict[Type, Type] = {}
    for want, got in zip(pattern, actual):
        if want.var:
            if binding.setdefault(want, got) != got:
                return None
        elif want != got:
            return None
    return binding


def substitute(t: Type, binding: Mapping[Type, Type]) -> Type:
    return binding.get(t, t) if t.var else t
