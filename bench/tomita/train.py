"""Train the project's own Tomita networks and export them to bench/tomita/models/.

    nice -n 10 .venv/bin/python bench/tomita/train.py [NAME ...]     # all by default
    .venv/bin/python bench/tomita/train.py --list

A NAME is `tomita<g>_<kind>` (kind gru, lstm or tf, the transformer encoder), `departure`, the
planted departure: a transformer encoder trained on Tomita 4 with words of at most 6 steps only, or `steps4_gru`,
a GRU that answers after every step whether the word so far is in Tomita 4 (a per-step model for
the sequence spec's tests), or `count3_gru`, a GRU naming the number of 1s modulo 3 (three classes,
an int output decoded by argmax: a Moore machine). Each network reads
one-hot steps ((batch, T, 2) float32, T dynamic) and answers one logit (accept when > 0). It is
trained on words of 1..MAX_LEN steps (balanced: accepted words, rejected ones, and one-letter
mutations of accepted ones), then measured on every word up to 12 steps, 2,000 random words of each
length up to MAX_LEN and random words of 2x and 5x MAX_LEN. A network is kept (ONNX file and spec
written) when it is right on every word checked within its training lengths; otherwise the next
seed is tried (up to 3). Resumable: a network whose files exist is skipped (--force retrains).
One CPU thread, fixed seeds, a few minutes for all. Figures go to bench/tomita/models/train.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from grammars import GRAMMARS  # noqa: E402
from nets import Encoder, Recurrent, export_sequence_onnx  # noqa: E402

MODELS = HERE / "models"
MAX_LEN = 16          # the training lengths 1..MAX_LEN, the specs' sequence.length
TF_MAX_LEN = 12       # transformers are trained on shorter words
DEPARTURE_LEN = 6
KINDS = ("gru", "lstm", "tf")
NAMES = ["departure"] + [f"tomita{g}_{k}" for k in KINDS for g in GRAMMARS] + ["steps4_gru", "count3_gru"]
COUNT3 = "lambda w: w.count('1') % 3"    # count3_gru: three classes, a Moore machine


def words_pool(accepts, max_len: int, rng: np.random.Generator, per_length: int = 400) -> dict[int, tuple[list, list]]:
    """Per length: (accepted words, rejected words), as strings; every word when few, else samples
    from uniform words, run-structured words, repeated patterns and mutations of accepted ones."""
    pools = {}
    for n in range(1, max_len + 1):
        if 2 ** n <= 4 * per_length:
            every = ["".join(w) for w in itertools.product("01", repeat=n)]
        else:
            every = set()
            for _ in range(20 * per_length):
                every.add(_draw(n, rng))
            every = sorted(every)
        pos = [w for w in every if accepts(w)]
        neg = [w for w in every if not accepts(w)]
        near = {_mutate(w, rng) for w in pos for _ in range(3)}
        neg += [w for w in near if len(w) == n and not accepts(w) and w not in neg]
        pools[n] = (pos, neg)
    return pools


def _draw(n: int, rng: np.random.Generator) -> str:
    kind = rng.integers(0, 3)
    if kind == 0:
        return "".join(rng.choice(["0", "1"], n))
    if kind == 1:  # a few runs
        out, bit = "", str(rng.integers(0, 2))
        while len(out) < n:
            out += bit * int(rng.integers(1, max(2, n // 2)))
            bit = "1" if bit == "0" else "0"
        return out[:n]
    pattern = "".join(rng.choice(["0", "1"], int(rng.integers(1, 4))))
    return (pattern * n)[:n]


def _mutate(w: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(0, len(w)))
    return w[:i] + ("1" if w[i] == "0" else "0") + w[i + 1:]


def one_hot(words: list[str]) -> torch.Tensor:
    codes = np.array([[int(c) for c in w] for w in words], dtype=np.int64)
    return torch.from_numpy(np.eye(2, dtype=np.float32)[codes])


def make(kind: str, per_step: bool = False, classes: int = 1) -> nn.Module:
    if kind == "tf":
        return Encoder(2, 32, 2, 2, classes)
    return Recurrent(kind, 2, 16, classes, per_step=per_step)


def count3(w: str) -> int:
    return w.count("1") % 3


def predict(net: nn.Module, x: torch.Tensor) -> np.ndarray:
    """The decoded answers: a logit above 0 (one output), else the argmax class."""
    out = net(x)
    return (out[:, 0] > 0).numpy() if out.shape[1] == 1 else out.argmax(dim=1).numpy()


def train(name: str, seed: int, steps: int | None = None) -> tuple[nn.Module, dict]:
    grammar, kind, max_len = spec_of(name)
    accepts = count3 if name == "count3_gru" else GRAMMARS[grammar].accepts
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    pools = words_pool(accepts, max_len, rng)
    per_step = name.startswith("steps")
    net = make(kind, per_step, 3 if name == "count3_gru" else 1)
    if per_step:  # every prefix's answer: the word's own answer at each step
        net = _Final(net)
    steps = steps or (2500 if kind != "tf" else 3000)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2 if kind != "tf" else 2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opt.param_groups[0]["lr"], total_steps=steps)
    loss_fn = nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    for step in range(steps):
        n = int(rng.integers(1, max_len + 1))
        pos, neg = pools[n]
        batch = []
        for pool in (pos, neg):
            if pool:
                batch += [pool[i] for i in rng.integers(0, len(pool), 32)]
        x = one_hot(batch)
        if per_step:
            loss = net.per_step_loss(x, batch, accepts, loss_fn)
        elif name == "count3_gru":
            loss = nn.functional.cross_entropy(net(x), torch.tensor([accepts(w) for w in batch]))
        else:
            loss = loss_fn(net(x)[:, 0], torch.tensor([float(accepts(w)) for w in batch]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    figures = {"seconds": round(time.perf_counter() - start, 1), "seed": seed, "steps": steps, "loss": round(loss.item(), 6)}
    figures.update(measure(net.eval(), accepts, max_len, rng))
    return net, figures


class _Final(nn.Module):
    """A per-step network trained through all of its steps: the loss sees every prefix."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[:, -1]

    def per_step_loss(self, x: torch.Tensor, words: list[str], accepts, loss_fn) -> torch.Tensor:
        y = torch.tensor([[float(accepts(w[:i + 1])) for i in range(len(w))] for w in words])
        return loss_fn(self.net(x)[:, :, 0], y)


def measure(net: nn.Module, accepts, max_len: int, rng: np.random.Generator) -> dict:
    """Errors on every word up to min(12, max_len), random words up to max_len, and at 2x and 5x."""
    def errors(words: list[str]) -> int:
        with torch.no_grad():
            got = predict(net, one_hot(words))
        return int(sum(g != accepts(w) for g, w in zip(got, words)))

    inside = sum(errors(["".join(w) for w in itertools.product("01", repeat=n)]) for n in range(1, min(12, max_len) + 1))
    inside += sum(errors(["".join(rng.choice(["0", "1"], n)) for _ in range(2000)]) for n in range(13, max_len + 1))
    out = {"errors_inside": inside}
    for factor in (2, 5):
        n = factor * max_len
        out[f"errors_{factor}x_of_1000"] = errors(["".join(rng.choice(["0", "1"], n)) for _ in range(1000)])
    return out


def spec_of(name: str) -> tuple[int, str, int]:
    if name == "departure":
        return 4, "tf", DEPARTURE_LEN
    if name == "steps4_gru":
        return 4, "gru", MAX_LEN
    if name == "count3_gru":
        return 0, "gru", MAX_LEN
    grammar, kind = name.removeprefix("tomita").split("_")
    return int(grammar), kind, TF_MAX_LEN if kind == "tf" else MAX_LEN


def write(name: str, net: nn.Module) -> None:
    grammar, kind, max_len = spec_of(name)
    per_step = isinstance(net, _Final)
    export_sequence_onnx(net.net if per_step else net, 2, MODELS / f"{name}.onnx")
    spec = {"name": name, "model": f"{name}.onnx", "family": "stateful" if per_step else "automaton",
            "inputs": [{"name": "x", "type": "int", "range": [0, 1], "encoding": "one_hot"}],
            "output": ({"type": "int", "range": [0, 2], "decoding": "argmax"} if name == "count3_gru"
                       else {"type": "bool", "decoding": "threshold"}),
            "sequence": {"length": [1, max_len], "output": "per_step" if per_step else "final"},
            "reference": COUNT3 if name == "count3_gru" else GRAMMARS[grammar].reference}
    (MODELS / f"{name}.json").write_text(json.dumps(spec, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=NAMES)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 2500, 3000 for transformers)")
    args = parser.parse_args()
    if args.list:
        print("\n".join(NAMES))
        return
    torch.set_num_threads(1)
    MODELS.mkdir(exist_ok=True)
    record = MODELS / "train.json"
    table = json.loads(record.read_text()) if record.exists() else {}
    for name in args.names:
        if name not in NAMES:
            raise SystemExit(f"unknown network {name!r}; expected one of {NAMES}")
        if (MODELS / f"{name}.onnx").exists() and not args.force:
            continue
        for seed in range(3):
            net, figures = train(name, seed, args.steps)
            print(name, figures, flush=True)
            if figures["errors_inside"] == 0 or seed == 2:
                break
        figures["kept"] = figures["errors_inside"] == 0 or name == "departure"
        table[name] = figures
        if figures["kept"]:
            write(name, net)
        record.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
