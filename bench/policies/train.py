"""Train netsynth's own policy networks and export them to examples/policy_*/.

Run from the repository root: `nice -n 10 .venv/bin/python bench/policies/train.py [name ...]`
(all three by default; `--force` retrains a network whose model.onnx exists). CPU, one thread,
fixed seeds, nothing downloaded. Each network is a small MLP behaviour-cloned from a known rule
(its `reference`, written in the `real` DSL into the example's spec.json), trained on uniform
points of the input box plus points near the rule's boundary, exported to ONNX with a dynamic
batch (oracle.export.export_onnx) and re-measured with ONNX Runtime on 10^5 fresh points.

- `policy_pole`: cart-pole state (x, x_dot, theta, theta_dot) -> push left (0) / right (1), cloned
  from the linear controller "push right when theta + 0.1 theta_dot > 0" (x, x_dot unused).
- `policy_congestion`: (rtt_ratio, loss, throughput) -> decrease (0) / hold (1) / increase (2)
  the congestion window, an axis-aligned rule of three thresholds.
- `policy_oblique`: (x, y, z) -> bool, a classifier with the oblique boundary x + 2 y - z > 10.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Task:
    name: str
    inputs: tuple[tuple[str, float, float], ...]     # name, lo, hi
    output: dict                                      # the spec's output section
    reference: str                                    # the known rule, in the real DSL
    label: Callable[[np.ndarray], np.ndarray]          # (n, D) -> int labels (0/1 for bool)
    margin: Callable[[np.ndarray], np.ndarray]         # (n, D) -> distance to the boundary (range units)
    classes: int                                      # logits of the network

    def spec(self) -> dict:
        inputs = [{"name": n, "type": "real", "range": [lo, hi], "encoding": "raw",
                   "offset": (lo + hi) / 2, "scale": (hi - lo) / 2} for n, lo, hi in self.inputs]
        return {"name": self.name, "model": "model.onnx", "family": "rule", "dsl": "real", "inputs": inputs,
                "output": self.output, "reference": self.reference}


def _pole_label(p):
    return (p[:, 2] + 0.1 * p[:, 3] > 0).astype(np.int64)


def _pole_margin(p):
    return np.abs(p[:, 2] + 0.1 * p[:, 3]) / 0.72       # lhs spans [-0.51, 0.51]


def _cc_label(p):
    rtt, loss, thr = p[:, 0], p[:, 1], p[:, 2]
    return np.where(loss > 0.02, 0, np.where(rtt > 1.6, 0, np.where(thr > 60, 1, 2))).astype(np.int64)


def _cc_margin(p):
    rtt, loss, thr = p[:, 0], p[:, 1], p[:, 2]
    return np.minimum.reduce([np.abs(loss - 0.02) / 0.1, np.abs(rtt - 1.6) / 2, np.abs(thr - 60) / 100])


def _ob_label(p):
    return (p[:, 0] + 2 * p[:, 1] - p[:, 2] > 10).astype(np.int64)


def _ob_margin(p):
    return np.abs(p[:, 0] + 2 * p[:, 1] - p[:, 2] - 10) / 40


TASKS = {
    "policy_pole": Task(
        "policy_pole",
        (("x", -2.4, 2.4), ("x_dot", -3.0, 3.0), ("theta", -0.21, 0.21), ("theta_dot", -3.0, 3.0)),
        {"type": "int", "range": [0, 1], "decoding": "argmax"},
        "1 if theta + 0.1 * theta_dot > 0 else 0", _pole_label, _pole_margin, 2),
    "policy_congestion": Task(
        "policy_congestion",
        (("rtt_ratio", 1.0, 3.0), ("loss", 0.0, 0.1), ("throughput", 0.0, 100.0)),
        {"type": "int", "range": [0, 2], "decoding": "argmax"},
        "0 if loss > 0.02 else (0 if rtt_ratio > 1.6 else (1 if throughput > 60 else 2))",
        _cc_label, _cc_margin, 3),
    "policy_oblique": Task(
        "policy_oblique",
        (("x", 0.0, 10.0), ("y", 0.0, 10.0), ("z", 0.0, 10.0)),
        {"type": "bool", "decoding": "threshold"},
        "x + 2 * y - z > 10", _ob_label, _ob_margin, 1),
}


def _points(task: Task, n: int, rng: np.random.Generator) -> np.ndarray:
    lo = np.array([i[1] for i in task.inputs])
    hi = np.array([i[2] for i in task.inputs])
    uniform = lo + rng.random((n, len(lo))) * (hi - lo)
    wide = lo + rng.random((20 * n, len(lo))) * (hi - lo)
    near = wide[task.margin(wide) < 0.02][:n]          # half as many again close to the boundary
    return np.concatenate([uniform, near])


def _normalise(task: Task, p: np.ndarray) -> np.ndarray:
    lo = np.array([i[1] for i in task.inputs])
    hi = np.array([i[2] for i in task.inputs])
    return ((p - (lo + hi) / 2) / ((hi - lo) / 2)).astype(np.float32)


def train(task: Task, *, seed: int = 0, epochs: int = 40, n: int = 200_000):
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pts = _points(task, n, rng)
    x = torch.from_numpy(_normalise(task, pts))
    y = torch.from_numpy(task.label(pts))
    d = len(task.inputs)
    net = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, task.classes))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    loss_fn = nn.BCEWithLogitsLoss() if task.classes == 1 else nn.CrossEntropyLoss()
    for epoch in range(epochs):
        perm = torch.randperm(len(x))
        for start in range(0, len(x), 512):
            idx = perm[start:start + 512]
            out = net(x[idx])
            loss = loss_fn(out[:, 0], y[idx].float()) if task.classes == 1 else loss_fn(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        print(f"{task.name}: epoch {epoch + 1}/{epochs} loss {loss.item():.5f}", flush=True)
    return net.eval()


def measure(task: Task, folder: Path, *, seed: int = 1) -> float:
    """The exported network's accuracy against its known rule on 10^5 fresh uniform points."""
    import oracle

    spec = oracle.load_spec(folder / "spec.json")
    net = oracle.load(spec)
    rng = np.random.default_rng(seed)
    lo = np.array([i[1] for i in task.inputs])
    hi = np.array([i[2] for i in task.inputs])
    pts = lo + rng.random((100_000, len(lo))) * (hi - lo)
    got = net.query(pts).astype(np.int64)
    return float((got == task.label(pts)).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(TASKS))
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args(argv)
    from oracle.export import export_onnx

    for name in args.names:
        task = TASKS[name]
        folder = ROOT / "examples" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "spec.json").write_text(json.dumps(task.spec(), indent=2) + "\n")
        if (folder / "model.onnx").exists() and not args.force:
            print(f"{name}: model.onnx exists (use --force to retrain)")
        else:
            start = time.time()
            net = train(task, epochs=args.epochs)
            export_onnx(net, len(task.inputs), folder / "model.onnx")
            print(f"{name}: trained in {time.time() - start:.0f} s")
        print(f"{name}: accuracy against the known rule on 10^5 fresh points: "
              f"{measure(task, folder):.5f}", flush=True)


if __name__ == "__main__":
    main()
