"""Tomita 1-7: the minimal DFA of each trained network, against the grammar's own minimal DFA.

    nice -n 10 .venv/bin/python bench/tomita/run.py [NAME ...]    # every network in models/
    .venv/bin/python bench/tomita/run.py --table                  # print the saved rows

For each network (bench/tomita/models/<name>.json, the automaton family): `synth.automata.run`
with a 60 s timeout, then the product comparison of the automaton found with the grammar's
minimal DFA written out in grammars.py (`exact`: same answer on every non-empty word), and the
network against the automaton beyond the training lengths (`verifier.automaton.departures`: 200
random words per length, max_len + 1 .. 2 max_len, 3, 4 and 5 max_len). Rows are saved to
bench/tomita/results.json after each network; the table is written into docs/automata.md
between its markers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

import oracle  # noqa: E402
import synth.automata  # noqa: E402
from dsl.automaton import Automaton  # noqa: E402
from grammars import DFAS, GRAMMARS  # noqa: E402
from synth.options import SearchOptions  # noqa: E402
from train import spec_of  # noqa: E402
from verifier.automaton import departures  # noqa: E402
from verifier.languages import difference  # noqa: E402

RESULTS = HERE / "results.json"
DOC = ROOT / "docs" / "automata.md"
BEGIN, END = "<!-- tomita table begin -->", "<!-- tomita table end -->"
KIND_NAMES = {"gru": "GRU", "lstm": "LSTM", "tf": "transformer"}


def grammar_dfa(number: int, letters: tuple) -> Automaton:
    transitions, accepting = DFAS[number]
    return Automaton(("x",), letters, transitions, tuple(q in accepting for q in range(len(transitions))))


def measure(name: str) -> dict:
    grammar, kind, max_len = spec_of(name)
    o = oracle.load(HERE / "models" / f"{name}.json")
    start = time.perf_counter()
    result = synth.automata.run(o.spec, o, options=SearchOptions(timeout=60))
    seconds = time.perf_counter() - start
    found = result.program
    truth = grammar_dfa(grammar, found.letters) if found else None
    exact = found is not None and difference(found, truth, 1) is None
    beyond = departures(found, o, max_len) if found else None
    return {"name": name, "grammar": grammar, "kind": kind, "max_len": max_len,
            "states": found.size if found else None, "minimal": GRAMMARS[grammar].states, "exact": exact,
            "stop": result.stop_reason.value, "agreement": result.agreement, "seconds": round(seconds, 2),
            **result.figures, "network_points": result.queries,
            "departs_at": beyond.lengths if beyond else None}


def untrained(saved: dict) -> list[dict]:
    """Rows for the networks train.py tried but did not keep (wrong within their training lengths)."""
    record = HERE / "models" / "train.json"
    tried = json.loads(record.read_text()) if record.exists() else {}
    rows = []
    for name, figures in tried.items():
        if not figures.get("kept", True) and name not in saved:
            grammar, kind, max_len = spec_of(name)
            rows.append({"name": name, "grammar": grammar, "kind": kind, "max_len": max_len,
                         "not_learned": figures["errors_inside"], "steps": figures.get("steps")})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| grammar | network | trained on | states found | minimal | exact | membership queries | "
             "words asked | equivalence queries | seconds | network departs from its DFA at |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    order = {"gru": 0, "lstm": 1, "tf": 2}
    for r in sorted(rows, key=lambda r: (r["name"] == "departure", r["grammar"], order[r["kind"]])):
        label = "departure (planted)" if r["name"] == "departure" else f"Tomita {r['grammar']}"
        if "not_learned" in r:
            lines.append(f"| {label} | {KIND_NAMES[r['kind']]} | 1..{r['max_len']} | not learned: "
                         f"{r['not_learned']} errors within its training lengths (3 seeds"
                         f"{', then 3 of ' + str(r['steps']) + ' steps' if r.get('steps') else ''}) | | | | | | | |")
            continue
        dep = r["departs_at"]
        dep = "never (checked to 5x)" if not dep else ", ".join(map(str, dep[:6])) + (" ..." if len(dep) > 6 else "")
        lines.append(f"| {label} | {KIND_NAMES[r['kind']]} | 1..{r['max_len']} | {r['states']} | {r['minimal']} | "
                     f"{'yes' if r['exact'] else 'no'} | {r['membership_queries']} | {r['words_asked']} | "
                     f"{r['equivalence_queries']} | {r['seconds']:.1f} | {dep} |")
    return "\n".join(lines)


def write_doc(text: str) -> None:
    if not DOC.exists():
        return
    doc = DOC.read_text()
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        DOC.write_text(head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--table", action="store_true", help="print the saved rows and stop")
    args = parser.parse_args()
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.table:
        names = args.names or sorted(p.stem for p in (HERE / "models").glob("*.json")
                                     if p.stem.startswith("tomita") or p.stem == "departure")
        for name in names:
            row = measure(name)
            print(json.dumps(row), flush=True)
            saved[name] = row
            RESULTS.write_text(json.dumps(saved, indent=1, sort_keys=True) + "\n")
    text = table(list(saved.values()) + untrained(saved))
    print(text)
    write_doc(text)


if __name__ == "__main__":
    main()
