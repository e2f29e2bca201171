"""The bundled integer examples give the same programs, fidelity and verdicts as before the layout
change (issue 14): tests/data/example_pins.json was written by the code before the move, and this
test reads today's report through one projection. Only the projection may follow the report's
shape; the pinned values never change without a reason in the commit that changes them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import netsynth

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
PINS = json.loads((ROOT / "tests" / "data" / "example_pins.json").read_text())
OPTIONS = {"noisy_add": {"min_agreement": 0.97}}


def project(report: Any) -> dict[str, Any]:
    r = report.to_dict()
    v, f = r["verification"], r["fidelity"]
    g = v["generalisation"]
    beyond = g["network_agreement_beyond_range"]
    return {"status": r["status"], "stop_reason": r["stop_reason"], "program": r["program"],
            "python": r["python"],
            "fidelity": {"agree": f["agree"], "total": f["total"], "exhaustive": f["exhaustive"],
                         "disagreements": [[d["inputs"], d["network"], d["program"]]
                                           for d in f["disagreements"]]},
            "pareto": [[p["program"], p["size"], round(p["agreement"], 9)] for p in r["pareto"]],
            "verification": {"holds": v["holds"], "reference": v["reference"],
                             "counterexample": v["counterexample"], "beyond_checked": g["checked"],
                             "beyond_holds": g["holds"],
                             "network_beyond": None if beyond is None else round(beyond, 9),
                             "program_nodes": v["size"]["program_nodes"]}}


@pytest.mark.parametrize("name", sorted(PINS))
def test_example_report_is_pinned(name: str) -> None:
    report = netsynth.extract(ROOT / "examples" / name / "model.onnx",
                              ROOT / "examples" / name / "spec.json",
                              workers=1, timeout=120, **OPTIONS.get(name, {}))
    assert project(report) == PINS[name]
