"""Train a network for each Hacker's Delight task and export it with its spec.

Run from the repository root:

    .venv/bin/python bench/hackers_delight/train.py [task ...] [--force]

Each task (bench/hackers_delight/tasks.py) gets an MLP on the `bits` encoding of its inputs with
one logit per output bit (`bits` decoding; one logit and `threshold` for a bool), trained with
fixed seeds on CPU with one thread until it is right on the whole domain with a margin, then
exported to `<task>/model.onnx` beside `<task>/spec.json` (`"dsl": "bv8"`). Small sizes are
tried first (one input: one hidden layer of 32, 64 or 128; more: two layers of 128 or 256). The export is checked through
netsynth's own oracle (ONNX Runtime) on every point of the domain. A task whose folder already
holds a model the oracle finds right everywhere is skipped, so the script resumes where it was
stopped; `--force` retrains.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]
from tasks import ALL, BY_NAME, Task  # noqa: E402

#: Hidden layers tried in turn (by the domain's size: two inputs need two layers), and the most
#: passes over the domain each gets.
SHAPES = {256: ((32,), (64,), (128,)), 65536: ((128, 128), (256, 256)), 524288: ((256, 256),)}
MAX_EPOCHS = {256: 6000, 65536: 400, 524288: 150}
#: Every logit must be at least this far on the right side of 0: ONNX Runtime's float arithmetic
#: differs from torch's in the last bits.
MARGIN = 0.5


def spec_of(task: Task) -> dict:
    inputs = [{"name": n, "type": "int", "range": [0, (1 << b) - 1], "encoding": "bits", "width": b}
              for n, b in task.inputs]
    output = ({"type": "bool", "decoding": "threshold"} if task.output == "bool" else
              {"type": "int", "range": [0, 255], "decoding": "bits", "width": 8})
    return {"name": task.name, "model": "model.onnx", "dsl": "bv8", "inputs": inputs,
            "output": output, "reference": task.reference}


def features(task: Task, columns: list[np.ndarray]) -> np.ndarray:
    """The network input: each input's bits, least significant first (as oracle.encoding)."""
    return np.concatenate([((c[:, None] >> np.arange(b)) & 1) for c, (_, b)
                           in zip(columns, task.inputs)], axis=1).astype(np.float32)


def targets(task: Task, columns: list[np.ndarray]) -> np.ndarray:
    value = np.asarray(task.truth(*columns)).astype(np.int64)
    if task.output == "bool":
        return value[:, None].astype(np.float32)
    return ((value[:, None] >> np.arange(8)) & 1).astype(np.float32)


def mlp(d: int, hidden: tuple[int, ...], k: int) -> nn.Module:
    layers, width = [], d
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, k))


def fit(x: torch.Tensor, y: torch.Tensor, hidden: tuple[int, ...], *, seed: int) -> tuple[nn.Module, int, bool]:
    """Adam on binary cross-entropy, full batch on small domains and batches of 4096 otherwise,
    until every logit is right by MARGIN. Returns (network, epochs, whether it got there)."""
    torch.manual_seed(seed)
    net = mlp(x.shape[1], hidden, y.shape[1])
    n = len(x)
    batch = min(n, 4096)
    epochs = MAX_EPOCHS.get(n, 100)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2 if n <= 256 else 3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    sign = 2 * y - 1
    g = torch.Generator().manual_seed(seed)
    for epoch in range(1, epochs + 1):
        order = torch.randperm(n, generator=g) if batch < n else torch.arange(n)
        for start in range(0, n, batch):
            rows = order[start:start + batch]
            loss = nn.functional.binary_cross_entropy_with_logits(net(x[rows]), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        if epoch % (50 if n <= 256 else 5) == 0 or epoch == epochs:
            with torch.no_grad():
                if bool(((net(x) * sign) > MARGIN).all()):
                    return net, epoch, True
    return net, epochs, False


def right_through_oracle(task: Task, folder: Path) -> tuple[int, int]:
    """(points right, points) of the exported model, queried through netsynth's oracle."""
    import oracle
    from oracle.spec import load_spec

    columns = task.domain()
    spec = load_spec(folder / "spec.json")
    got = oracle.load(spec).query(dict(zip([n for n, _ in task.inputs], columns)))
    return int((np.asarray(got) == np.asarray(task.truth(*columns))).sum()), len(columns[0])


def train(task: Task, *, force: bool) -> dict | None:
    from oracle.export import export_onnx

    folder = HERE / task.name
    if not force and (folder / "model.onnx").is_file() and (folder / "spec.json").is_file():
        right, points = right_through_oracle(task, folder)
        if right == points:
            print(f"{task.name}: done already ({right}/{points} right)", flush=True)
            return None
    columns = task.domain()
    x = torch.from_numpy(features(task, columns))
    y = torch.from_numpy(targets(task, columns))
    start = time.perf_counter()
    for hidden in SHAPES[len(x)]:
        net, epochs, exact = fit(x, y, hidden, seed=0)
        print(f"{task.name}: hidden {hidden}: {'exact' if exact else 'not exact'} after {epochs} "
              f"epochs ({time.perf_counter() - start:.0f} s)", flush=True)
        if exact:
            break
    folder.mkdir(exist_ok=True)
    (folder / "spec.json").write_text(json.dumps(spec_of(task), indent=2) + "\n")
    data = export_onnx(net, x.shape[1], folder / "model.onnx")
    right, points = right_through_oracle(task, folder)
    row = {"task": task.name, "hidden": list(hidden), "epochs": epochs,
           "parameters": sum(p.numel() for p in net.parameters()), "bytes": len(data),
           "right": right, "points": points, "seconds": round(time.perf_counter() - start, 1)}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks", nargs="*", help=f"task names (default all): {', '.join(BY_NAME)}")
    parser.add_argument("--force", action="store_true", help="retrain tasks already done")
    args = parser.parse_args()
    unknown = [t for t in args.tasks if t not in BY_NAME]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; expected some of {list(BY_NAME)}")
    torch.set_num_threads(1)    # the machine is shared: one thread, run under nice
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)    # "torchvision is not installed"
    for task in [BY_NAME[t] for t in args.tasks] or ALL:
        train(task, force=args.force)


if __name__ == "__main__":
    main()
