"""Where the time of one whole `netsynth.extract` call goes, on the Hacker's Delight networks.

    .venv/bin/python bench/hackers_delight/phases.py [task ...] [--ops tricks|core|branchless|all]
        [--repeat 3] [--warm hd03]

Runs, in this one process, the steps `netsynth.api.synthesize` runs for an int network and times
each: the spec, opening the network (ONNX Runtime and its sandboxed probe run), the problem (the
DSL's grammar, the literal pool, the literals read from the network), the search (probes,
decomposition, enumeration), each part of the verification (fidelity, the Z3 proof, the
Hypothesis search beyond the range, the network beyond the range, the speed measurement) and the
report. Then the whole `netsynth.extract` call as the benchmark times it. `--warm` runs one
untimed extract first, so that imports and one-time set-up (lark grammars, Hypothesis, ONNX
Runtime, Z3) are not counted: what a second call in a long-lived process pays. Prints a table of
medians over `--repeat` runs, with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]
from run import BRANCHLESS, CORE, TRICKS  # noqa: E402

PHASES = ("spec", "open network", "problem", "search", "fidelity", "proof (Z3)",
          "beyond range (Hypothesis)", "network beyond range", "speed", "report", "sum",
          "extract (whole call)")


def phases(task: str, ops) -> dict[str, float]:
    """Seconds of each step of one synthesize call on `task`, then of one whole extract."""
    import netsynth
    import oracle
    from dsl.program import Expression
    from netsynth.report import build
    from oracle.spec import load_spec
    from synth import search
    from synth.options import SearchOptions
    from synth.problem import Problem
    from verifier import equivalence, fidelity, generalisation, speed
    from verifier.verify import Verification
    from oracle.metric import metric_for

    folder = HERE / task
    out: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        out[name] = now - clock
        clock = now

    spec = load_spec(folder / "spec.json")
    lap("spec")
    net = oracle.load(spec, folder / "model.onnx")
    lap("open network")
    problem = Problem.from_spec(spec, net)
    lap("problem")
    options = SearchOptions(timeout=60, ops=tuple(ops) if ops else None)
    result = search.run(problem, options=options)
    lap("search")
    program = Expression(result.program, problem.dsl, spec.input_names,
                         tuple(spec.variables().values()))
    dsl, node, variables = problem.dsl, result.program, spec.variables()
    reference = dsl.parse(spec.reference, variables)
    fid = fidelity.measure(program, net, max_disagreements=20, sample_size=200_000, seed=0,
                           dsl=dsl, metric=metric_for(spec))
    lap("fidelity")
    eq = equivalence.prove(node, reference, variables=variables, ranges=spec.ranges(),
                           timeout_ms=10_000, dsl=dsl)
    lap("proof (Z3)")
    gen = generalisation.search(node, reference, variables=variables, ranges=spec.ranges(),
                                examples=500, dsl=dsl, seed=0)
    lap("beyond range (Hypothesis)")
    beyond = generalisation.network_beyond(net, reference, seed=0, dsl=dsl)
    follows = generalisation.network_beyond(net, node, seed=0, dsl=dsl)
    lap("network beyond range")
    sp = speed.measure(node, net, max_points=65_536, seed=0, dsl=dsl)
    sizes = speed.sizes(node, net, dsl=dsl)
    lap("speed")
    verification = Verification(fidelity=fid, equivalence=eq, generalisation=gen,
                                network_beyond=beyond, follows=follows, speed=sp, size=sizes,
                                min_agreement=1.0)
    build(problem, result, workers=1, min_agreement=1.0, verification=verification)
    lap("report")
    out["sum"] = sum(out.values())
    began = time.perf_counter()
    netsynth.extract(folder / "model.onnx", folder / "spec.json", timeout=60,
                     ops=tuple(ops) if ops else None)
    out["extract (whole call)"] = time.perf_counter() - began
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks", nargs="*", default=["hd01", "hd04", "hd07"])
    parser.add_argument("--ops", choices=("tricks", "core", "branchless", "all"), default="tricks")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warm", default="hd03", help="task of the untimed first call ('' none)")
    args = parser.parse_args()
    ops = {"tricks": TRICKS, "core": CORE, "branchless": BRANCHLESS, "all": None}[args.ops]
    load = os.getloadavg()[0]
    if args.warm:
        import netsynth

        netsynth.extract(HERE / args.warm / "model.onnx", HERE / args.warm / "spec.json",
                         timeout=60, ops=tuple(ops) if ops else None)
    runs = {t: [phases(t, ops) for _ in range(args.repeat)] for t in args.tasks}
    print(f"\nops {args.ops}, median of {args.repeat}, warm-up {args.warm or 'none'}; load "
          f"average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
          f"{os.cpu_count()} CPUs\n")
    print("| phase, s |" + "".join(f" {t} |" for t in args.tasks))
    print("|---|" + "---|" * len(args.tasks))
    for name in PHASES:
        print(f"| {name} |" + "".join(
            f" {statistics.median(r[name] for r in runs[t]):.3f} |" for t in args.tasks))


if __name__ == "__main__":
    main()
