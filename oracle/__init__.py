"""The network as an oracle: specs, encodings, back-ends, samplers.

`import oracle` is cheap: `load` and `Oracle` (which bring in back-ends, and through them torch or
onnxruntime only when a model is opened) are imported on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load", "Oracle", "load_spec", "Spec"]


def __getattr__(name: str) -> Any:
    if name in ("load", "Oracle"):
        from oracle import core
        return getattr(core, name)
    if name in ("load_spec", "Spec"):
        from oracle import spec
        return getattr(spec, name)
    raise AttributeError(f"module 'oracle' has no attribute {name!r}")
