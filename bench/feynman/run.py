"""netsynth against pyoperon and gplearn on the trained Feynman networks; one row per equation.

    nice -n 10 .venv/bin/python bench/feynman/run.py [--ids ...] [--budget 180] [--peers] [--streams 2]
    .venv/bin/python bench/feynman/run.py --table        # print the saved rows as markdown

For each equation with a trained network (bench/feynman/models/<id>/), netsynth's real family runs
on the network with a `--budget`-second time limit (workers 1: the bench runs beside other work).
With --peers, pyoperon and gplearn get 2,000 points queried from the same network and the same
time limit (pyoperon's max_time; gplearn is stopped by generations, checked against the clock).
A result counts as recovered exactly when sympy proves it equal to the true law, or when its
printed formula is within 1e-4 relative error of the truth at 2,000 points of a box twice as wide
as the training box (points where both are undefined agree). Rows are saved to results.json after
each equation, so the run resumes; each row names the commit it was measured at. `--streams N`
runs N processes side by side, one core each, merging their rows as they end.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from equations import Equation, load  # noqa: E402

MODELS = HERE / "models"
RESULTS = HERE / "results.json"


def wide_points(eq: Equation, n: int = 2000, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cols = [rng.uniform((lo + hi) / 2 - (hi - lo), (lo + hi) / 2 + (hi - lo), n) for lo, hi in eq.ranges]
    return np.stack(cols, axis=1)


def exact(eq: Equation, predict, text: str | None = None) -> bool:
    """Symbolically equal (when `text` is a formula of the real DSL), or within 1e-4 relative
    error of the truth on the doubled box."""
    if text is not None:
        try:
            import sympy

            from dsl.program import Expression
            from dsl.types import REAL

            got = Expression.parse(text, {n: REAL for n in eq.names}, dsl="real").to_sympy()
            got = got.xreplace({s: sympy.Symbol(s.name, positive=True) for s in got.free_symbols})
            difference = got - eq.sympy()
            # cosh, sinh and tanh are sums of exponentials: simplify does not always see it
            if sympy.simplify(difference) == 0 or sympy.simplify(difference.rewrite(sympy.exp)) == 0:
                return True
        except Exception:  # noqa: BLE001 - a failed proof falls back to the numeric test
            pass
    X = wide_points(eq)
    with np.errstate(all="ignore"):
        truth = np.asarray(eq.function()(*X.T), np.float64) * np.ones(len(X))
        got = np.asarray(predict(X), np.float64)
    both_bad = ~np.isfinite(truth) & ~np.isfinite(got)
    ok = np.isfinite(truth) & np.isfinite(got)
    if (ok | both_bad).sum() < len(X) or not ok.any():
        return False
    rel = np.abs(got[ok] - truth[ok]) / np.maximum(np.abs(truth[ok]), 1e-300)
    return bool(rel.max() <= 1e-4)


def run_netsynth(eq: Equation, budget: float, units: bool = False) -> dict:
    import oracle
    from oracle.spec import load_spec
    from synth.options import SearchOptions
    import synth.real as family

    spec = load_spec(with_units(eq) if units else MODELS / eq.slug / "spec.json",
                     base_dir=MODELS / eq.slug)
    net = oracle.load(spec)
    start = time.monotonic()
    result = family.run(spec, net, options=SearchOptions(timeout=budget))
    seconds = time.monotonic() - start
    if result.program is None:
        return {"formula": None, "exact": False, "seconds": seconds}
    program = result.program

    def predict(X):
        r = program.evaluate({n: X[:, i] for i, n in enumerate(eq.names)})
        return np.where(r.bad, np.nan, r.values)
    return {"formula": program.show(), "exact": exact(eq, predict, program.show()),
            "seconds": seconds, "agreement": result.agreement,
            "relative_rmse": result.figures.get("relative_rmse")}


def with_units(eq: Equation) -> dict:
    """The equation's spec with the SI units of units.json on its inputs and output."""
    from units import spec_units

    raw = json.loads((MODELS / eq.slug / "spec.json").read_text())
    inputs, output = spec_units(eq)
    for item, u in zip(raw["inputs"], inputs):
        item["units"] = u
    raw["output"]["units"] = output
    return raw


def network_sample(eq: Equation, n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    import oracle
    from oracle.spec import load_spec

    spec = load_spec(MODELS / eq.slug / "spec.json")
    rng = np.random.default_rng(seed)
    X = np.stack([rng.uniform(lo, hi, n) for lo, hi in eq.ranges], axis=1)
    return X, oracle.load(spec).query(X)


def run_operon(eq: Equation, budget: float) -> dict:
    from pyoperon.sklearn import SymbolicRegressor

    X, y = network_sample(eq)
    start = time.monotonic()
    model = SymbolicRegressor(max_time=int(budget), n_threads=1, random_state=0, generations=10_000,
                              max_evaluations=10**9, allowed_symbols="add,sub,mul,div,constant,variable,sin,cos,exp,log,sqrt,square")
    model.fit(X, y)
    seconds = time.monotonic() - start
    text = model.get_model_string(model.model_, 6, names=list(eq.names)) if hasattr(model, "model_") else None
    return {"formula": text, "exact": exact(eq, model.predict), "seconds": seconds}


def run_gplearn(eq: Equation, budget: float) -> dict:
    from gplearn.genetic import SymbolicRegressor

    X, y = network_sample(eq)
    start = time.monotonic()
    model = SymbolicRegressor(population_size=1000, generations=1, warm_start=True, random_state=0,
                              function_set=("add", "sub", "mul", "div", "sqrt", "log", "sin", "cos"),
                              parsimony_coefficient=1e-4, n_jobs=1)
    generations = 0
    while time.monotonic() - start < budget and generations < 200:
        generations += 1
        model.set_params(generations=generations)
        model.fit(X, y)
    return {"formula": str(model._program), "exact": exact(eq, model.predict),
            "seconds": time.monotonic() - start, "generations": generations}


def table(rows: dict) -> str:
    order = {e.id: k for k, e in enumerate(load())}
    lines = ["| equation | law | netsynth | s | formula | pyoperon | s | gplearn | s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for eq_id in sorted(rows, key=lambda i: order.get(i, 0)):
        r = rows[eq_id]
        n, o, g = r.get("netsynth", {}), r.get("pyoperon", {}), r.get("gplearn", {})
        mark = lambda d: "-" if not d else ("yes" if d.get("exact") else "no")  # noqa: E731
        secs = lambda d: f"{d['seconds']:.0f}" if d else "-"  # noqa: E731
        formula = (n.get("formula") or "")[:60].replace("|", "\\|")
        lines.append(f"| {eq_id} | `{r['law']}` | {mark(n)} | {secs(n)} | `{formula}` | {mark(o)} | "
                     f"{secs(o)} | {mark(g)} | {secs(g)} |")
    done = [r for r in rows.values() if r.get("netsynth")]
    peers = [r for r in done if "pyoperon" in r]
    lines.append("")
    lines.append(f"netsynth recovered {sum(r['netsynth']['exact'] for r in done)} of the {len(done)} "
                 f"equations run (of 120). On the {len(peers)} where the peers ran: netsynth "
                 f"{sum(r['netsynth']['exact'] for r in peers)}, pyoperon "
                 f"{sum(r['pyoperon'].get('exact', False) for r in peers)}, gplearn "
                 f"{sum(r.get('gplearn', {}).get('exact', False) for r in peers)}.")
    ran = {i: r for i, r in rows.items() if r.get("netsynth") and "pyoperon" in r}
    by_peer = {i: [p for p in ("pyoperon", "gplearn") if (r.get(p) or {}).get("exact")]
               for i, r in ran.items()}
    ours = [i for i, r in ran.items() if r["netsynth"]["exact"] and not by_peer[i]]
    theirs = [f"{i} ({', '.join(by_peer[i])})" for i, r in ran.items()
              if by_peer[i] and not r["netsynth"]["exact"]]
    both = [i for i, r in ran.items() if by_peer[i] and r["netsynth"]["exact"]]
    lines.append(f"Recovered by netsynth and by neither peer: {len(ours)}. By both: {len(both)} "
                 f"({', '.join(both) or 'none'}). By a peer and not by netsynth: {len(theirs)} "
                 f"({', '.join(theirs) or 'none'}).")
    return "\n".join(lines)


def _commit() -> str | None:
    """The checkout the rows come from (its short hash, "-dirty" when code differs from it), or
    None outside git."""
    import subprocess

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=HERE, text=True, capture_output=True,
                              timeout=10)

    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return None
        # the rows files themselves change as a run goes: they do not make the code dirty
        changed = git("status", "--porcelain", "--", ":(top)", ":(top,exclude)bench/feynman/*.json",
                      ":(top,exclude)bench/feynman/history").stdout.strip()
        return head.stdout.strip() + ("-dirty" if changed else "")
    except (OSError, subprocess.SubprocessError):
        return None


COMMIT = _commit()


def streams(args: argparse.Namespace, rows: dict) -> None:
    """Split the equations still to run over `args.streams` child processes, each with its own
    rows file next to --results; merge each file into --results when its process ends (and any
    left by an interrupted run, first), so the run resumes like a single one."""
    import subprocess

    def merge(part: Path) -> None:
        for eq_id, row in json.loads(part.read_text()).items():
            rows.setdefault(eq_id, {}).update(row)
        args.results.write_text(json.dumps(rows, indent=1) + "\n")
        part.unlink()

    parts = [args.results.with_suffix(f".stream{k}.json") for k in range(args.streams)]
    for part in parts:
        if part.exists():
            merge(part)
    tools = ([] if args.no_netsynth else ["netsynth"]) + (["pyoperon", "gplearn"] if args.peers else [])
    todo = [eq.id for eq in load() if (not args.ids or eq.id in args.ids)
            and (MODELS / eq.slug / "train.json").exists()
            and (args.rerun or any(t not in rows.get(eq.id, {}) for t in tools))]
    flags = ["--budget", str(args.budget)] + ["--peers"] * args.peers + ["--rerun"] * args.rerun \
        + ["--no-netsynth"] * args.no_netsynth + ([] if args.units else ["--no-units"])
    children = []
    for k, part in enumerate(parts):
        ids = todo[k::args.streams]
        if not ids:
            continue
        # each process starts from the rows it has: what is there already is not run again
        part.write_text(json.dumps({i: rows[i] for i in ids if i in rows}, indent=1) + "\n")
        children.append(subprocess.Popen([sys.executable, __file__, *flags, "--results",
                                          str(part), "--ids", *ids]))
    for child in children:
        child.wait()
    for part in parts:
        if part.exists():
            merge(part)
    print(f"{len(todo)} equations run in {len(children)} streams; rows in {args.results}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", nargs="*")
    parser.add_argument("--budget", type=float, default=180.0)
    parser.add_argument("--peers", action="store_true")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--rerun", action="store_true")
    parser.add_argument("--units", action=argparse.BooleanOptionalAction, default=True,
                        help="give netsynth the SI units of units.json (dimensional analysis)")
    parser.add_argument("--no-netsynth", action="store_true", help="run only the peers")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="rows file (a second process needs its own; --table merges "
                             "results.json and results_peers.json)")
    parser.add_argument("--streams", type=int, default=1,
                        help="run the equations in this many processes side by side (one core "
                             "each), merged into --results as each process ends")
    args = parser.parse_args()
    results = args.results
    rows = json.loads(results.read_text()) if results.exists() else {}
    if args.streams > 1 and not args.table:
        return streams(args, rows)
    if args.table:
        # results.json (netsynth's rows, all from one commit of the search) and the peers' rows
        # (results_peers.json); earlier passes are kept in history/, not merged
        files = [f for f in (RESULTS, HERE / "results_peers.json") if f.exists()]
        rows = {}
        for other in files:
            for eq_id, row in json.loads(other.read_text()).items():
                rows.setdefault(eq_id, {}).update(row)
    if args.table:
        print(table(rows))
        return
    warnings.simplefilter("ignore")
    for eq in load():
        if args.ids and eq.id not in args.ids:
            continue
        if not (MODELS / eq.slug / "train.json").exists():
            continue
        row = rows.setdefault(eq.id, {"law": eq.text})
        if not args.no_netsynth and ("netsynth" not in row or args.rerun):
            row["netsynth"] = {**run_netsynth(eq, args.budget, args.units), "commit": COMMIT}
        if args.peers:
            for name, fn in (("pyoperon", run_operon), ("gplearn", run_gplearn)):
                if name not in row or args.rerun:
                    try:
                        row[name] = {**fn(eq, args.budget), "commit": COMMIT}
                    except Exception as e:  # noqa: BLE001 - a peer's failure is a row, not a crash
                        row[name] = {"formula": None, "exact": False, "seconds": 0.0, "error": repr(e)}
        results.write_text(json.dumps(rows, indent=1) + "\n")
        n = row.get("netsynth")
        ours = (f"netsynth {'EXACT' if n['exact'] else 'no   '} {n['seconds']:6.1f}s  {n['formula']}"
                if n else "netsynth not run")
        print(f"{eq.id:10s} {ours}" + "".join(f"  | {p}: {row[p]['exact']}"
                                              for p in ("pyoperon", "gplearn") if p in row), flush=True)


if __name__ == "__main__":
    main()
