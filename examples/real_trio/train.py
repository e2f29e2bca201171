"""Train the real trio: three networks of different shapes on one law, and one of another law.

    nice -n 10 .venv/bin/python examples/real_trio/train.py [names...]    # all four by default

Every network of the trio learns the decay law of examples/real_decay, `2.37 * a * exp(-0.61 *
t)` on a in [1, 3], t in [0, 4], with its own shape and input scaling:

- `wide_relu`: one hidden layer of 256 ReLU units, inputs scaled to [0, 1];
- `deep_tanh`: four hidden layers of 32 tanh units, inputs standardised to [-1, 1];
- `narrow_silu`: two hidden layers of 24 SiLU units on the raw inputs (offset 0, scale 1).

`other_law` (same inputs and ranges, 3 x 64 SiLU) learns `a * t / (1 + t)`: swapped in for one
of the trio, it makes a second group. Each is trained with Adam for a fixed number of CPU seconds
on one thread, exported to ONNX with a dynamic batch dimension (oracle.export.export_onnx), and
gets a spec.json with the law as its `reference`. Nothing at run time retrains.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

RANGES = {"a": (1.0, 3.0), "t": (0.0, 4.0)}
DECAY = (lambda a, t: 2.37 * a * np.exp(-0.61 * t), "2.37 * a * exp(-0.61 * t)")
OTHER = (lambda a, t: a * t / (1 + t), "a * t / (1 + t)")

#: name -> (law, hidden widths, activation, input scaling ("unit", "symmetric", "none"), seconds)
NETWORKS = {
    "wide_relu": (DECAY, [256], "relu", "unit", 90.0),
    "deep_tanh": (DECAY, [32, 32, 32, 32], "tanh", "symmetric", 90.0),
    "narrow_silu": (DECAY, [24, 24], "silu", "none", 90.0),
    "other_law": (OTHER, [64, 64, 64], "silu", "symmetric", 60.0),
}


def train(name: str) -> float:
    import torch

    from oracle.export import export_onnx

    (law, reference), widths, activation, scaling, seconds = NETWORKS[name]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    lo = np.array([r[0] for r in RANGES.values()])
    hi = np.array([r[1] for r in RANGES.values()])
    x = lo + rng.random((40_000, len(lo))) * (hi - lo)
    y = law(*x.T)
    offset, scale = {"unit": (lo, hi - lo), "symmetric": ((lo + hi) / 2, (hi - lo) / 2),
                     "none": (np.zeros(2), np.ones(2))}[scaling]
    y_off, y_scale = float(y.mean()), float(y.std())
    X = torch.tensor((x - offset) / scale, dtype=torch.float32)
    Y = torch.tensor((y - y_off) / y_scale, dtype=torch.float32)[:, None]
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "silu": torch.nn.SiLU}[activation]
    layers, width = [], len(lo)
    for w in widths:
        layers += [torch.nn.Linear(width, w), act()]
        width = w
    net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    start = time.process_time()
    while (frac := (time.process_time() - start) / seconds) < 1:
        for group in opt.param_groups:
            group["lr"] = 1e-5 + 0.5 * (3e-3 - 1e-5) * (1 + np.cos(np.pi * frac))
        idx = torch.randint(0, len(X), (512 if frac < 0.5 else 2048,))
        loss = torch.mean((net(X[idx]) - Y[idx]) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = net(X[:10_000]).numpy()[:, 0] * y_scale + y_off
    rel = float(np.sqrt(np.mean((pred - y[:10_000]) ** 2)) / y_scale)
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    export_onnx(net, len(lo), folder / "model.onnx")
    spec = {"name": name, "model": "model.onnx", "dsl": "real", "family": "real",
            "inputs": [{"name": n, "type": "real", "range": list(r), "encoding": "raw",
                        "offset": float(o), "scale": float(s)}
                       for (n, r), o, s in zip(RANGES.items(), offset, scale)],
            "output": {"type": "real", "decoding": "raw", "offset": y_off, "scale": y_scale},
            "reference": reference}
    (folder / "spec.json").write_text(json.dumps(spec, indent=1) + "\n")
    return rel


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    for name in sys.argv[1:] or NETWORKS:
        if name not in NETWORKS:
            sys.exit(f"unknown network {name!r}; expected one of {', '.join(NETWORKS)}")
        print(name, f"relative RMSE {train(name):.2e}", flush=True)
