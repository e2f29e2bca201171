"""White-box help (issue 18, optional): how many registers a recurrent network's hidden states need.

MIPS reads a trained RNN's hidden states: when they fall into a few clusters the network is a
finite-state machine (one register enumerating its states is enough), otherwise the number of
linear directions the states actually use (their numerical rank) is the number of integer
registers. `estimate_registers(states)` does the same on hidden states `(n, T, H)` collected on
sequences, and returns the estimate with the figures it came from. The stateful search reads it
from an oracle that offers `hidden_states(x) -> (n, T, H)` (e.g. bench/mips/hidden.py's, which
exposes the recurrent node's per-step output of our own ONNX models): it is reported in the
result's figures and orders the phases (a state of two or more dimensions tries the two-register
phases before the larger one-register steps; see search.py).

numpy, and scipy's single-linkage clustering (imported when used).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

MAX_CLUSTERS = 64        # more distinct states than this: not read as a finite-state machine
RESOLUTION = 0.1         # states joined by steps shorter than this (times their spread): one cluster
VARIANCE = 0.9           # the rank: directions needed for this share of the states' variance
POINTS = 2000            # hidden vectors clustered (single linkage is quadratic)


@dataclass(frozen=True)
class RegisterEstimate:
    registers: int            # the estimate: 0, 1 or 2 (capped at 2, the search's most)
    clusters: int | None      # distinct states, when at most MAX_CLUSTERS
    rank: int                 # directions holding VARIANCE of the (centred) states' variance
    states: int               # hidden vectors read
    width: int                # hidden size

    def to_dict(self) -> dict:
        return asdict(self)


def estimate_registers(states: np.ndarray) -> RegisterEstimate:
    """Registers needed by hidden states `(n, T, H)` (or `(N, H)`); see the module docstring."""
    h = np.asarray(states, dtype=np.float64)
    if h.ndim == 3:
        h = h.reshape(-1, h.shape[-1])
    if h.ndim != 2 or len(h) == 0 or not np.isfinite(h).all():
        raise ValueError(f"hidden states: expected finite (n, T, H) or (N, H), got shape {np.shape(states)}")
    centred = h - h.mean(axis=0)
    spread = float(np.linalg.norm(centred, axis=1).max())
    if spread <= 1e-9 * (1.0 + float(np.abs(h).max())):     # a constant state (up to rounding)
        return RegisterEstimate(0, 1, 0, len(h), h.shape[1])
    from scipy.cluster.hierarchy import fcluster, linkage

    pick = np.random.default_rng(0).permutation(len(h))[:POINTS]
    labels = fcluster(linkage(h[pick], "single"), RESOLUTION * spread, "distance")
    found = len(np.unique(labels))
    clusters = found if found <= MAX_CLUSTERS else None
    sv = np.linalg.svd(centred, compute_uv=False) ** 2
    rank = int(np.searchsorted(np.cumsum(sv) / sv.sum(), VARIANCE) + 1)
    if clusters is not None:
        registers = 0 if clusters <= 1 else 1
    else:
        registers = min(2, rank)
    return RegisterEstimate(registers, clusters, rank, len(h), h.shape[1])


def white_box_registers(oracle, x: np.ndarray, figures: dict) -> int | None:
    """Registers estimated from the oracle's hidden states on sequences `x` (the first 2,000),
    when it offers `hidden_states`; the estimate goes to `figures["register_estimate"]`."""
    if not callable(getattr(oracle, "hidden_states", None)):
        return None
    estimate = estimate_registers(oracle.hidden_states(x[:2000]))
    figures["register_estimate"] = estimate.to_dict()
    return estimate.registers
