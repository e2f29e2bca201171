"""Train a small recurrent network for each MIPS task and export it as ONNX with its spec.

Run from the repository root (one thread, low priority, resumable):

    nice -n 10 .venv/bin/python bench/mips/train.py [task ...] [--force] [--seconds 90]

Each task (bench/mips/tasks.py) gets a one-layer GRU (hidden 32; 64 for the tasks with a numeric
output) with a per-step linear head, trained with Adam on fresh random sequences of 1..seq_len steps
from the task's input distribution until every step of 2,000 held-out sequences of seq_len is right
(or the time budget per task runs out). Inputs: `one_hot` per step entry when it takes at most 20
values, else `raw` scaled to [-1, 1]; output: `argmax` over the output's values when there are at
most 20 of them (cross-entropy), else `round` with an offset and scale (squared error). The export
has dynamic batch and time dimensions (the stale static time dimension GRU export leaves in
value_info is cleared) and is checked with ONNX Runtime on lengths 1, 3, seq_len and 2 * seq_len
against torch. Each model lands in `models/<task>/model.onnx` beside `spec.json`; the per-step and
per-sequence accuracies (on the held-out set, through ONNX Runtime) go to `models/trained.json`. A task
already in trained.json is skipped unless --force.

`--arch relu` trains an Elman RNN with ReLU instead (its recurrent matrix started at the identity):
the numeric tasks' networks (docs/stateful.md). `--arch lstm`, `--hidden`, `--lr`, `--decay` (the
learning rate's factor every 1,000 steps), `--max-steps` (a budget that does not shrink under
load), `--runs` (a quarter of the batches made of long runs of one value) and `--keep-better`
(with --force: the committed model is replaced only by a more accurate one; the new one is
exported and measured in a temporary folder first).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]
from tasks import BY_NAME, TASKS, Task  # noqa: E402

MODELS = HERE / "models"
RECORD = MODELS / "trained.json"
CLASSES = 20          # at most this many values: one_hot in / argmax out

#: Easy first: bits, then small alphabets, then numeric outputs.
def order(task: Task) -> tuple:
    lo, hi = task.output_range()
    return (task.outputs, hi - lo + 1 > CLASSES, task.alphabet, task.name)


def step_names(task: Task) -> list[str]:
    return ["x"] if task.dim == 1 else ["a", "b"]


def spec_of(task: Task) -> dict:
    lo, hi = task.output_range()
    one_hot = task.hi - task.lo + 1 <= CLASSES
    scale = max(abs(task.lo), abs(task.hi))
    inputs = [{"name": n, "type": "int", "range": [task.lo, task.hi],
               **({"encoding": "one_hot"} if one_hot else {"encoding": "raw", "scale": scale})}
              for n in step_names(task)]
    if hi - lo + 1 <= CLASSES:
        output = {"type": "int", "range": [lo, hi], "decoding": "argmax"}
    else:
        output = {"type": "int", "range": [lo, hi], "decoding": "round",
                  "offset": (hi + lo) / 2, "scale": (hi - lo) / 2}
    return {"name": task.name, "family": "stateful", "model": "model.onnx",
            "sequence": {"length": [1, task.seq_len], "output": "per_step"},
            "inputs": inputs, "output": output}


def encode(task: Task, spec: dict, x: np.ndarray) -> np.ndarray:
    """(n, T, D) int64 -> (n, T, width) float32, each step its entries' encodings in order."""
    parts = []
    for d, inp in enumerate(spec["inputs"]):
        v = x[..., d]
        if inp["encoding"] == "one_hot":
            parts.append(np.eye(task.hi - task.lo + 1, dtype=np.float32)[v - task.lo])
        else:
            parts.append((v / inp["scale"]).astype(np.float32)[..., None])
    return np.concatenate(parts, axis=-1)


def decode(spec: dict, out: np.ndarray) -> np.ndarray:
    o = spec["output"]
    if o["decoding"] == "argmax":
        return o["range"][0] + out.argmax(-1)
    return np.round(out[..., 0] * o["scale"] + o["offset"]).astype(np.int64)


def build(width: int, hidden: int, k: int, arch: str = "gru"):
    """A one-layer recurrent network with a per-step linear head: `gru`, `lstm`, or `relu` (an
    Elman RNN with ReLU, its recurrent matrix started at the identity, IRNN-style: sums, maxima
    and shifts of integers are exact in it, which a tanh/sigmoid cell only approximates)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    cells = {"gru": lambda: nn.GRU(width, hidden, batch_first=True),
             "lstm": lambda: nn.LSTM(width, hidden, batch_first=True),
             "relu": lambda: nn.RNN(width, hidden, nonlinearity="relu", batch_first=True)}

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = cells[arch]()
            self.head = nn.Linear(hidden, k)
            if arch == "relu":
                with torch.no_grad():
                    self.rnn.weight_hh_l0.copy_(torch.eye(hidden))
                    self.rnn.bias_hh_l0.zero_()

        def forward(self, x):
            h, _ = self.rnn(x)
            return self.head(h)

    return Net()


def train(task: Task, seconds: float, arch: str = "gru", hidden: int | None = None,
          lr: float = 3e-3, decay: float = 0.7, max_steps: int | None = None, runs: bool = False) -> dict:
    import torch

    spec = spec_of(task)
    classes = spec["output"]["decoding"] == "argmax"
    lo, hi = spec["output"]["range"]
    k = hi - lo + 1 if classes else 1
    width = encode(task, spec, task.sample(1, 1, np.random.default_rng(0))).shape[-1]
    net = build(width, hidden or (32 if classes else 64), k, arch)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng(1)
    test_x = task.sample(2000, task.seq_len, np.random.default_rng(99))
    test_y = task.truth(test_x)
    start, steps, best = time.monotonic(), 0, (-1.0, None)
    while time.monotonic() - start < seconds and (max_steps is None or steps < max_steps):
        t = int(rng.integers(1, task.seq_len + 1)) if steps % 2 else task.seq_len
        x = task.sample(256, t, rng)
        if runs and steps % 4 == 3:          # a batch of long runs of one value (constant sequences too)
            keep = rng.random(x.shape[:2]) < 0.8
            for k in range(1, t):
                x[:, k] = np.where(keep[:, k, None], x[:, k - 1], x[:, k])
        y = torch.from_numpy(task.truth(x))
        out = net(torch.from_numpy(encode(task, spec, x)))
        if classes:
            loss = torch.nn.functional.cross_entropy(out.reshape(-1, k), (y - lo).reshape(-1))
        else:
            target = (y.float() - spec["output"]["offset"]) / spec["output"]["scale"]
            loss = torch.nn.functional.mse_loss(out[..., 0], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        if steps % 100 == 0:
            with torch.no_grad():
                pred = decode(spec, net(torch.from_numpy(encode(task, spec, test_x))).numpy())
            acc = float((pred == test_y).mean())
            if acc > best[0]:
                best = (acc, {n: p.detach().clone() for n, p in net.state_dict().items()})
            if acc == 1.0:
                break
            if steps % 1000 == 0:
                for g in opt.param_groups:
                    g["lr"] *= decay
            if steps % 500 == 0:
                print(f"  {task.name} step {steps}: held-out step accuracy {acc:.4f}", flush=True)
    if best[1] is not None:
        net.load_state_dict(best[1])
    return {"net": net, "spec": spec, "steps": steps, "seconds": round(time.monotonic() - start, 1),
            "arch": arch, "hidden": hidden or (32 if classes else 64)}


def export(task: Task, net, spec: dict, folder: Path) -> None:
    import onnx
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    width = encode(task, spec, task.sample(1, 1, np.random.default_rng(0))).shape[-1]
    path = folder / "model.onnx"
    torch.onnx.export(net, torch.zeros(2, task.seq_len, width), str(path), input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch", 1: "time"},
                                                        "y": {0: "batch", 1: "time"}},
                      external_data=False, dynamo=False)
    model = onnx.load(str(path))
    del model.graph.value_info[:]            # the stale static time dimension of GRU export
    onnx.save(model, str(path))
    (folder / "spec.json").write_text(json.dumps(spec, indent=1) + "\n")


def measure(task: Task, spec: dict, folder: Path, net=None) -> dict:
    """Per-step and per-sequence accuracy through ONNX Runtime on 2,000 held-out sequences;
    with `net`, also that ONNX Runtime matches torch on lengths 1, 3, L and 2L."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    run = lambda x: session.run(None, {"x": encode(task, spec, x)})[0]  # noqa: E731
    x = task.sample(2000, task.seq_len, np.random.default_rng(99))
    ok = decode(spec, run(x)) == task.truth(x)
    if net is not None:
        import torch
        for t in (1, 3, task.seq_len, 2 * task.seq_len):
            xt = task.sample(5, t, np.random.default_rng(t))
            want = net(torch.from_numpy(encode(task, spec, xt))).detach().numpy()
            got = run(xt)
            if got.shape != want.shape or not np.allclose(got, want, atol=1e-4):
                raise RuntimeError(f"{task.name}: ONNX export differs from torch at length {t}")
    return {"step_accuracy": float(ok.mean()), "sequence_accuracy": float(ok.all(axis=1).mean())}


def main(argv: list[str] | None = None) -> None:
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--seconds", type=float, default=90.0, help="training budget per task")
    parser.add_argument("--arch", choices=("gru", "lstm", "relu"), default="gru")
    parser.add_argument("--hidden", type=int, default=None, help="hidden size (32; 64 for numeric outputs)")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--decay", type=float, default=0.7, help="learning rate factor every 1,000 steps")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="stop after this many steps too (a budget that does not shrink under load)")
    parser.add_argument("--runs", action="store_true",
                        help="every fourth batch holds each step's value with probability 0.8 (runs, constants)")
    parser.add_argument("--keep-better", action="store_true",
                        help="with --force, keep the committed model when the new one is not more accurate")
    args = parser.parse_args(argv)
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    tasks = [BY_NAME[n] for n in args.tasks] if args.tasks else sorted(TASKS, key=order)
    for task in tasks:
        if task.name in record and not args.force:
            continue
        if task.outputs != 1:
            print(f"{task.name}: skipped (a 2-D output per step)", flush=True)
            continue
        result = train(task, args.seconds, args.arch, args.hidden, args.lr, args.decay, args.max_steps, args.runs)
        folder = MODELS / task.name
        with tempfile.TemporaryDirectory(prefix=f"mips-{task.name}-") as tmp:
            staging = Path(tmp)
            export(task, result["net"], result["spec"], staging)
            row = {**measure(task, result["spec"], staging, result["net"]), "train_steps": result["steps"],
                   "train_seconds": result["seconds"], "arch": result["arch"], "hidden": result["hidden"]}
            record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
            old = record.get(task.name, {}).get("step_accuracy", -1.0)
            if args.keep_better and row["step_accuracy"] <= old:
                print(task.name, "kept the committed model:", row["step_accuracy"], "<=", old, flush=True)
                continue
            folder.mkdir(parents=True, exist_ok=True)
            for name in ("model.onnx", "spec.json"):
                shutil.move(str(staging / name), str(folder / name))
        record[task.name] = row
        RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(task.name, row, flush=True)


if __name__ == "__main__":
    main()
