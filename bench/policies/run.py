"""The decision-rule benchmark: netsynth's rule family against VIPER-style scikit-learn trees.

Run from the repository root: `nice -n 10 .venv/bin/python bench/policies/run.py [name ...]`
(the three examples/policy_* networks by default). For each network:

- netsynth: `synth.rules.run` with min_agreement 0.999 (one process, in-process search); the rule,
  its size (DSL nodes) and leaves, the seconds and the network points the search asked for;
- its fidelity on 10^5 fresh uniform points (`verifier.rules.check`, seed 7, none of them seen by
  the search), how far each boundary is from the known rule's (`verifier.boundaries`, % of the
  input range) and whether Z3 proves it equal to the known rule;
- scikit-learn's DecisionTreeClassifier (VIPER: fit to network-labelled states) on as many
  uniform network-labelled points as netsynth asked for: grown fully, and the smallest tree
  (fewest leaves, by max_leaf_nodes) whose fidelity on the same fresh points is at least
  netsynth's, if one up to 256 leaves exists. Sizes of sklearn trees are counted as the same
  `real` DSL program (each split `x > t` with its ite, each leaf a literal).

Prints a Markdown table and writes bench/policies/results.json (`--table` prints the saved rows).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

NAMES = ("policy_pole", "policy_congestion", "policy_oblique")
FRESH = 100_000


def sklearn_tree(tree, offset: int, boolean: bool):
    """A fitted DecisionTreeClassifier as a synth.rules tree (`x_k > t` sends to the right child)."""
    from synth.rules.tree import Branch, Leaf, Split

    t = tree.tree_
    classes = tree.classes_

    def build(i: int):
        if t.children_left[i] == -1:
            return Leaf(int(classes[int(np.argmax(t.value[i][0]))]))
        split = Split(((int(t.feature[i]), 1.0),), float(t.threshold[i]))
        return Branch(split, build(t.children_right[i]), build(t.children_left[i]))

    return build(0)


def bench(name: str) -> dict:
    import oracle
    from sklearn.tree import DecisionTreeClassifier

    from synth import rules
    from synth.options import SearchOptions
    from synth.rules.program import to_expression
    from synth.rules.tree import evaluate, leaves
    from verifier import rules as verify_rules
    from verifier.boundaries import displacements

    spec = oracle.load_spec(ROOT / "examples" / name / "spec.json")
    net = oracle.load(spec)
    start = time.perf_counter()
    result = rules.run(spec, net, options=SearchOptions(min_agreement=0.999, timeout=300, seed=0))
    seconds = time.perf_counter() - start
    program = result.program
    check = verify_rules.check(program, oracle.load(spec), spec, min_agreement=0.999, seed=7)
    node = verify_rules.as_rule(program, spec)
    moved = displacements(node, verify_rules.as_rule(spec.reference, spec), spec)
    row = {"name": name, "rule": program.show(), "size": program.size,
           "leaves": result.figures["leaves"], "seconds": round(seconds, 2),
           "queries": result.queries, "fidelity": check.fidelity.agreement,
           "reference": check.equivalence.verdict.value,
           "max_threshold_error_percent": max(float("inf") if m["percent_of_range"] is None
                                              else m["percent_of_range"] for m in moved),
           "displacements": moved,
           "network_follows_rule_beyond_range": check.follows.agreement}

    # VIPER: a tree fit to as many network-labelled points as netsynth asked for
    space = spec.domain()
    fresh = space.sample(FRESH, seed=7, method="uniform")
    truth = net.query(fresh).astype(np.int64)
    train = space.sample(result.queries, seed=11, method="uniform")
    labels = net.query(train).astype(np.int64)
    offset = 0
    boolean = spec.output.type.name == "bool"

    def fit(max_leaves=None):
        begin = time.perf_counter()
        model = DecisionTreeClassifier(random_state=0, max_leaf_nodes=max_leaves).fit(train, labels)
        tree = sklearn_tree(model, offset, boolean)
        took = time.perf_counter() - begin
        return tree, float((evaluate(tree, fresh) == truth).mean()), took

    full, full_fid, full_s = fit()
    row["sklearn_full"] = {"leaves": leaves(full), "size": to_expression(full, spec).size,
                           "fidelity": full_fid, "seconds": round(full_s, 2)}
    row["sklearn_match"] = None
    for k in range(2, 257):
        tree, fid, took = fit(k)
        if fid >= row["fidelity"]:
            row["sklearn_match"] = {"leaves": leaves(tree), "size": to_expression(tree, spec).size,
                                    "fidelity": fid, "seconds": round(took, 2)}
            break
        if leaves(tree) < k:          # the tree stopped growing: no larger one exists
            break
    return row


def table(rows: list[dict]) -> str:
    out = ["| network | netsynth rule | size (leaves) | fidelity | threshold error | Z3 vs known rule | seconds | queries | sklearn full tree: size (leaves), fidelity | smallest sklearn tree at >= netsynth's fidelity |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f, m = r["sklearn_full"], r["sklearn_match"]
        if m:
            match = f"{m['size']} ({m['leaves']}), {100 * m['fidelity']:.3f}%"
        elif f["leaves"] <= 256:
            match = f"none: the full tree ({f['leaves']} leaves) is the largest it grows"
        else:
            match = "none up to 256 leaves"
        out.append(f"| {r['name']} | `{r['rule']}` | {r['size']} ({r['leaves']}) | "
                   f"{100 * r['fidelity']:.3f}% | {r['max_threshold_error_percent']:.3f}% of range | "
                   f"{r['reference']} | {r['seconds']:.1f} | {r['queries']} | "
                   f"{f['size']} ({f['leaves']}), {100 * f['fidelity']:.3f}% | {match} |")
    return "\n".join(out)


def main(argv: list[str]) -> None:
    import os

    path = ROOT / "bench" / "policies" / "results.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    table_only = "--table" in argv
    names = [a for a in argv if a != "--table"] or ([] if table_only else list(NAMES))
    for name in names:
        row = bench(name)
        saved[name] = row
        path.write_text(json.dumps(saved, indent=1) + "\n")
        print(json.dumps({k: v for k, v in row.items() if k != "displacements"}), flush=True)
    print(f"\n{os.cpu_count()} CPUs visible\n")
    print(table([saved[n] for n in NAMES if n in saved]))


if __name__ == "__main__":
    main(sys.argv[1:])
