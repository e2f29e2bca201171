"""A recurrent network through the job API: a real uvicorn server in a subprocess (the service's
own `python -m netsynth.service`), the MIPS Binary_Addition GRU and its spec uploaded, the job
followed through its server-sent events until it ends (a bounded stream, no sleep), and the
exported program (GET /jobs/{id}/program.py) run as plain Python against the task's definition
(bench/mips/tasks.py: a carry loop in numpy, independent of the DSL) on every sequence of up to 8
steps and on random ones of twice the training length.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from bench_kit import bench_module
from test_service_kit import EXAMPLES, Server, follow, job, refusal, submit

pytestmark = pytest.mark.integration

BINARY = EXAMPLES / "mips_binary_addition"
tasks = bench_module("mips", "tasks")


@pytest.fixture(scope="module")
def binary_job(tmp_path_factory: pytest.TempPathFactory) -> dict:
    server = Server(tmp_path_factory.mktemp("stateful_service"), "--max-jobs", "1").start()
    try:
        r = submit(server.url, BINARY, {"timeout": "120"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        events = follow(server.url, job_id, timeout=240)
        status = job(server.url, job_id)
        report = httpx.get(f"{server.url}/jobs/{job_id}/result", timeout=30).json()
        program = httpx.get(f"{server.url}/jobs/{job_id}/program.py", timeout=30)
    finally:
        server.stop()
    return {"events": events, "status": status, "report": report, "program": program}


def exported_function(source: str):
    """`f(xs)` from the exported source (our own server's export of our own program)."""
    namespace: dict = {}
    exec(compile(source, "program.py", "exec"), namespace)
    assert callable(namespace.get("f")), source
    return namespace["f"]


def test_the_job_ends_solved_with_progress_on_the_way(binary_job: dict) -> None:
    events, status = binary_job["events"], binary_job["status"]
    assert events and events[-1][0] == "end" and events[-1][1]["status"] == "succeeded", events[-1:]
    assert all(name == "progress" for name, _ in events[:-1])
    assert status["result_status"] == "solved", status
    assert status["progress"], status                 # the search told its phase and size
    assert binary_job["report"]["status"] == "solved"


def test_the_exported_program_equals_binary_addition(binary_job: dict) -> None:
    r = binary_job["program"]
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/x-python")
    f = exported_function(r.text)
    task = tasks.BY_NAME["Binary_Addition"]
    pairs = [(0, 0), (0, 1), (1, 0), (1, 1)]
    checked = 0
    for length in range(1, 9):              # every sequence of up to 8 steps: 4^8 = 65,536 at 8
        for seq in itertools.product(pairs, repeat=length):
            want = task.truth(np.array([seq], dtype=np.int64))[0].tolist()
            assert f(list(seq)) == want, (seq, want)
            checked += 1
    assert checked == sum(4 ** k for k in range(1, 9))
    rng = np.random.default_rng(3)
    x = task.sample(300, 2 * task.seq_len, rng)
    want = task.truth(x)
    for i in range(len(x)):
        assert f([tuple(int(v) for v in step) for step in x[i]]) == want[i].tolist()


def test_a_sequence_spec_for_a_model_of_the_wrong_width_is_refused(tmp_path: Path) -> None:
    """Bad input over HTTP: the Binary_Addition GRU (4 columns a step) under a one-input spec."""
    spec = json.loads((BINARY / "spec.json").read_text())
    spec["inputs"] = spec["inputs"][:1]
    spec.pop("reference", None)
    server = Server(tmp_path, "--max-jobs", "1").start()
    try:
        r = submit(server.url, BINARY, {"timeout": "30"}, spec=json.dumps(spec).encode())
        message = refusal(server.url, r)
    finally:
        server.stop()
    assert "is 4 but the spec's encodings give 2 per step" in message, message   # shapes named
