"""Train an MLP oracle for each Feynman equation; keep it as bench/feynman/models/<id>/.

    nice -n 10 .venv/bin/python bench/feynman/train.py [--ids I.12.1 ...] [--max-vars 3]
                                                       [--limit 8] [--seconds 60]

Inputs are standardised ((v - mid) / half-width, in the spec as offset and scale), the output too
(mean and standard deviation). An MLP (3 x 64, SiLU) is trained with Adam on 40,000 uniform
samples for at most --seconds of one thread, then exported to ONNX (dynamic batch) beside its
spec.json and a train.json with the measured relative RMSE (RMSE / std of the output, on 10,000
fresh points). Equations with a model already are skipped: the script resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from equations import Equation, select  # noqa: E402

MODELS = HERE / "models"


def sample(eq: Equation, n: int, rng: np.random.Generator, widen: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    cols = []
    for lo, hi in eq.ranges:
        mid, half = (lo + hi) / 2, (hi - lo) / 2 * widen
        cols.append(rng.uniform(mid - half, mid + half, n))
    x = np.stack(cols, axis=1)
    with np.errstate(all="ignore"):
        y = np.asarray(eq.function()(*x.T), dtype=np.float64) * np.ones(n)
    keep = np.isfinite(y)
    return x[keep], y[keep]


def train(eq: Equation, *, seconds: float, seed: int = 0) -> dict:
    import torch

    from oracle.export import export_onnx

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x, y = sample(eq, 40_000, rng)
    xt, yt = sample(eq, 10_000, rng)
    offset = np.array([(lo + hi) / 2 for lo, hi in eq.ranges])
    scale = np.array([(hi - lo) / 2 for lo, hi in eq.ranges])
    y_off, y_scale = float(y.mean()), float(y.std()) or 1.0
    X = torch.tensor((x - offset) / scale, dtype=torch.float32)
    Y = torch.tensor((y - y_off) / y_scale, dtype=torch.float32)[:, None]
    d = x.shape[1]
    net = torch.nn.Sequential(torch.nn.Linear(d, 64), torch.nn.SiLU(), torch.nn.Linear(64, 64),
                              torch.nn.SiLU(), torch.nn.Linear(64, 64), torch.nn.SiLU(),
                              torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    start, step, batch = time.process_time(), 0, 512
    while time.process_time() - start < seconds:
        frac = (time.process_time() - start) / seconds
        for group in opt.param_groups:             # cosine decay over the time budget
            group["lr"] = 1e-5 + 0.5 * (3e-3 - 1e-5) * (1 + np.cos(np.pi * frac))
        idx = torch.randint(0, len(X), (batch if frac < 0.5 else 2048,))
        loss = torch.mean((net(X[idx]) - Y[idx]) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    with torch.no_grad():
        pred = net(torch.tensor((xt - offset) / scale, dtype=torch.float32)).numpy()[:, 0]
    pred = pred.astype(np.float64) * y_scale + y_off
    rel_rmse = float(np.sqrt(np.mean((pred - yt) ** 2)) / (np.std(yt) or 1.0))
    folder = MODELS / eq.slug
    folder.mkdir(parents=True, exist_ok=True)
    export_onnx(net, d, folder / "model.onnx")
    spec = {
        "name": f"feynman_{eq.slug}", "model": "model.onnx", "dsl": "real", "family": "real",
        "inputs": [{"name": n, "type": "real", "range": [lo, hi], "encoding": "raw",
                    "offset": float(o), "scale": float(s)}
                   for n, (lo, hi), o, s in zip(eq.names, eq.ranges, offset, scale)],
        "output": {"type": "real", "decoding": "raw", "offset": y_off, "scale": y_scale},
    }
    (folder / "spec.json").write_text(json.dumps(spec, indent=1) + "\n")
    info = {"id": eq.id, "formula": eq.text, "steps": step, "cpu_seconds": seconds,
            "relative_rmse": rel_rmse}
    (folder / "train.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", nargs="*")
    parser.add_argument("--max-vars", type=int)
    parser.add_argument("--limit", type=int, default=None, help="train at most this many now")
    parser.add_argument("--seconds", type=float, default=60.0, help="CPU seconds per network")
    parser.add_argument("--retrain", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    done = 0
    for eq in select(args.ids, max_vars=args.max_vars):
        if (MODELS / eq.slug / "train.json").exists() and not args.retrain:
            continue
        if args.limit is not None and done >= args.limit:
            break
        info = train(eq, seconds=args.seconds)
        done += 1
        print(f"{eq.id:10s} {len(eq.names)} vars  rel RMSE {info['relative_rmse']:.2e}  "
              f"{info['steps']} steps", flush=True)


if __name__ == "__main__":
    main()
