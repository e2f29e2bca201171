"""Train the small clamp network the literal-discovery test uses (tests/data/clamp).

Run from the repository root (a few seconds, one thread):

    nice -n 10 .venv/bin/python bench/hackers_delight/train_clamp.py

An MLP (1 -> 16 -> 1, ReLU) learns clamp(x, 7, 40) on x in [0, 63] (input `raw` with scale 63,
output `round` with scale 63), trained with a fixed seed until the rounded output is right on all 64 points,
then exported to tests/data/clamp/model.onnx beside its spec and checked through netsynth's
oracle. Its plateaus (7 below x = 7, 40 from x = 40) are the constants the literal pool lacks.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "tests" / "data" / "clamp"
LO, HI, TOP = 7, 40, 63
SPEC = {"name": "clamp", "model": "model.onnx",
        "inputs": [{"name": "x", "type": "int", "range": [0, TOP], "encoding": "raw", "scale": TOP}],
        "output": {"type": "int", "range": [0, TOP], "decoding": "round", "scale": TOP},
        "reference": f"min(max(x, {LO}), {HI})"}


def main() -> None:
    import oracle
    from oracle.export import export_onnx
    from oracle.spec import load_spec

    torch.set_num_threads(1)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    xs = np.arange(TOP + 1)
    truth = np.clip(xs, LO, HI)
    x = torch.tensor(xs / TOP, dtype=torch.float32)[:, None]
    y = torch.tensor(truth / TOP, dtype=torch.float32)[:, None]
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 32), nn.ReLU(), nn.Linear(32, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for epoch in range(1, 20001):
        loss = nn.functional.mse_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if epoch % 500 == 0 and float((net(x) - y).abs().max().detach()) * TOP < 0.25:
            break
    print(f"epochs {epoch}, worst error {float((net(x) - y).abs().max().detach()) * TOP:.3f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "spec.json").write_text(json.dumps(SPEC, indent=2) + "\n")
    export_onnx(net, 1, OUT / "model.onnx")
    got = oracle.load(load_spec(OUT / "spec.json")).query({"x": xs})
    right = int((np.asarray(got) == truth).sum())
    print(f"right through the oracle: {right} of {len(xs)}")
    if right != len(xs):
        raise SystemExit("the exported network is not right everywhere")


if __name__ == "__main__":
    main()
