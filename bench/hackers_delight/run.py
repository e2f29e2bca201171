"""netsynth against cvc5's SyGuS solver on the Hacker's Delight networks (bench/hackers_delight).

Run from the repository root, after `pip install -e '.[bench]'` (cvc5):

    .venv/bin/python bench/hackers_delight/run.py [task ...] [--budget 60]
        [--ops tricks|core|branchless|all] [--pool today|proposed] [--solvers netsynth,cvc5,cvc5-default]
        [--cvc5-option KEY=VALUE ...] [--json FILE]
    .venv/bin/python bench/hackers_delight/run.py --table FILE ...   (print saved rows)

For each task, each solver gets `--budget` seconds:
- netsynth: `netsynth.extract(model, spec, timeout=budget, ops=...)` in this process (one
  worker, the default 4 GiB bank cap), verification included; solved when the program agrees
  with the network on the whole domain (checked here again, point by point).
- cvc5 (same grammar): the bv8 operators of `--ops` and the literals netsynth's search starts
  from; cvc5-default: no grammar (cvc5's own). Both get the network's outputs as examples: the
  whole domain for one input (256 points), else the sample netsynth's search starts from (128
  points, boundary values included); an answer wrong somewhere on the domain gets up to 8 of its
  disagreements added and cvc5 runs again on what is left of the budget (CEGIS, as netsynth
  does). Each run is a child process killed at the budget. Seconds are check-synth's own time,
  summed over rounds.

`--ops`: `core` (default) is Hacker's Delight's operators (no division, no rotation), `branchless`
the same without `ite`, `all` the whole bv8 DSL, `tricks` what hd01 ... hd08 use. Sizes count nodes (an operator or a leaf) the
same way for both. Prints a markdown table (netsynth's seconds: the whole call, then the search
in parentheses).

netsynth's seconds: the whole `extract` call (network opened, problem built, searched, verified,
reported), then the same call with `verify=False` (everything but the verification), then the
search's own in parentheses: `yes 2.56 / 0.80 (0.11)`. Unless `--warm ''`, one untimed call
(`--warm hd03`) runs first: a second call in a long-lived process, without the one-time imports
and grammar building, as cvc5's seconds leave out its process start and parsing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]
import sygus  # noqa: E402
from tasks import ALL, BY_NAME, Task  # noqa: E402

#: The operators of `--ops core`: Hacker's Delight's own (no division, no rotation).
CORE = ["add", "sub", "mul", "negate", "bitand", "bitor", "bitxor", "invert", "shl", "lshr",
        "ashr", "eq", "ne", "ult", "ule", "ugt", "uge", "slt", "sle", "sgt", "sge", "and", "or",
        "not", "ite"]
#: `--ops tricks`: what the one-input tricks hd01 ... hd08 use (issue 22's side-by-side run).
TRICKS = ["add", "sub", "negate", "bitand", "bitor", "bitxor", "invert"]
#: `--ops branchless`: the core operators without `ite` (cvc5 answers nothing in 240 s on hd03,
#: `x & -x`, once `ite` is in its grammar, and in 0.9 s without it).
BRANCHLESS = [op for op in CORE if op != "ite"]
COUNTEREXAMPLES = 8


def proposed_pool() -> None:
    """`--pool proposed`: the literal pool this benchmark proposed for synth/problem.py: for a
    fixed-width DSL, the literals that are W-bit values, without 2^W - 1 (which makes `x + 255`
    as small as `x - 1`, and is `~0` at size 2 anyway). synth/problem.py does this since #22,
    so `today` and `proposed` are now the same pool."""
    from synth import problem

    today = problem.literal_pool

    def pool(spec):
        from dsl.language import get_dsl

        width = getattr(get_dsl(spec.dsl), "width", None)
        if width is None:
            return today(spec)
        return tuple(c for c in today(spec) if isinstance(c.value, bool)
                     or 0 <= c.value < (1 << width) - 1)
    problem.literal_pool = pool


def domain(task: Task, spec) -> tuple[dict, np.ndarray]:
    """Every point (columns by input name) and the network's output there."""
    import oracle

    names = [n for n, _ in task.inputs]
    columns = dict(zip(names, task.domain()))
    return columns, np.asarray(oracle.load(spec).query(columns))


def run_netsynth(task: Task, budget: float, ops: list[str] | None, full) -> dict:
    import netsynth

    folder = HERE / task.name
    start = time.perf_counter()
    report = netsynth.extract(folder / "model.onnx", folder / "spec.json", timeout=budget,
                              ops=tuple(ops) if ops else None)
    seconds = time.perf_counter() - start
    program = report.program
    right = False
    if program is not None:
        got = program.evaluate(full[0])
        right = bool(((got.values == full[1]) & ~got.bad).all())
    start = time.perf_counter()        # the same call without verification: the synthesis
    bare = netsynth.extract(folder / "model.onnx", folder / "spec.json", timeout=budget,
                            ops=tuple(ops) if ops else None, verify=False)
    unverified = time.perf_counter() - start
    same = bare.program is not None and program is not None and bare.program.show() == program.show()
    return {"solved": right and str(report.status) == "solved", "seconds": seconds,
            "unverified_seconds": unverified if same else None,
            "search_seconds": report.search.seconds if report.search else None,
            "size": program.size if program is not None else None,
            "program": program.show() if program is not None else None,
            "status": str(report.status), "stop": str(report.stop_reason)}


def run_cvc5(task: Task, budget: float, ops: list[str] | None, full, spec,
             options: dict[str, str]) -> dict:
    from oracle import sampling
    from synth.problem import literal_pool

    columns, outputs = full
    names = [n for n, _ in task.inputs]
    if len(names) == 1:
        picked = np.arange(len(outputs))
    else:       # the points of netsynth's first sample, found in the domain
        sample = sampling.sample(spec, 128, seed=0)
        index = np.zeros(len(sample[names[0]]), np.int64)
        for n, (_, bits) in zip(names, task.inputs):
            index = (index << bits) | np.asarray(sample[n], np.int64)
        picked = np.unique(index)
    literals = sorted({int(c.value) for c in literal_pool(spec)
                       if not isinstance(c.value, bool) and 0 <= c.value <= 255})
    rng = np.random.default_rng(0)
    spent, rounds = 0.0, 0
    while True:
        rounds += 1
        examples = ({n: columns[n][picked] for n in names}, outputs[picked])
        text = sygus.problem(names, examples, output=task.output, ops=ops, literals=literals)
        answer = sygus.solve(text, budget - spent, options=options)
        spent += answer.seconds
        if answer.solution is None:
            return {"solved": False, "seconds": spent, "size": None, "program": None,
                    "note": answer.note, "rounds": rounds, "examples": len(picked)}
        expr = sygus.parse(answer.solution)
        try:
            got = np.broadcast_to(sygus.evaluate(expr, columns), outputs.shape)
        except (ValueError, KeyError, TypeError) as e:     # an operator bv8 has no row for
            return {"solved": False, "seconds": spent, "size": sygus.size(expr),
                    "program": answer.solution, "note": str(e), "rounds": rounds}
        wrong = np.flatnonzero(got != outputs)
        shown = sygus.as_bv8(expr) or answer.solution
        if len(wrong) == 0 or spent >= budget:
            return {"solved": len(wrong) == 0, "seconds": spent, "size": sygus.size(expr),
                    "program": shown, "rounds": rounds, "examples": len(picked),
                    "wrong": int(len(wrong)), "note": "" if len(wrong) == 0 else
                    f"wrong on {len(wrong)} of {len(outputs)} points"}
        more = rng.choice(wrong, size=min(len(wrong), COUNTEREXAMPLES), replace=False)
        picked = np.union1d(picked, more)


def fmt(cell: dict | None) -> str:
    """` solved seconds | size | program |` of one solver (netsynth: search seconds too)."""
    if cell is None:
        return "  |  |  |"
    mark = "yes" if cell["solved"] else ("wrong" if cell.get("program") else "no")
    seconds = f"{cell['seconds']:.2f}"
    if cell.get("unverified_seconds") is not None:
        seconds += f" / {cell['unverified_seconds']:.2f}"
    if cell.get("search_seconds") is not None:
        seconds += f" ({cell['search_seconds']:.2f})"
    size = cell["size"] if cell["size"] is not None else ""
    program = cell.get("program") or ""
    if len(program) > 60:                       # cvc5's lookup tables
        program = program[:45] + " ..."
    program = f"`{program}`" if program else cell.get("note", "")
    if cell.get("note") and cell.get("program"):
        program += f" ({cell['note']})"
    return f" {mark} {seconds} | {size} | {program.replace('|', chr(92) + '|')} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks", nargs="*", help=f"default all: {', '.join(BY_NAME)}")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per task and solver")
    parser.add_argument("--ops", choices=("tricks", "core", "branchless", "all"), default="core",
                        help="operators for netsynth and cvc5's grammar (default core)")
    parser.add_argument("--solvers", default="netsynth,cvc5,cvc5-default")
    parser.add_argument("--cvc5-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--pool", choices=("today", "proposed"), default="today",
                        help="netsynth's literals: synth/problem.py's, or the one proposed here")
    parser.add_argument("--warm", default="hd03", metavar="TASK",
                        help="one untimed netsynth call on TASK first, so that one-time imports "
                             "and set-up (as cvc5's process start) are not counted ('' none)")
    parser.add_argument("--json", type=Path, help="also write the rows here (after each task)")
    parser.add_argument("--table", type=Path, nargs="+", metavar="JSON",
                        help="print the table of rows written by --json (or printed on stderr, "
                             "one JSON object a line) instead of running")
    args = parser.parse_args()
    solvers = args.solvers.split(",")
    if args.table:
        rows = [json.loads(line) for path in args.table for line in
                (path.read_text().splitlines() if not path.read_text().lstrip().startswith("[")
                 else [json.dumps(r) for r in json.loads(path.read_text())])
                if line.startswith("{")]
        merged: dict[str, dict] = {}        # files of different solvers: one row per task
        for row in rows:
            merged.setdefault(row["task"], {}).update(row)
        table(list(merged.values()), solvers)
        return
    from oracle.spec import load_spec

    if args.pool == "proposed":
        proposed_pool()
    ops = {"tricks": TRICKS, "core": CORE, "branchless": BRANCHLESS, "all": None}[args.ops]
    grammar_ops = ops or sorted(sygus.INT_RULES.keys() | sygus.BOOL_RULES.keys())
    options = dict(kv.split("=", 1) for kv in args.cvc5_option)
    rows = []
    load = os.getloadavg()[0]
    if args.warm and "netsynth" in solvers:
        import netsynth

        netsynth.extract(HERE / args.warm / "model.onnx", HERE / args.warm / "spec.json",
                         timeout=args.budget, ops=tuple(ops) if ops else None)
    for task in [BY_NAME[t] for t in args.tasks] or ALL:
        spec = load_spec(HERE / task.name / "spec.json")
        full = domain(task, spec)
        row = {"task": task.name, "points": len(full[1])}
        if "netsynth" in solvers:
            row["netsynth"] = run_netsynth(task, args.budget, ops, full)
        if "cvc5" in solvers:
            row["cvc5"] = run_cvc5(task, args.budget, grammar_ops, full, spec, options)
        if "cvc5-default" in solvers:
            row["cvc5-default"] = run_cvc5(task, args.budget, None, full, spec, options)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"\nbudget {args.budget:g} s, ops {args.ops}, literal pool {args.pool}, "
          f"cvc5 options {options or 'default'}; "
          f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
          f"{os.cpu_count()} CPUs\n")
    table(rows, solvers)


def table(rows: list[dict], solvers: list[str]) -> None:
    """The markdown table of the rows, and each solver's count and geometric mean time."""
    head = "| task |" + "".join(f" {s} solved, s | size | program |" for s in solvers)
    print(head + "\n|---|" + "---|---|---|" * len(solvers))
    for row in rows:
        print(f"| {row['task']} |" + "".join(fmt(row.get(s)) for s in solvers))
    for s in solvers:
        done = [r[s] for r in rows if r.get(s, {}).get("solved")]
        print(f"\n{s}: {len(done)} of {sum(s in r for r in rows)} solved", end="")
        if done:
            print(f", geometric mean {math.exp(np.mean([math.log(max(c['seconds'], 1e-3)) for c in done])):.2f} s",
                  end="")
    print()


if __name__ == "__main__":
    main()
