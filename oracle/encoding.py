"""How values become network columns and network outputs become values: one row per codec.

Each `Codec` row holds everything about one encoding (input side) or decoding (output side): the
type it applies to, its parameters and their defaults, the check of those parameters against the
range, the number of columns, and the pure numpy function. `oracle.spec` validates specs from these
rows, so adding an encoding is one function and one row.

Encodings map an int64/bool column of n values to float32 (n, width). They raise `EncodingError`
for a value the encoding cannot express (one_hot outside [lo, hi]; bits negative or above
2^width - 1); `raw` can express any value. Decodings map float32 (n, K) to int64 (bool for
`threshold`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from dsl.errors import EncodingError, ModelError

Params = Mapping[str, Any]


def _bit_width(lo: int, hi: int) -> int:
    return max(1, int(hi).bit_length())


@dataclass(frozen=True)
class Codec:
    """One encoding or decoding. `defaults` maps each parameter to a function of (lo, hi)."""

    name: str
    type: str
    defaults: Mapping[str, Callable[[int, int], Any]]
    width: Callable[[int, int, Params], int]
    check: Callable[[int, int, Params], str | None]  # a complaint about the params, or None
    apply: Callable[..., np.ndarray]  # encode(values, lo, hi, params, name) / decode(out, lo, hi, params)


def _no_check(lo: int, hi: int, p: Params) -> None:
    return None


def _check_scale(lo: int, hi: int, p: Params) -> str | None:
    return f"scale: expected a non-zero number, got {p['scale']!r}" if p["scale"] == 0 else None


def _check_bits(lo: int, hi: int, p: Params) -> str | None:
    if lo < 0:
        return f"range: bits needs lo >= 0, got [{lo}, {hi}]"
    need = _bit_width(lo, hi)
    if not need <= p["width"] <= 62:
        return f"width: expected an int in [{need}, 62] (bit_length({hi}) = {need}), got {p['width']!r}"
    return None


def _encode_raw(v: np.ndarray, lo: int, hi: int, p: Params, name: str) -> np.ndarray:
    return ((v.astype(np.float64) - p["offset"]) / p["scale"]).astype(np.float32)[:, None]


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


def _decode_bits(out: np.ndarray, lo: int, hi: int, p: Params) -> np.ndarray:
    return ((out > 0).astype(np.int64) << np.arange(out.shape[1], dtype=np.int64)).sum(axis=1)


def _decode_threshold(out: np.ndarray, lo: int, hi: int, p: Params) -> np.ndarray:
    return out[:, 0] > 0


_ONE = lambda lo, hi, p: 1  # noqa: E731
_RAW_DEFAULTS = {"offset": lambda lo, hi: 0, "scale": lambda lo, hi: 1}
_BITS_DEFAULTS = {"width": _bit_width}

ENCODINGS: dict[tuple[str, str], Codec] = {
    ("int", "raw"): Codec("raw", "int", _RAW_DEFAULTS, _ONE, _check_scale, _encode_raw),
    ("int", "one_hot"): Codec("one_hot", "int", {}, lambda lo, hi, p: hi - lo + 1, _no_check, _encode_one_hot),
    ("int", "bits"): Codec("bits", "int", _BITS_DEFAULTS, lambda lo, hi, p: p["width"], _check_bits, _encode_bits),
    ("bool", "raw"): Codec("raw", "bool", {}, _ONE, _no_check, _encode_bool),
}
DECODINGS: dict[tuple[str, str], Codec] = {
    ("int", "argmax"): Codec("argmax", "int", {}, lambda lo, hi, p: hi - lo + 1, _no_check, _decode_argmax),
    ("int", "round"): Codec("round", "int", _RAW_DEFAULTS, _ONE, _no_check, _decode_round),
    ("int", "bits"): Codec("bits", "int", _BITS_DEFAULTS, lambda lo, hi, p: p["width"], _check_bits, _decode_bits),
    ("bool", "threshold"): Codec("threshold", "bool", {}, _ONE, _no_check, _decode_threshold),
}
DEFAULT_ENCODING = {"int": "raw", "bool": "raw"}
DEFAULT_DECODING = {"int": "argmax", "bool": "threshold"}


def encode(inp: "InputSpec", values: np.ndarray) -> np.ndarray:  # noqa: F821
    """Columns (n, width) for one input's values; `EncodingError` if a value cannot be expressed."""
    codec = ENCODINGS[(inp.type, inp.encoding)]
    return codec.apply(np.asarray(values), inp.lo, inp.hi, inp.params, inp.name)


def encode_columns(spec: "Spec", columns: Mapping[str, np.ndarray]) -> np.ndarray:  # noqa: F821
    """The network input float32 (n, D) for columns given by input name: encodings concatenated."""
    return np.concatenate([encode(inp, columns[inp.name]) for inp in spec.inputs], axis=1)


def encode_width(inp: "InputSpec") -> int:  # noqa: F821
    return ENCODINGS[(inp.type, inp.encoding)].width(inp.lo, inp.hi, inp.params)


def decode(out_spec: "OutputSpec", out: np.ndarray) -> np.ndarray:  # noqa: F821
    """Values (int64, or bool for bool outputs) for a network output of shape (n, K)."""
    codec = DECODINGS[(out_spec.type, out_spec.decoding)]
    return codec.apply(np.asarray(out), out_spec.lo, out_spec.hi, out_spec.params)


def decode_width(out_spec: "OutputSpec") -> int:  # noqa: F821
    return DECODINGS[(out_spec.type, out_spec.decoding)].width(out_spec.lo, out_spec.hi, out_spec.params)
