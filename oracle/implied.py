"""The DSL a spec implies when it names none: a bit-vector DSL for bits-encoded networks
(`implied_dsl`), "int" otherwise. Read by `synth.problem.Problem.from_spec`."""

from __future__ import annotations

from typing import Any

from dsl.types import BOOL, INT, REAL

BV_WIDTHS = (8, 16, 32)   # the built-in bit-vector DSLs, bv8, bv16 and bv32 (dsl/bv.py)


def implied_dsl(inputs: tuple[Any, ...], output: Any) -> tuple[str, str]:
    """The DSL a spec without a "dsl" field gets, and why: `bv<W>` when every int input is
    `bits`-encoded (bool inputs aside) and an int output is `bits`-decoded (or the output is a
    bool), W the narrowest built-in width holding every such width; "int" otherwise."""
    ints = [i for i in inputs if i.type == INT]
    ports = ints + ([output] if output.type == INT else [])
    if (not ints or any(i.type not in (INT, BOOL) for i in inputs) or output.type == REAL
            or any(getattr(p, "encoding", getattr(p, "decoding", None)) != "bits" for p in ports)):
        return "int", "not every int input is bits-encoded with a bits-decoded or bool output"
    bits = max(p.params["width"] for p in ports)
    width = next((w for w in BV_WIDTHS if bits <= w), None)
    if width is None:
        return "int", f"bits encodings of {bits} bits are wider than the widest bit-vector DSL"
    return f"bv{width}", (f"the inputs are bits-encoded and the output is "
                          f"{'bits-decoded' if output.type == INT else 'a bool'}, at most "
                          f"{bits} bits wide: {width}-bit wrap-around arithmetic")
