"""How the real tolerance's multiple (oracle.metric.NOISE_MULTIPLE) was chosen: for each trained
Feynman network, the share of 20,000 points of its box where the true law, and the law with its
value scaled by 1.003, 1.01 and 1.03, agree with the network under
`|p - n| <= K e s + 1e-3 |n|` (e the measured network error, s the spread), for K = 4, 6, 8, 10, 15.

    nice -n 10 .venv/bin/python bench/feynman/tolerance.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from equations import load  # noqa: E402

KS = (4, 6, 8, 10, 15)
FACTORS = (1.0, 1.003, 1.01, 1.03)


def main() -> None:
    import oracle
    from oracle import sampling
    from oracle.metric import network_error, spread
    from oracle.spec import load_spec

    print("equation   " + " | ".join(f"law x {f:<5}: K = " + " ".join(map(str, KS)) for f in FACTORS))
    for eq in load():
        folder = HERE / "models" / eq.slug
        if not (folder / "train.json").exists():
            continue
        spec = load_spec(folder / "spec.json")
        net = oracle.load(spec)
        cols = sampling.sample(spec, 20000, seed=0)
        X = np.stack([cols[n] for n in eq.names], 1)
        y = np.asarray(net.query(cols), np.float64)
        with np.errstate(all="ignore"):
            truth = np.asarray(eq.function()(*X.T), np.float64) * np.ones(len(X))
        e, s = network_error(X[:2000], y[:2000]), spread(y[:2000])
        parts = []
        for f in FACTORS:
            err = np.abs(y - truth * f)
            parts.append(" ".join(f"{np.mean(err <= k * e * s + 1e-3 * np.abs(y)):.4f}" for k in KS))
        print(f"{eq.id:10s} " + " | ".join(parts), flush=True)


if __name__ == "__main__":
    main()
