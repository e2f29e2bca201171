"""How values become network columns and network outputs become values: one row per codec.

Each `Codec` row holds everything about one encoding (input side) or decoding (output side): the
type it applies to (a `dsl.types.Type`), its parameters and their defaults, the check of those
parameters against the range, the number of columns, the pure numpy function, and (encodings) what
it can express beyond the training range (`Codec.reach`). `oracle.spec` validates specs from these
rows and `oracle.domains` samples beyond the range from them, so adding an encoding is one
function and one row.

Encodings map a column of n values (int64/bool, or float64 for reals) to float32 (n, width). They
raise `EncodingError` for a value the encoding cannot express (one_hot outside [lo, hi]; bits
negative or above 2^width - 1; a real that is not finite); int `raw` can express any int. Decodings
map float32 (n, K) to int64 (bool for `threshold`, float64 for real `raw`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from dsl.errors import EncodingError, ModelError
from dsl.types import BOOL, INT, REAL, Type

Params = Mapping[str, Any]

INT_LIMIT = 2**62 - 1          # the largest int magnitude a spec may name
MAX_COLUMNS = 2**20            # the widest encoding of one input, all inputs together, or an output
MIN_SCALE, MAX_SCALE = 1e-12, 1e12
MAX_OFFSET = 2.0**62


@dataclass(frozen=True)
class Reach:
    """The values an encoding can express around a training range: [lo, hi] (±inf where the
    encoding has no bound), and `limit`, a sentence saying what bounds it."""

    lo: float
    hi: float
    limit: str


def _bit_width(lo: int, hi: int) -> int:
    return max(1, int(hi).bit_length())


@dataclass(frozen=True)
class Codec:
    """One encoding or decoding. `defaults` maps each parameter to a function of (lo, hi);
    `reach(lo, hi, params)` (encodings only) says what values it can express."""

    name: str
    type: Type
    defaults: Mapping[str, Callable[[Any, Any], Any]]
    width: Callable[[Any, Any, Params], int]
    check: Callable[[Any, Any, Params], str | None]  # a complaint about the params, or None
    apply: Callable[..., np.ndarray]  # encode(values, lo, hi, params, name) / decode(out, lo, hi, params)
    reach: Callable[[Any, Any, Params], Reach] | None = None


def shown(value: Any, limit: int = 80) -> str:
    """`repr(value)` for an error message, shortened: an int of more than 128 bits is described
    by its size, a long list or text is cut (a message must neither fail nor fill a screen)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an int of {value.bit_length()} bits"
    if isinstance(value, list):
        text = "[" + ", ".join(shown(v, limit) for v in value[:8]) + (", ...]" if len(value) > 8 else "]")
    else:
        try:
            text = repr(value)
        except ValueError:  # a container holding an int too long to print
            return f"a {type(value).__name__}"
    return text if len(text) <= limit else text[:limit] + "..."


def _finite(x: float | int) -> bool:
    return isinstance(x, int) or math.isfinite(x)  # math.isfinite overflows on huge ints


def _no_check(lo: Any, hi: Any, p: Params) -> None:
    return None


def _check_affine(lo: Any, hi: Any, p: Params) -> str | None:
    """`offset` and `scale` of raw and round: finite, a scale neither zero nor absurd."""
    scale, offset = p["scale"], p["offset"]
    if not (_finite(scale) and MIN_SCALE <= abs(scale) <= MAX_SCALE):
        return (f"scale: expected a finite number with {MIN_SCALE:g} <= |scale| <= {MAX_SCALE:g}, "
                f"got {shown(scale)}")
    if not (_finite(offset) and abs(offset) < MAX_OFFSET):
        return f"offset: expected a finite number with |offset| < 2^62, got {shown(offset)}"
    return None


def _check_columns(lo: int, hi: int, p: Params) -> str | None:
    """one_hot and argmax: a column per value of the range, at most MAX_COLUMNS of them."""
    if hi - lo + 1 > MAX_COLUMNS:
        return (f"range: expected at most 2^20 = {MAX_COLUMNS} values for one column each, "
                f"got [{lo}, {hi}] ({hi - lo + 1} values)")
    return None


def _check_bits(lo: int, hi: int, p: Params) -> str | None:
    if lo < 0:
        return f"range: bits needs lo >= 0, got [{lo}, {hi}]"
    need = _bit_width(lo, hi)
    if not need <= p["width"] <= 62:
        return f"width: expected an int in [{need}, 62] (bit_length({hi}) = {need}), got {shown(p['width'])}"
    return None


def _encode_raw(v: np.ndarray, lo: Any, hi: Any, p: Params, name: str) -> np.ndarray:
    return ((v.astype(np.float64) - p["offset"]) / p["scale"]).astype(np.float32)[:, None]


def _encode_real(v: np.ndarray, lo: float, hi: float, p: Params, name: str) -> np.ndarray:
    bad = ~np.isfinite(v)
    if bad.any():
        raise EncodingError(f"{name}: a real must be finite, got {float(v[bad][0])}")
    return _encode_raw(v, lo, hi, p, name)


def _encode_one_hot(v: np.ndarray, lo: int, hi: int, p: Params, name: str) -> np.ndarray:
    bad = (v < lo) | (v > hi)
    if bad.any():
        raise EncodingError(f"{name}: one_hot encodes values in [{lo}, {hi}] only, got {int(v[bad][0])}")
    out = np.zeros((len(v), hi - lo + 1), dtype=np.float32)
    out[np.arange(len(v)), v - lo] = 1.0
    return out


def _encode_bits(v: np.ndarray, lo: int, hi: int, p: Params, name: str) -> np.ndarray:
    top = (1 << p["width"]) - 1
    bad = (v < 0) | (v > top)
    if bad.any():
        raise EncodingError(f"{name}: bits (width {p['width']}) encodes values in [0, {top}] only, "
                            f"got {int(v[bad][0])}")
    return ((v[:, None] >> np.arange(p["width"])) & 1).astype(np.float32)


def _encode_bool(v: np.ndarray, lo: int, hi: int, p: Params, name: str) -> np.ndarray:
    bad = (v != 0) & (v != 1)
    if bad.any():
        raise EncodingError(f"{name}: a bool is 0/False or 1/True, got {int(v[bad][0])}")
    return v.astype(np.float32)[:, None]


def _decode_argmax(out: np.ndarray, lo: int, hi: int, p: Params) -> np.ndarray:
    return lo + out.argmax(axis=1).astype(np.int64)


def _decode_round(out: np.ndarray, lo: int, hi: int, p: Params) -> np.ndarray:
    value = np.round(out[:, 0].astype(np.float64) * p["scale"] + p["offset"])  # half to even
    if not np.isfinite(value).all() or np.abs(value).max(initial=0) >= 2.0**62:
        raise ModelError(f"output: round decoding needs finite outputs below 2^62, "
                         f"got {value[~np.isfinite(value) | (np.abs(value) >= 2.0**62)][0]}")
    return value.astype(np.int64)


def _decode_real(out: np.ndarray, lo: Any, hi: Any, p: Params) -> np.ndarray:
    return out[:, 0].astype(np.float64) * p["scale"] + p["offset"]


def _decode_bits(out: np.ndarray, lo: int, hi: int, p: Params) -> np.ndarray:
    return ((out > 0).astype(np.int64) << np.arange(out.shape[1], dtype=np.int64)).sum(axis=1)


def _decode_threshold(out: np.ndarray, lo: int, hi: int, p: Params) -> np.ndarray:
    return out[:, 0] > 0


# ---- what each encoding can express beyond its training range -----------------------------------

def _reach_raw(lo: int, hi: int, p: Params) -> Reach:
    return Reach(-INT_LIMIT, INT_LIMIT, f"raw expresses every int of magnitude below 2^62, which the "
                                        f"range [{lo}, {hi}] already spans")


def _reach_one_hot(lo: int, hi: int, p: Params) -> Reach:
    return Reach(lo, hi, f"one_hot has a column only for each value in [{lo}, {hi}]")


def _reach_bits(lo: int, hi: int, p: Params) -> Reach:
    top = (1 << p["width"]) - 1
    return Reach(0, top, f"bits of width {p['width']} express [0, {top}] only, which the range "
                         f"[{lo}, {hi}] already fills; give a wider 'width' to allow larger values")


def _reach_bool(lo: int, hi: int, p: Params) -> Reach:
    return Reach(0, 1, "a bool has no values beyond [0, 1]")


def _reach_real(lo: float, hi: float, p: Params) -> Reach:
    return Reach(-math.inf, math.inf, "raw expresses every finite real")


_ONE = lambda lo, hi, p: 1  # noqa: E731
_VALUES = lambda lo, hi, p: hi - lo + 1  # noqa: E731
_WIDTH = lambda lo, hi, p: p["width"]  # noqa: E731
_RAW_DEFAULTS = {"offset": lambda lo, hi: 0, "scale": lambda lo, hi: 1}
_BITS_DEFAULTS = {"width": _bit_width}

ENCODINGS: dict[tuple[Type, str], Codec] = {
    (INT, "raw"): Codec("raw", INT, _RAW_DEFAULTS, _ONE, _check_affine, _encode_raw, _reach_raw),
    (INT, "one_hot"): Codec("one_hot", INT, {}, _VALUES, _check_columns, _encode_one_hot, _reach_one_hot),
    (INT, "bits"): Codec("bits", INT, _BITS_DEFAULTS, _WIDTH, _check_bits, _encode_bits, _reach_bits),
    (BOOL, "raw"): Codec("raw", BOOL, {}, _ONE, _no_check, _encode_bool, _reach_bool),
    (REAL, "raw"): Codec("raw", REAL, _RAW_DEFAULTS, _ONE, _check_affine, _encode_real, _reach_real),
}
DECODINGS: dict[tuple[Type, str], Codec] = {
    (INT, "argmax"): Codec("argmax", INT, {}, _VALUES, _check_columns, _decode_argmax),
    (INT, "round"): Codec("round", INT, _RAW_DEFAULTS, _ONE, _check_affine, _decode_round),
    (INT, "bits"): Codec("bits", INT, _BITS_DEFAULTS, _WIDTH, _check_bits, _decode_bits),
    (BOOL, "threshold"): Codec("threshold", BOOL, {}, _ONE, _no_check, _decode_threshold),
    (REAL, "raw"): Codec("raw", REAL, _RAW_DEFAULTS, _ONE, _check_affine, _decode_real),
}
DEFAULT_ENCODING = {INT: "raw", BOOL: "raw", REAL: "raw"}
DEFAULT_DECODING = {INT: "argmax", BOOL: "threshold", REAL: "raw"}


def encoding_of(inp: "InputSpec") -> Codec:  # noqa: F821
    return ENCODINGS[(inp.type, inp.encoding)]


def encode(inp: "InputSpec", values: np.ndarray) -> np.ndarray:  # noqa: F821
    """Columns (n, width) for one input's values; `EncodingError` if a value cannot be expressed."""
    return encoding_of(inp).apply(np.asarray(values), inp.lo, inp.hi, inp.params, inp.name)


def encode_columns(spec: "Spec", columns: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> np.ndarray:  # noqa: F821
    """The network input float32 (n, D): the inputs' encodings concatenated in spec order.
    `columns` maps input names to 1-D arrays, or lists them in spec order."""
    if isinstance(columns, Mapping):
        columns = [columns[inp.name] for inp in spec.inputs]
    return np.concatenate([encode(inp, c) for inp, c in zip(spec.inputs, columns)], axis=1)


def encode_width(inp: "InputSpec") -> int:  # noqa: F821
    return encoding_of(inp).width(inp.lo, inp.hi, inp.params)


def decode(out_spec: "OutputSpec", out: np.ndarray) -> np.ndarray:  # noqa: F821
    """Values (int64, bool for bool outputs, float64 for real ones) for a network output (n, K)."""
    codec = DECODINGS[(out_spec.type, out_spec.decoding)]
    return codec.apply(np.asarray(out), out_spec.lo, out_spec.hi, out_spec.params)


def decode_width(out_spec: "OutputSpec") -> int:  # noqa: F821
    return DECODINGS[(out_spec.type, out_spec.decoding)].width(out_spec.lo, out_spec.hi, out_spec.params)
