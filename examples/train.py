"""Train the example networks and export each to examples/<name>/{model.onnx,spec.json}.

Run from the repository root: `python examples/train.py [name ...]` (all examples by default; a
name may be a folder, e.g. `trio` for the networks under examples/trio/). CPU only, two threads,
fixed seeds, nothing downloaded. Each network is trained until it reproduces its reference on the
whole domain (except `noisy_add`, which is imperfect on purpose), exported to ONNX, re-measured on
the exported file with ONNX Runtime, and the figures are written to examples/README.md (a run of
some examples updates their rows and notes and leaves the others as they are).

The trio (examples/trio/) is three networks of different shapes trained on one task, (x + y) % 16,
for `netsynth compare`; examples/other_task/xor_relu is a network of another task, x ^ y on the
same inputs, for the case of two groups (docs/compare.md).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
from oracle.export import export_onnx  # noqa: E402


@dataclass(frozen=True)
class Example:
    name: str
    spec: dict
    truth: Callable[[np.ndarray, np.ndarray], np.ndarray]  # the reference, in numpy
    train: Callable[[np.ndarray, np.ndarray], nn.Module]  # whole-domain (X, labels) -> network


def grid(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (x, y) pair with lo <= x, y <= hi, x varying slowest (the oracle's mixed-radix order)."""
    x, y = np.meshgrid(np.arange(lo, hi + 1), np.arange(lo, hi + 1), indexing="ij")
    return x.ravel(), y.ravel()


def one_hot(v: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.eye(hi - lo + 1, dtype=np.float32)[v - lo]


def bits(v: np.ndarray, width: int) -> np.ndarray:
    return ((v[:, None] >> np.arange(width)) & 1).astype(np.float32)


def mlp(d: int, hidden: int, k: int) -> nn.Module:
    return nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, k))


def stack(d: int, widths: tuple[int, ...], k: int, activation: type[nn.Module]) -> nn.Module:
    """Linear layers of `widths` with `activation` between them, then a linear layer to k outputs."""
    layers: list[nn.Module] = []
    for w in widths:
        layers += [nn.Linear(d, w), activation()]
        d = w
    return nn.Sequential(*layers, nn.Linear(d, k))


def fit_classifier(x: np.ndarray, labels: np.ndarray, net: nn.Module, *, train_idx: np.ndarray | None = None,
                   lr: float = 3e-3, weight_decay: float = 0.0, max_steps: int = 20000) -> int:
    """Full-batch AdamW on the rows `train_idx` (default all); stop once every row's argmax is right.

    Returns the number of steps taken (`max_steps` if it never got every row right)."""
    xs, ys = torch.from_numpy(x), torch.from_numpy(labels).long()
    rows = torch.arange(len(xs)) if train_idx is None else torch.from_numpy(train_idx)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    for step in range(max_steps):
        loss = nn.functional.cross_entropy(net(xs[rows]), ys[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            with torch.no_grad():
                if bool((net(xs).argmax(1) == ys).all()):
                    return step
    return max_steps


def train_mod_add(x: np.ndarray, labels: np.ndarray) -> nn.Module:
    """Grokking set-up first (half the pairs, strong weight decay); memorise the rest if it stalls."""
    net = mlp(x.shape[1], 128, 113)
    half = np.random.default_rng(0).permutation(len(x))[: len(x) // 2]
    steps = fit_classifier(x, labels, net, train_idx=half, lr=3e-3, weight_decay=1.0, max_steps=6000)
    with torch.no_grad():
        right = (net(torch.from_numpy(x)).argmax(1).numpy() == labels)
    held_out = np.setdiff1d(np.arange(len(x)), half)
    NOTES["mod_add_113"] = (f"trained on 50% of pairs with AdamW(weight_decay=1.0) for {steps} steps, "
                            f"reaching {right[held_out].mean():.2%} on the held-out pairs")
    if steps == 6000:
        more = fit_classifier(x, labels, net, lr=1e-3, weight_decay=0.1, max_steps=20000)
        NOTES["mod_add_113"] += f"; then {more} more steps on all pairs to get every pair right"
    return net


def train_classifier(hidden: int, k: int) -> Callable[[np.ndarray, np.ndarray], nn.Module]:
    def train(x: np.ndarray, labels: np.ndarray) -> nn.Module:
        net = mlp(x.shape[1], hidden, k)
        fit_classifier(x, labels, net)
        return net
    return train


def train_bitwise(x: np.ndarray, targets: np.ndarray) -> nn.Module:
    """Eight independent logistic outputs; output k > 0 means bit k is set."""
    net, xs = mlp(16, 32, 8), torch.from_numpy(x)
    ys = torch.from_numpy(bits(targets, 8))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for step in range(20000):
        loss = nn.functional.binary_cross_entropy_with_logits(net(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 and bool(((net(xs) > 0).float() == ys).all()) and loss.item() < 0.01:
            break
    return net


def train_max(x: np.ndarray, targets: np.ndarray) -> nn.Module:
    """Regression on normalised values (x / 50 -> max / 50); done once every rounded value is right."""
    net, xs = mlp(2, 16, 1), torch.from_numpy(x)
    ys = torch.from_numpy(targets.astype(np.float32) / 50.0)[:, None]
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2000, gamma=0.5)
    for step in range(30000):
        loss = nn.functional.mse_loss(net(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 and bool((torch.round(net(xs) * 50) == ys * 50).all()):
            break
    return net


NOISY = 5  # label-noise points in noisy_add: the network learns these wrong answers


def train_noisy(x: np.ndarray, labels: np.ndarray) -> nn.Module:
    """Memorise the table with NOISY labels replaced by wrong ones, so exactly those points are wrong."""
    rng = np.random.default_rng(7)
    noisy = labels.copy()
    idx = rng.choice(len(labels), NOISY, replace=False)
    noisy[idx] = (labels[idx] + 1 + rng.integers(0, 15, NOISY)) % 16
    net = mlp(x.shape[1], 64, 16)
    fit_classifier(x, noisy, net)
    return net


def train_stack(widths: tuple[int, ...], activation: type[nn.Module], *, lr: float = 3e-3,
                out_bits: int = 0) -> Callable[[np.ndarray, np.ndarray], nn.Module]:
    """A trio member: argmax over the classes, or (out_bits > 0) one logistic output per bit."""
    def train(x: np.ndarray, labels: np.ndarray) -> nn.Module:
        if not out_bits:
            net = stack(x.shape[1], widths, int(labels.max()) + 1, activation)
            fit_classifier(x, labels, net, lr=lr)
            return net
        net, xs = stack(x.shape[1], widths, out_bits, activation), torch.from_numpy(x)
        ys = torch.from_numpy(bits(labels, out_bits))
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        for step in range(20000):
            loss = nn.functional.binary_cross_entropy_with_logits(net(xs), ys)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 50 == 0 and bool(((net(xs) > 0).float() == ys).all()) and loss.item() < 0.01:
                break
        return net
    return train


NOTES: dict[str, str] = {}
#: What the networks in a folder of examples are for (a note in examples/README.md).
FOLDERS = {
    "trio": "three networks of different shapes and input encodings trained on one task, "
            "(x + y) % 16 on [0, 15], for `netsynth compare` (docs/compare.md): `wide_relu` (one_hot "
            "inputs, one ReLU layer of 256), `deep_tanh` (8-bit inputs, three tanh layers of 32, one "
            "logistic output per bit), `scaled_gelu` (raw inputs scaled to [-1, 1], two GELU layers "
            "of 64)",
    "other_task": "`xor_relu` learnt another task, x ^ y, on the same inputs: swapped into the trio "
                  "it makes two groups",
}


def int_input(name: str, lo: int, hi: int, encoding: str, **params) -> dict:
    return {"name": name, "type": "int", "range": [lo, hi], "encoding": encoding, **params}


def examples() -> list[Example]:
    return [
        Example("mod_add_113", {
            "inputs": [int_input("x", 0, 112, "one_hot"), int_input("y", 0, 112, "one_hot")],
            "output": {"type": "int", "range": [0, 112], "decoding": "argmax"},
            "reference": "(x + y) % 113", "constants": [113]},
            lambda x, y: (x + y) % 113, train_mod_add),
        Example("bitwise_8", {
            "inputs": [int_input("x", 0, 255, "bits", width=8), int_input("y", 0, 255, "bits", width=8)],
            "output": {"type": "int", "range": [0, 255], "decoding": "bits", "width": 8},
            "reference": "(x ^ y) & 240", "constants": [240]},
            lambda x, y: (x ^ y) & 240, train_bitwise),
        Example("abs_diff", {
            "inputs": [int_input("x", 0, 31, "one_hot"), int_input("y", 0, 31, "one_hot")],
            "output": {"type": "int", "range": [0, 31], "decoding": "argmax"},
            "reference": "x - y if x > y else y - x"},
            lambda x, y: np.abs(x - y), train_classifier(128, 32)),
        Example("max_raw", {
            "inputs": [int_input("x", -50, 50, "raw", offset=0, scale=50),
                       int_input("y", -50, 50, "raw", offset=0, scale=50)],
            "output": {"type": "int", "range": [-50, 50], "decoding": "round", "scale": 50, "offset": 0},
            "reference": "max(x, y)"},
            np.maximum, train_max),
        Example("noisy_add", {
            "inputs": [int_input("x", 0, 15, "one_hot"), int_input("y", 0, 15, "one_hot")],
            "output": {"type": "int", "range": [0, 15], "decoding": "argmax"},
            "reference": "(x + y) % 16", "constants": [16]},
            lambda x, y: (x + y) % 16, train_noisy),
        *trio(),
    ]


def trio() -> list[Example]:
    """One task, (x + y) % 16 on x, y in [0, 15], learnt by three networks of different shapes and
    input encodings; and a network of another task (x ^ y) on the same inputs."""
    def task(encoding: str, **params) -> list[dict]:
        return [int_input("x", 0, 15, encoding, **params), int_input("y", 0, 15, encoding, **params)]

    classes = {"type": "int", "range": [0, 15], "decoding": "argmax"}
    add = {"reference": "(x + y) % 16", "constants": [16]}
    return [
        Example("trio/wide_relu", {"inputs": task("one_hot"), "output": classes, **add},
                lambda x, y: (x + y) % 16, train_stack((256,), nn.ReLU)),
        Example("trio/deep_tanh", {
            "inputs": task("bits", width=8),
            "output": {"type": "int", "range": [0, 15], "decoding": "bits", "width": 4}, **add},
            lambda x, y: (x + y) % 16, train_stack((32, 32, 32), nn.Tanh, lr=1e-2, out_bits=4)),
        Example("trio/scaled_gelu", {
            "inputs": task("raw", offset=7.5, scale=7.5), "output": classes, **add},
            lambda x, y: (x + y) % 16, train_stack((64, 64), nn.GELU)),
        Example("other_task/xor_relu", {
            "inputs": task("one_hot"), "output": classes, "reference": "x ^ y"},
            lambda x, y: x ^ y, train_stack((128,), nn.ReLU)),
    ]


def features(spec: dict, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The network input of `spec` for the columns x, y (an independent copy of oracle.encoding)."""
    cols = []
    for inp, v in zip(spec["inputs"], (x, y)):
        lo, hi = inp["range"]
        if inp["encoding"] == "one_hot":
            cols.append(one_hot(v, lo, hi))
        elif inp["encoding"] == "bits":
            cols.append(bits(v, inp["width"]))
        else:
            cols.append(((v - inp["offset"]) / inp["scale"]).astype(np.float32)[:, None])
    return np.concatenate(cols, axis=1)


def decode(spec: dict, out: np.ndarray) -> np.ndarray:
    o = spec["output"]
    if o["decoding"] == "argmax":
        return o["range"][0] + out.argmax(1)
    if o["decoding"] == "bits":
        return ((out > 0) * (1 << np.arange(out.shape[1]))).sum(1)
    return np.round(out[:, 0] * o["scale"] + o["offset"]).astype(np.int64)


def run(example: Example) -> dict:
    """Train, export and measure one example; return its row for the README."""
    torch.manual_seed(0)
    spec = {"name": example.name.rsplit("/", 1)[-1], "model": "model.onnx", "dsl": "int", **example.spec}
    x, y = grid(*spec["inputs"][0]["range"])
    truth = example.truth(x, y)
    start = time.perf_counter()
    net = example.train(features(spec, x, y), truth)
    seconds = time.perf_counter() - start
    folder = ROOT / example.name
    folder.mkdir(parents=True, exist_ok=True)
    data = export_onnx(net, features(spec, x[:1], y[:1]).shape[1], folder / "model.onnx")
    (folder / "spec.json").write_text(json.dumps(spec, indent=2) + "\n")
    import onnxruntime as ort
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    out = session.run(None, {"x": features(spec, x, y)})[0]
    right = int((decode(spec, out) == truth).sum())
    params = sum(p.numel() for p in net.parameters())
    print(f"{example.name}: {right}/{len(truth)} right, {seconds:.1f} s, {params} parameters, {len(data)} bytes"
          + (f" ({NOTES[example.name]})" if example.name in NOTES else ""))
    return {"name": example.name, "right": right, "points": len(truth), "seconds": seconds,
            "parameters": params, "bytes": len(data), "reference": spec["reference"]}


def readme_row(r: dict) -> str:
    return (f"| `{r['name']}` | `{r['reference']}` | {r['right']} / {r['points']} | "
            f"{100 * r['right'] / r['points']:.2f}% | {r['parameters']} | {r['bytes']} | "
            f"{r['seconds']:.1f} s |")


#: The examples of the other search families, trained by their own scripts (kept at the end of
#: examples/README.md by every run of this one).
OTHER_FAMILIES = """
## The other families' examples

Not trained by this script; each folder holds `model.onnx` and `spec.json` (its `reference` is
the known law, rule, program or language).

| folder | family | what the network learnt | trained by |
|---|---|---|---|
| `real_decay`, `real_pendulum`, `real_coulomb` | real formulas | `2.37 * a * exp(-0.61 * t)`, `2 * pi * sqrt(L / g)`, `q1 * q2 / (4 * pi * r ** 2)` | `nice -n 10 .venv/bin/python examples/real_train.py` |
| `real_trio/*` | real formulas, for `netsynth compare` | the decay law in three shapes (`wide_relu`, `deep_tanh`, `narrow_silu`), and `other_law`: `a * t / (1 + t)` | `nice -n 10 .venv/bin/python examples/real_trio/train.py` |
| `policy_pole`, `policy_congestion`, `policy_oblique` | decision rules | a pole-balancing push, a congestion-control rule, `x + 2 * y - z > 10` (docs/rules.md) | `nice -n 10 .venv/bin/python bench/policies/train.py` |
| `rule_pair/*` | decision rules, for `netsynth compare` | `oblique_tanh`: the oblique rule again, `other_rule`: `x + y > 8` | `nice -n 10 .venv/bin/python examples/rule_pair/train.py` |
| `mips_binary_addition`, `mips_div_3`, `mips_alternating_last3` | programs with state | three MIPS tasks as GRUs (docs/stateful.md) | `bench/mips/train.py` (copies of bench/mips/models) |
| `tomita4`, `tomita4_short` | automata | Tomita 4 (no "000") as a GRU, and a transformer trained on short words only (their README.md) | `bench/tomita/train.py` (copies of bench/tomita/models) |
| `automaton_trio/*` | automata, for `netsynth compare` | `tomita4_lstm` (Tomita 4 again) and `tomita3_gru` (another language) | `bench/tomita/train.py` (copies) |
"""


def write_readme(rows: list[dict]) -> None:
    lines = ["# Example networks", "",
             "Trained and exported by `python examples/train.py` (CPU, 2 threads, fixed seeds).",
             "Accuracy is measured on the exported ONNX file over the whole input domain.",
             f"Training times are wall-clock and grow with other load on the machine: this run ended with a "
             f"load average of {os.getloadavg()[1]:.1f} on {os.cpu_count()} CPUs.", "",
             "| name | reference | right / domain | accuracy | parameters | ONNX bytes | training time |",
             "|---|---|---|---|---|---|---|"]
    lines += [readme_row(r) for r in rows]
    lines += ["", "Notes:", ""] + [f"- `{k}`: {v}." for k, v in {**NOTES, **folder_notes(rows)}.items()]
    lines += [f"- `noisy_add`: trained on the whole table with {NOISY} labels replaced by wrong ones; "
              "imperfect on purpose, for tests of counterexamples.", OTHER_FAMILIES]
    (ROOT / "README.md").write_text("\n".join(lines))


def folder_notes(rows: list[dict]) -> dict[str, str]:
    """A note per folder of examples trained in this run: what they are for, and the run's load."""
    load = f"a run that ended with a load average of {os.getloadavg()[1]:.1f} on {os.cpu_count()} CPUs"
    folders = dict.fromkeys(r["name"].split("/")[0] for r in rows if "/" in r["name"])
    return {f"{f}/*": f"{FOLDERS[f]}; trained by `python examples/train.py {f}`, {load}" for f in folders}


def update_readme(rows: list[dict], names: list[str]) -> None:
    """After a run of some examples: replace (or add, in `examples()` order) their table rows and
    notes in examples/README.md; every other line stays as it is."""
    path = ROOT / "README.md"
    if not path.exists():
        return write_readme(rows)
    lines = path.read_text().splitlines()
    order = [e.name for e in examples()]
    fresh = {r["name"]: readme_row(r) for r in rows}
    notes = {**NOTES, **folder_notes(rows)}
    table = [k for k, ln in enumerate(lines) if ln.startswith("| `")]
    kept = {ln.split("`")[1]: ln for ln in (lines[k] for k in table)}
    merged = {**kept, **fresh}
    body = [merged[n] for n in order if n in merged] + [ln for n, ln in merged.items() if n not in order]
    lines[table[0]:table[-1] + 1] = body
    for key, text in notes.items():
        line = f"- `{key}`: {text}."
        at = next((k for k, ln in enumerate(lines) if ln.startswith(f"- `{key}`:")), None)
        if at is None:          # a new note goes after the last one, before any section
            last = max(k for k, ln in enumerate(lines) if ln.startswith("- `"))
            lines.insert(last + 1, line)
        else:
            lines[at] = line
    path.write_text("\n".join(lines) + "\n")


def main(names: list[str]) -> None:
    torch.set_num_threads(2)
    chosen = [e for e in examples() if not names or e.name in names or e.name.split("/")[0] in names]
    rows = [run(e) for e in chosen]
    if not names:
        write_readme(rows)
    elif rows:
        update_readme(rows, names)


if __name__ == "__main__":
    main(sys.argv[1:])
