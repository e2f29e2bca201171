"""netsynth for notebooks: `extract(model_or_path, spec, **options) -> Report`.

    >>> import netsynth
    >>> report = netsynth.extract("examples/mod_add_113/model.onnx", "examples/mod_add_113/spec.json")
    >>> report.program
    '(x + y) % 113'

`model_or_path` is a path to an ONNX file, ONNX bytes, or an in-process `torch.nn.Module` (trusted
code only). Options are those of `synth.options.SearchOptions` (timeout, max_size, min_agreement,
workers, ...) plus `verify` (default True) and `progress` (a callable receiving Progress).
`portfolio=True` races the default search strategies as Ray tasks (a sequence of
`synth.portfolio.Strategy` races those); `workers` then defaults to all local cores and must be
at least 2.
"""

from __future__ import annotations

from typing import Any

__all__ = ["extract"]


def extract(model_or_path: Any, spec: Any, *, verify: bool = True, progress=None, cancel=None,
            portfolio: Any = False, **options: Any):
    """Find, verify and report a program equivalent to the network; see the module docstring."""
    from netsynth.api import default_workers, synthesize
    from synth.options import SearchOptions

    strategies = None
    if portfolio:
        from synth.portfolio import DEFAULT

        strategies = DEFAULT if portfolio is True else tuple(portfolio)
    options.setdefault("workers", default_workers() if strategies else 1)
    return synthesize(spec, model_or_path, options=SearchOptions.from_mapping(options),
                      progress=progress, cancel=cancel, verify=verify, portfolio=strategies)
