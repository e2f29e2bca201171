"""Train the real-valued example networks: examples/real_<name>/{model.onnx,spec.json}.

    nice -n 10 .venv/bin/python examples/real_train.py [names...]

Each is an MLP (3 x 64, SiLU) on standardised inputs and output, trained with Adam for a fixed
number of CPU seconds on one thread, exported to ONNX with a dynamic batch dimension. The law is
written into the spec as its `reference`; nothing at run time retrains.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

#: name -> (law as numpy, the reference in the real DSL, inputs {name: (lo, hi)}, spec extras)
EXAMPLES = {
    "real_coulomb": (lambda q1, q2, r: q1 * q2 / (4 * np.pi * r ** 2),
                     "q1 * q2 / (4 * pi * r ** 2)",
                     {"q1": (1, 5), "q2": (1, 5), "r": (1, 5)}, {}),
    "real_decay": (lambda a, t: 2.37 * a * np.exp(-0.61 * t),
                   "2.37 * a * exp(-0.61 * t)",
                   {"a": (1, 3), "t": (0, 4)}, {}),
    "real_pendulum": (lambda L, g: 2 * np.pi * np.sqrt(L / g),
                      "2 * pi * sqrt(L / g)",
                      {"L": (0.5, 2), "g": (5, 15)}, {}),
}


def train(name: str, seconds: float = 60.0) -> float:
    import torch

    from oracle.export import export_onnx

    law, reference, inputs, extra = EXAMPLES[name]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    lo = np.array([r[0] for r in inputs.values()], float)
    hi = np.array([r[1] for r in inputs.values()], float)
    x = lo + rng.random((40_000, len(lo))) * (hi - lo)
    y = law(*x.T)
    offset, scale = (lo + hi) / 2, (hi - lo) / 2
    y_off, y_scale = float(y.mean()), float(y.std())
    X = torch.tensor((x - offset) / scale, dtype=torch.float32)
    Y = torch.tensor((y - y_off) / y_scale, dtype=torch.float32)[:, None]
    net = torch.nn.Sequential(torch.nn.Linear(len(lo), 64), torch.nn.SiLU(), torch.nn.Linear(64, 64),
                              torch.nn.SiLU(), torch.nn.Linear(64, 64), torch.nn.SiLU(),
                              torch.nn.Linear(64, 1))
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
                       for (n, r), o, s in zip(inputs.items(), offset, scale)],
            "output": {"type": "real", "decoding": "raw", "offset": y_off, "scale": y_scale},
            "reference": reference, **extra}
    (folder / "spec.json").write_text(json.dumps(spec, indent=1) + "\n")
    return rel


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    for name in sys.argv[1:] or EXAMPLES:
        print(name, f"relative RMSE {train(name):.2e}", flush=True)
