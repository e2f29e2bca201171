"""Train the rule pair: a network of examples/policy_oblique's rule in another shape, and one of
another rule on the same inputs, for `netsynth compare` on decision rules.

    nice -n 10 .venv/bin/python examples/rule_pair/train.py [names...]     # both by default

- `oblique_tanh`: `x + 2 * y - z > 10` on x, y, z in [0, 10] (the rule of examples/policy_oblique,
  a 2 x 64 ReLU MLP on inputs scaled to [-1, 1]) learnt by two hidden layers of 32 tanh units on
  inputs scaled to [0, 1];
- `other_rule`: `x + y > 8` on the same inputs, by a 2 x 64 ReLU MLP on [-1, 1].

Each is behaviour-cloned as bench/policies/train.py does (uniform points of the box and as many
again near the boundary, binary cross-entropy, Adam with a cosine schedule) for a fixed number of
CPU seconds on one thread, exported to ONNX with a dynamic batch (oracle.export.export_onnx) and
measured on 10^5 fresh points; the spec.json carries the rule as its `reference`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

RANGES = {"x": (0.0, 10.0), "y": (0.0, 10.0), "z": (0.0, 10.0)}
#: name -> (rule, reference, its distance to the boundary, hidden widths, activation, scaling, s)
NETWORKS = {
    "oblique_tanh": (lambda p: p[:, 0] + 2 * p[:, 1] - p[:, 2] - 10, "x + 2 * y - z > 10",
                     [32, 32], "tanh", "unit", 120.0),
    "other_rule": (lambda p: p[:, 0] + p[:, 1] - 8, "x + y > 8", [64, 64], "relu", "symmetric",
                   120.0),
}


def train(name: str) -> float:
    import torch

    from oracle.export import export_onnx

    side, reference, widths, activation, scaling, seconds = NETWORKS[name]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    lo = np.array([r[0] for r in RANGES.values()])
    hi = np.array([r[1] for r in RANGES.values()])
    uniform = lo + rng.random((150_000, 3)) * (hi - lo)
    wide = lo + rng.random((3_000_000, 3)) * (hi - lo)
    near = wide[np.abs(side(wide)) < 0.5][:150_000]
    points = np.concatenate([uniform, near])
    offset, scale = {"unit": (lo, hi - lo), "symmetric": ((lo + hi) / 2, (hi - lo) / 2)}[scaling]
    X = torch.tensor((points - offset) / scale, dtype=torch.float32)
    Y = torch.tensor(side(points) > 0, dtype=torch.float32)
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[activation]
    layers, width = [], 3
    for w in widths:
        layers += [torch.nn.Linear(width, w), act()]
        width = w
    net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    start = time.process_time()
    while (frac := (time.process_time() - start) / seconds) < 1:
        for group in opt.param_groups:
            group["lr"] = 1e-5 + 0.5 * (3e-3 - 1e-5) * (1 + np.cos(np.pi * frac))
        idx = torch.randint(0, len(X), (512,))
        loss = loss_fn(net(X[idx])[:, 0], Y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    fresh = lo + np.random.default_rng(1).random((100_000, 3)) * (hi - lo)
    with torch.no_grad():
        got = net(torch.tensor((fresh - offset) / scale, dtype=torch.float32)).numpy()[:, 0] > 0
    accuracy = float(np.mean(got == (side(fresh) > 0)))
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    export_onnx(net, 3, folder / "model.onnx")
    spec = {"name": name, "model": "model.onnx", "family": "rule", "dsl": "real",
            "inputs": [{"name": n, "type": "real", "range": list(r), "encoding": "raw",
                        "offset": float(o), "scale": float(s)}
                       for (n, r), o, s in zip(RANGES.items(), offset, scale)],
            "output": {"type": "bool", "decoding": "threshold"}, "reference": reference}
    (folder / "spec.json").write_text(json.dumps(spec, indent=1) + "\n")
    return accuracy


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    for name in sys.argv[1:] or NETWORKS:
        if name not in NETWORKS:
            sys.exit(f"unknown network {name!r}; expected one of {', '.join(NETWORKS)}")
        print(name, f"accuracy on 10^5 fresh points {train(name):.5f}", flush=True)
