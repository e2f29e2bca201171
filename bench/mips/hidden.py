"""White-box help on the MIPS networks: their hidden states, and how many registers they need.

Run from the repository root:

    nice -n 10 .venv/bin/python bench/mips/hidden.py [task ...]

For each trained model (models/<task>/model.onnx, our own files), a copy of the ONNX graph gets
the recurrent node's per-step output (Y of the GRU / LSTM / RNN node) as a second graph output and
runs in ONNX Runtime directly (netsynth's oracle accepts models with one output only; this is the
benchmark reading its own networks). `HiddenOracle` is the task's ordinary oracle
(`oracle.load`) plus `hidden_states(x)`, which the stateful search reads when present
(synth/stateful/whitebox.py: the estimate is reported in the result's figures and orders the
search's phases). Printed: per task, the estimate (registers, distinct clusters, rank of the
states) beside the registers and window of the program in the benchmark's results.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]
from tasks import BY_NAME, TASKS, Task  # noqa: E402
from train import MODELS, encode  # noqa: E402

RECURRENT = ("GRU", "LSTM", "RNN")


def with_hidden(model_path: Path) -> bytes:
    """The model's bytes with the recurrent node's Y (T, 1, n, H) as a second output."""
    import onnx

    model = onnx.load(str(model_path))
    nodes = [n for n in model.graph.node if n.op_type in RECURRENT]
    if len(nodes) != 1:
        raise ValueError(f"{model_path}: expected one recurrent node, found {len(nodes)}")
    y = onnx.helper.make_tensor_value_info(nodes[0].output[0], onnx.TensorProto.FLOAT, None)
    model.graph.output.append(y)
    return model.SerializeToString()


class HiddenOracle:
    """The task's oracle (through `oracle.load`, its checks and caps) plus its hidden states."""

    def __init__(self, task: Task) -> None:
        import onnxruntime as ort

        import oracle as oracle_pkg
        from oracle.spec import load_spec

        folder = MODELS / task.name
        self.task = task
        self.spec_dict = json.loads((folder / "spec.json").read_text())
        self.spec = load_spec(folder / "spec.json")
        self.inner = oracle_pkg.load(self.spec, self.spec.model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(with_hidden(folder / "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def query(self, x: np.ndarray) -> np.ndarray:
        return self.inner.query(x)

    def hidden_states(self, x: np.ndarray) -> np.ndarray:
        """(n, T, H) hidden states for int sequences (n, T, D)."""
        x = np.asarray(x, dtype=np.int64)
        x = x[..., None] if x.ndim == 2 else x
        _, y = self.session.run(None, {"x": encode(self.task, self.spec_dict, x)})
        return np.transpose(y[:, 0], (1, 0, 2))


def estimate(task: Task, n: int = 2000) -> dict:
    from synth.stateful.whitebox import estimate_registers

    h = HiddenOracle(task).hidden_states(task.sample(n, task.seq_len, np.random.default_rng(5)))
    return estimate_registers(h).to_dict()


def found_programs() -> dict:
    rows: dict = {}
    for path in [HERE / "results-network.json", *sorted(HERE.glob("results-network-*.json"))]:
        if path.exists():
            rows.update(json.loads(path.read_text()))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*")
    args = parser.parse_args(argv)
    tasks = [BY_NAME[n] for n in args.tasks] if args.tasks else TASKS
    rows = found_programs()
    print("| task | estimated registers | clusters | rank | program's registers | window | solved |")
    print("|---|---|---|---|---|---|---|")
    for task in tasks:
        if not (MODELS / task.name / "model.onnx").exists():
            continue
        e = estimate(task)
        r = rows.get(task.name, {})
        program = r.get("program") or ""
        registers = program.split("\n")[0].count("=") if program.startswith("init") else (0 if program else "")
        window = max([int(w[2:]) for w in program.replace("(", " ").replace(")", " ").split()
                      if w.startswith("x_") and w[2:].isdigit()] or [0]) if program else ""
        print(f"| {task.name} | {e['registers']} | {e['clusters'] if e['clusters'] is not None else '>64'} | "
              f"{e['rank']} | {registers} | {window} | {'yes' if r.get('solved_in_time') else 'no'} |",
              flush=True)


if __name__ == "__main__":
    main()
