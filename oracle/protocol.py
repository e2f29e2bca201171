"""What a search asks a network: typed batches in, one value per point (or per step) out.

- A function of D inputs (`FunctionOracle`, e.g. `oracle.core.Oracle`) answers `query(batch)`
  for a batch (n, D) (int64 points of an integer lattice, float64 points of a real box; or the
  same as columns) with n values of the output's type.
- A sequence model (`SequenceOracle`) answers `query(batch)` for a batch (n, T, D): n sequences
  of T steps of D inputs each. T is dynamic: it varies from batch to batch (a `Sequences` domain
  hands out one batch per length). The answer is (n,) final values, or (n, T) values, one after
  each step, when `per_step` is true.

`oracle.sequences.SequenceOracle` (what `oracle.load` returns for a spec with a `sequence` section)
implements it, with `query_words(words)` for words over its `letters` on top.

`query_sequences(oracle, batches)` runs a sequence oracle on a {T: (n_T, T, D)} dict of batches
(what `Sequences.sample` and `Sequences.beyond` return), checks every batch's and answer's shape,
and returns the answers by length.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

import numpy as np

from dsl.errors import ModelError, SpecError


class FunctionOracle(Protocol):
    spec: Any
    calls: int
    points: int

    def query(self, batch: Any) -> np.ndarray: ...


class SequenceOracle(Protocol):
    width: int          # D, the inputs of one step
    per_step: bool      # answers (n, T) rather than (n,)

    def query(self, batch: np.ndarray) -> np.ndarray: ...


def query_sequences(oracle: SequenceOracle, batches: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
    """The oracle's answers for each length's batch; `SpecError` for a batch that is not
    (n, T, D) with T its key, `ModelError` for an answer that is not (n,) or (n, T)."""
    out = {}
    for t, batch in batches.items():
        batch = np.asarray(batch)
        if batch.ndim != 3 or batch.shape[1:] != (t, oracle.width):
            raise SpecError(f"query: expected a batch of shape (n, {t}, {oracle.width}) for length {t}, "
                            f"got {batch.shape}")
        answer = np.asarray(oracle.query(batch))
        want = (len(batch), t) if oracle.per_step else (len(batch),)
        if answer.shape != want:
            raise ModelError(f"model: answered shape {answer.shape} for a batch of shape {batch.shape}, "
                             f"expected {want} ({'per-step' if oracle.per_step else 'final'} outputs)")
        out[t] = answer
    return out
