"""A real-valued network through the job API: a real uvicorn server in a subprocess (the
service's own `python -m netsynth.service`), the pendulum MLP (examples/real_pendulum) and its
spec uploaded, the job followed through its server-sent events until it ends (a bounded stream,
no sleep), and the exported program (GET /jobs/{id}/program.py) run as plain Python against the
true law 2 pi sqrt(L / g), written here in numpy, on points up to four times beyond the training
box (where the network itself no longer follows the law). A spec with a zero scale is refused
over HTTP with the field and the value named.
"""

from __future__ import annotations

import json
import httpx
import numpy as np
import pytest
import sympy

from test_service_kit import EXAMPLES, Server, follow, job, refusal, submit

pytestmark = pytest.mark.integration

PENDULUM = EXAMPLES / "real_pendulum"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    running = Server(tmp_path_factory.mktemp("real_service"), "--max-jobs", "1").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def pendulum_job(server: Server) -> dict:
    r = submit(server.url, PENDULUM, {"timeout": "120"})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    events = follow(server.url, job_id, timeout=240)
    status = job(server.url, job_id)
    report = httpx.get(f"{server.url}/jobs/{job_id}/result", timeout=30).json()
    program = httpx.get(f"{server.url}/jobs/{job_id}/program.py", timeout=30)
    return {"events": events, "status": status, "report": report, "program": program}


def law(L: np.ndarray, g: np.ndarray) -> np.ndarray:
    return 2 * np.pi * np.sqrt(L / g)


def test_the_job_ends_solved_with_progress_on_the_way(pendulum_job: dict) -> None:
    events, status = pendulum_job["events"], pendulum_job["status"]
    assert events and events[-1][0] == "end" and events[-1][1]["status"] == "succeeded", events[-1:]
    assert all(name == "progress" for name, _ in events[:-1])
    assert status["result_status"] == "solved", status
    report = pendulum_job["report"]
    assert report["status"] == "solved", report.get("notes")
    assert report["fidelity"]["agree"] == report["fidelity"]["total"]      # calibrated tolerance


def test_the_exported_formula_is_the_law_beyond_the_training_range(pendulum_job: dict) -> None:
    r = pendulum_job["program"]
    assert r.status_code == 200, r.text
    namespace: dict = {}
    exec(compile(r.text, "program.py", "exec"), namespace)      # our own server's export
    f = namespace["f"]
    rng = np.random.default_rng(11)
    # training box L in [0.5, 2], g in [5, 15]; here up to four widths beyond it, L and g > 0
    L = rng.uniform(0.01, 8.0, 2000)
    g = rng.uniform(0.1, 55.0, 2000)
    got = np.asarray(f(L, g), np.float64)
    want = law(L, g)
    assert np.max(np.abs(got - want) / want) < 1e-9, r.text
    outside = (L > 2) | (g > 15) | (L < 0.5) | (g < 5)
    assert outside.mean() > 0.8


def test_a_real_spec_with_a_zero_scale_is_refused(server: Server) -> None:
    spec = json.loads((PENDULUM / "spec.json").read_text())
    spec["inputs"][1]["scale"] = 0
    r = submit(server.url, PENDULUM, {"timeout": "30"}, spec=json.dumps(spec).encode())
    message = refusal(server.url, r)
    assert "inputs[1].scale" in message and "got 0" in message, message


#: I.13.12, U = G m1 m2 (1/r2 - 1/r1), trained in bench/feynman; the SI units of its inputs and
#: its output (joules), given to the job in the uploaded spec.
I_13_12 = EXAMPLES.parent / "bench" / "feynman" / "models" / "I_13_12"
KG, METRE = {"kg": 1}, {"m": 1}
I_13_12_UNITS = {"m1": KG, "m2": KG, "r1": METRE, "r2": METRE, "G": {"m": 3, "kg": -1, "s": -2}}


def i_13_12_spec(**change) -> bytes:
    spec = json.loads((I_13_12 / "spec.json").read_text())
    for item in spec["inputs"]:
        item["units"] = I_13_12_UNITS[item["name"]]
    spec["output"]["units"] = {"kg": 1, "m": 2, "s": -2}
    for where, units in change.items():
        spec["inputs"][int(where[1:])]["units"] = units
    return json.dumps(spec).encode()


def test_a_job_with_units_reduces_the_problem_and_recovers_the_law(server: Server) -> None:
    """The spec's units reach the search through the job API: the report says the problem was
    reduced to dimensionless groups, and the formula is the law (sympy, positive symbols)."""
    r = submit(server.url, I_13_12, {"timeout": "60"}, spec=i_13_12_spec())
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    events = follow(server.url, job_id, timeout=240)
    assert events[-1][0] == "end" and events[-1][1]["status"] == "succeeded", events[-1:]
    assert any((data.get("progress") or {}).get("phase") for name, data in events if name == "progress"), events
    report = httpx.get(f"{server.url}/jobs/{job_id}/result", timeout=30).json()
    assert report["status"] == "solved", report.get("notes")
    assert any(n.startswith("dimensional analysis: y / (") for n in report["notes"]), report["notes"]
    symbols = {n: sympy.Symbol(n, positive=True) for n in I_13_12_UNITS}
    got = sympy.sympify(report["program"], locals=symbols)      # the real DSL's text is sympy's
    m1, m2, r1, r2, G = (symbols[n] for n in ("m1", "m2", "r1", "r2", "G"))
    assert sympy.simplify(got - G * m1 * m2 * (1 / r2 - 1 / r1)) == 0, got


def test_a_spec_with_bad_units_is_refused_naming_the_field(server: Server) -> None:
    r = submit(server.url, I_13_12, {"timeout": "30"}, spec=i_13_12_spec(i2={"furlong": 1}))
    message = refusal(server.url, r)
    assert "inputs[2].units: unknown key 'furlong'" in message, message
