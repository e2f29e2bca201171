"""The stateful search family: recurrent networks with per-step outputs -> `dsl.stateful.Stateful`.

`run(spec, oracle, *, options, progress=None, cancel=None) -> synth.outcome.FamilyResult`
(synth/stateful/search.py). Parts: `sample` (the sequences asked), `terms` (bottom-up enumeration
with observational equivalence), `search` (the phases: window functions, one register, two).
"""

from synth.stateful.search import run

__all__ = ["run"]
