"""netsynth on the MIPS benchmark: a program with state from each trained GRU, judged against the
task's definition.

Run from the repository root (after bench/mips/train.py):

    nice -n 10 .venv/bin/python bench/mips/run.py [task ...] [--oracle network|definition]
        [--timeout 120] [--force] [--table]

For each task with a model in models/ (`--oracle definition`: every task, the definition itself
answering, which measures the search alone), the stateful search (synth.stateful.run) runs with a
time limit of `--timeout` seconds on one process; min_agreement is the network's held-out step
accuracy less 0.01, at most 0.999 (a network right on every held-out step may still miss a rare
designed or exhaustive sequence) and at least 0.5. A task counts as solved
when the program found equals the task's definition on every sequence of 8 steps (all of their
prefixes are the shorter sequences; 10^5 random ones where there are more than 10^6) and on 1,000
random sequences of twice the training length, and its exported Python (`to_python`) gives the
same outputs as the definition on 200 of those sequences. Rows are saved after each task in
results-<oracle>.json (a task already there is skipped unless --force); `--table` prints the
markdown table of the saved rows (for docs/stateful.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]
from tasks import BY_NAME, TASKS, Task  # noqa: E402
from train import MODELS, RECORD, spec_of  # noqa: E402

EXHAUSTIVE = 10**6
RANDOM = 10**5


class Definition:
    """The task's definition as a per-step sequence oracle (the independent truth)."""

    def __init__(self, task: Task) -> None:
        self.task, self.width, self.per_step, self.points = task, task.dim, True, 0

    def query(self, x: np.ndarray) -> np.ndarray:
        self.points += len(x)
        return self.task.truth(np.asarray(x, dtype=np.int64))


def judge(task: Task, program, *, seed: int = 0) -> dict:
    """Does the program equal the definition (see the module docstring)?"""
    rng = np.random.default_rng(seed)
    letters = np.array(list(itertools.product(range(task.lo, task.hi + 1), repeat=task.dim)), dtype=np.int64)
    if len(letters) ** 8 <= EXHAUSTIVE:
        short = letters[np.array(list(itertools.product(range(len(letters)), repeat=8)))]
        how = f"all {len(short)} sequences of 8 steps"
    else:
        short = task.sample(RANDOM, 8, rng)
        how = f"{RANDOM} random sequences of 8 steps"
    long = task.sample(1000, 2 * task.seq_len, rng)
    names = program.inputs
    wrong = {}
    for label, x in (("short", short), ("long", long)):
        got = program.evaluate({n: x[..., d] for d, n in enumerate(names)})
        ok = (got.values.astype(np.int64) == task.truth(x)) & ~got.bad
        wrong[label] = int((~ok.all(axis=1)).sum())
    f = program.function()
    rows = [[int(s[0]) if task.dim == 1 else tuple(int(v) for v in s) for s in seq] for seq in long[:200]]
    python_ok = all([int(v) for v in f(r)] == task.truth(long[i:i + 1])[0].tolist() for i, r in enumerate(rows))
    return {"short_checked": how, "short_wrong": wrong["short"], "long_wrong": wrong["long"],
            "python_ok": python_ok,
            "solved": wrong["short"] == 0 and wrong["long"] == 0 and python_ok}


def run_task(task: Task, source: str, timeout: float, white_box: bool = False) -> dict:
    import oracle as oracle_pkg
    from oracle.spec import load_spec
    from synth.options import SearchOptions
    from synth.stateful import run

    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    accuracy = record.get(task.name, {}).get("step_accuracy")
    if source == "network":
        spec = load_spec(MODELS / task.name / "spec.json")
        if white_box:                   # the same oracle, plus the hidden states (hidden.py)
            from hidden import HiddenOracle
            oracle = HiddenOracle(task)
        else:
            oracle = oracle_pkg.load(spec, spec.model)
        minimum = max(0.5, min(0.999, round(accuracy - 0.01, 3)))
    else:
        raw = spec_of(task)
        raw.pop("model")
        spec, oracle, minimum = load_spec(raw), Definition(task), 1.0
    start = time.monotonic()
    result = run(spec, oracle, options=SearchOptions(timeout=timeout, min_agreement=minimum))
    seconds = time.monotonic() - start
    row = {"task": task.name, "oracle": source, "step_accuracy": accuracy, "min_agreement": minimum,
           "stop": result.stop_reason.value, "agreement": result.agreement, "seconds": round(seconds, 1),
           "program": result.program.show() if result.program else None,
           "mips": task.mips, "gpt4": task.gpt4, "queries": result.queries,
           "network": record.get(task.name, {}).get("arch", "gru") if source == "network" else None}
    if "register_estimate" in result.figures:
        row["register_estimate"] = result.figures["register_estimate"]
    if result.program is not None:
        row.update(judge(task, result.program))
    else:
        row["solved"] = False
    row["solved_in_time"] = bool(row["solved"] and seconds <= 120)
    return row


def table(rows: dict) -> str:
    lines = ["| task | MIPS | GPT-4 | network: step accuracy | netsynth | seconds | program |",
             "|---|---|---|---|---|---|---|"]
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    solved = 0
    trained = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    for task in TASKS:
        r = rows.get(task.name)
        if r is None:
            lines.append(f"| {task.name} | {yes(task.mips)} | {yes(task.gpt4)} | not trained | not run | | |")
            continue
        solved += bool(r.get("solved_in_time"))
        arch = r.get("network") or trained.get(task.name, {}).get("arch", "gru")
        acc = "" if r["step_accuracy"] is None else f"{arch} {r['step_accuracy']:.4f}"
        verdict = "solved" if r.get("solved_in_time") else ("wrong program" if r.get("program") else r["stop"])
        program = (r.get("program") or "").replace("\n", "; ").replace("|", "\\|")
        lines.append(f"| {task.name} | {yes(task.mips)} | {yes(task.gpt4)} | {acc} | {verdict} | "
                     f"{r['seconds']} | `{program}` |" if program else
                     f"| {task.name} | {yes(task.mips)} | {yes(task.gpt4)} | {acc} | {verdict} | {r['seconds']} | |")
    mips = sum(t.mips for t in TASKS)
    gpt4 = sum(t.gpt4 for t in TASKS)
    lines.append(f"| **total** | **{mips}** | **{gpt4}** | | **{solved}** | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*")
    parser.add_argument("--oracle", choices=("network", "definition"), default="network")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--white-box", action="store_true",
                        help="the network's hidden states estimate the registers (hidden.py)")
    parser.add_argument("--results", type=Path, help="where rows are saved (default results-<oracle>.json); "
                        "--table reads every results-<oracle>*.json")
    args = parser.parse_args(argv)
    path = args.results or HERE / f"results-{args.oracle}.json"
    rows = json.loads(path.read_text()) if path.exists() else {}
    if args.table:
        for extra in sorted(HERE.glob(f"results-{args.oracle}-*.json")):    # later runs win
            rows.update(json.loads(extra.read_text()))
        print(table(rows))
        return
    tasks = [BY_NAME[n] for n in args.tasks] if args.tasks else TASKS
    for task in tasks:
        if task.name in rows and not args.force:
            continue
        if task.outputs != 1:
            rows[task.name] = {"task": task.name, "oracle": args.oracle, "step_accuracy": None,
                               "stop": "not run: a 2-D output per step", "seconds": 0, "program": None,
                               "solved": False, "solved_in_time": False}
        elif args.oracle == "network" and not (MODELS / task.name / "model.onnx").exists():
            continue
        else:
            rows[task.name] = run_task(task, args.oracle, args.timeout, args.white_box)
        print(json.dumps(rows[task.name]), flush=True)
        rows = {**(json.loads(path.read_text()) if path.exists() else {}), task.name: rows[task.name]}
        path.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
