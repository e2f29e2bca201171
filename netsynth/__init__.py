"""netsynth for notebooks: `extract(model, spec, **options) -> Report`, and
`compare(*networks, **options) -> CompareReport` for several networks (netsynth/compare.py).

    >>> import netsynth
    >>> report = netsynth.extract("examples/mod_add_113/model.onnx", "examples/mod_add_113/spec.json")
    >>> report.text
    '(x + y) % 113'

`model` is a path to an ONNX file, ONNX bytes, or an in-process `torch.nn.Module` (trusted code
only; its train/eval mode is restored afterwards). `spec` is a path to a JSON or TOML spec, JSON
text, a dict or a `Spec`. The two may come in either order (or as keywords `model=` and `spec=`)
when they can be told apart. Options are those of `synth.options.SearchOptions` (timeout,
max_size, min_agreement, workers, ...), checked exactly as the CLI checks its flags, plus `verify`
(default True) and `progress` (True for a progress bar, or a callable receiving `Progress`).
Searches run in-process unless `workers` > 1 or `ray_address` is given. `portfolio=True` races
the default search strategies as Ray tasks (a sequence of `synth.portfolio.Strategy` races
those); `workers` then defaults to all local cores and must be at least 2.

`compare("a/spec.json", "b/spec.json", ...)` (or `compare(spec, models=[...])`) extracts from each
network with the same options, groups the networks by program equivalence proved by Z3, and
reports each network's fidelity to its group's program, where it departs from it and where the
networks disagree (docs/compare.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["compare", "extract"]


def extract(model: Any = None, spec: Any = None, *, verify: bool = True, progress: Any = None,
            cancel=None, portfolio: Any = False, **options: Any):
    """Find, verify and report a program equivalent to the network; see the module docstring."""
    from dsl.errors import SpecError
    from netsynth.api import default_workers, family_defaults, load_spec, synthesize
    from synth.options import SearchOptions

    if model is None or spec is None:
        raise SpecError("extract: expected a model and a spec, e.g. extract('model.onnx', "
                        "'spec.json')")
    if _is_spec(model) and not _is_spec(spec):
        model, spec = spec, model
    elif not _is_spec(spec):
        raise SpecError(f"extract: expected a spec (a .json or .toml path, JSON text, a dict or a "
                        f"Spec) beside the model, got {_describe(spec)} and {_describe(model)}")
    strategies = None
    if portfolio:
        from synth.portfolio import DEFAULT

        strategies = DEFAULT if portfolio is True else tuple(portfolio)
    options.setdefault("workers", default_workers() if strategies else 1)
    spec = load_spec(spec)
    options = {**family_defaults(spec), **options}
    checked = SearchOptions.from_mapping(options)
    if not (progress is None or progress is False or progress is True or callable(progress)):
        raise SpecError(f"progress: expected True, False or a callable, got {progress!r}")
    bar = None
    if progress is True:
        from netsynth.progress import ProgressBar

        progress = bar = ProgressBar()
    training = getattr(model, "training", None) if hasattr(model, "parameters") else None
    try:
        return synthesize(spec, model, options=checked, progress=progress or None, cancel=cancel,
                          verify=verify, portfolio=strategies)
    finally:
        if bar is not None:
            bar.close()
        if training is not None:
            model.train(training)


def _is_spec(value: Any) -> bool:
    from collections.abc import Mapping

    from oracle.spec import Spec

    if isinstance(value, (Spec, Mapping)):
        return True
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return True
    return isinstance(value, (str, Path)) and Path(value).suffix.lower() in (".json", ".toml")


def _describe(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} bytes"
    if isinstance(value, (str, Path)):
        return repr(str(value)[:80])
    return type(value).__name__


# `netsynth.compare` is the function (imported here, so that the submodule of the same name does
# not shadow it); the module stays importable as `from netsynth.compare import ...`. Cheap: the
# module imports only the standard library until it is called.
from netsynth.compare import compare  # noqa: E402
