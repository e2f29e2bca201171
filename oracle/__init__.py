"""The network as an oracle: specs, encodings, domains, back-ends, samplers.

`oracle.spec` reads a spec (types are `dsl.types` values), `oracle.encoding` holds the codec rows,
`oracle.domains` the input domains (integer lattice, real box, sequences) that own enumeration,
sampling, the dense cache index and "beyond the training range"; `oracle.sampling` is thin
functions over them; `oracle.protocol` states what an oracle answers for a typed batch.

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
