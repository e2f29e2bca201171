"""Physical units in a spec: SI base-unit exponents of a real input or the real output.

`read_units(where, value) -> Mapping[str, float]` checks a spec's `"units"` object: keys among
`BASE_UNITS` (`m, kg, s, A, K, mol, cd`), values finite numbers (integers or simple fractions such
as 0.5); a missing key is exponent 0 and `{}` is dimensionless. Anything else raises `SpecError`
naming the field and the value: `inputs[2].units.kg: expected a finite number, got 'x'`.

The search's dimensional analysis (synth/real/units.py) runs only when every input and the output
state units (`all_units`).
"""

from __future__ import annotations

import math
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Mapping

from dsl.errors import SpecError
from oracle.encoding import shown

#: The SI base units, in the order dimension vectors use.
BASE_UNITS = ("m", "kg", "s", "A", "K", "mol", "cd")
#: The largest denominator an exponent may have (1/2, 1/3, ... 1/12).
MAX_DENOMINATOR = 12
#: The largest magnitude of an exponent.
MAX_EXPONENT = 100


def read_units(where: str, value: Any) -> Mapping[str, float]:
    """A `units` object checked: only the nonzero exponents are kept."""
    if not isinstance(value, dict):
        raise SpecError(f"{where}.units: expected an object of SI exponents over "
                        f"{list(BASE_UNITS)} ({{}} for dimensionless), got {shown(value)}")
    out: dict[str, float] = {}
    for key, e in value.items():
        if key not in BASE_UNITS:
            raise SpecError(f"{where}.units: unknown key {shown(key)}; expected one of {list(BASE_UNITS)}")
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e):
            raise SpecError(f"{where}.units.{key}: expected a finite number, got {shown(e)}")
        if abs(e) > MAX_EXPONENT:
            raise SpecError(f"{where}.units.{key}: expected an exponent of magnitude at most "
                            f"{MAX_EXPONENT}, got {shown(e)}")
        q = Fraction(e).limit_denominator(MAX_DENOMINATOR)
        if abs(float(q) - e) > 1e-9:
            raise SpecError(f"{where}.units.{key}: expected an integer or a simple fraction (denominator "
                            f"at most {MAX_DENOMINATOR}), got {shown(e)}")
        if q != 0:
            out[key] = int(q) if q.denominator == 1 else float(q)
    return MappingProxyType(out)


def port_units(where: str, item: dict[str, Any], typ: Any) -> Mapping[str, float] | None:
    """A spec port's optional units; None when not given. Only a real input or output has units."""
    from dsl.types import REAL

    if "units" not in item:
        return None
    if typ != REAL:
        port = "output" if where == "output" else "input"
        raise SpecError(f"{where}.units: units are for a real {port}, got units on type "
                        f"{typ.name!r}: {shown(item['units'])}")
    return read_units(where, item["units"])


def exponents(units: Mapping[str, float]) -> tuple[Fraction, ...]:
    """The dimension vector over `BASE_UNITS`, as exact fractions."""
    return tuple(Fraction(units.get(k, 0)).limit_denominator(MAX_DENOMINATOR) for k in BASE_UNITS)


def all_units(spec: Any) -> bool:
    """True when every input and the output state units (dimensional analysis applies)."""
    return spec.output.units is not None and all(i.units is not None for i in spec.inputs)
