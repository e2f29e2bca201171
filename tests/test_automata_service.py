"""A sequence classifier through the job API: the planted departure (examples/tomita4_short, a
transformer trained on words of at most 6 letters) submitted to a real server in a subprocess;
the result carries the automaton, its Python, its report sections and where the network departs."""

from __future__ import annotations

import itertools
import json

import httpx
import pytest

from test_service_kit import EXAMPLES, Server, ended, submit, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    s = Server(tmp_path_factory.mktemp("service"), "--max-jobs", "1").start()
    yield s
    s.stop()


def test_an_automaton_job_from_submission_to_program(server: Server) -> None:
    spec = json.loads((EXAMPLES / "tomita4_short" / "spec.json").read_text())
    r = submit(server.url, EXAMPLES / "tomita4_short", {"timeout": "60"}, spec=json.dumps(spec).encode())
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    done = wait_for("the job to end", lambda: ended(server.url, job_id), timeout=120)
    assert done["status"] == "succeeded", done
    report = httpx.get(f"{server.url}/jobs/{job_id}/result", timeout=10).json()
    assert report["status"] == "solved" and report["program_data"]["kind"] == "automaton"
    assert report["verification"]["reference"] == "equivalent"    # its regex, read at submission
    assert len(report["program_data"]["transitions"]) == 4
    assert report["extra"]["regex"] and report["extra"]["svg"].lstrip().startswith("<?xml")
    assert report["extra"]["departures"]["lengths"]  # the network departs on long words
    source = httpx.get(f"{server.url}/jobs/{job_id}/program.py", timeout=10).text
    namespace: dict = {}
    exec(source, namespace)
    f = next(v for k, v in namespace.items() if callable(v) and not k.startswith("_"))
    for n in range(1, 9):
        for w in itertools.product((0, 1), repeat=n):
            assert f(list(w)) == ("000" not in "".join(map(str, w)))


def test_a_bad_regular_expression_reference_is_a_422_naming_it(server: Server) -> None:
    spec = json.loads((EXAMPLES / "tomita4_short" / "spec.json").read_text())
    spec["reference"] = "(1|01"
    r = submit(server.url, EXAMPLES / "tomita4_short", {"timeout": "60"},
               spec=json.dumps(spec).encode())
    assert r.status_code == 422, r.text
    (detail,) = r.json()["detail"]
    assert detail["loc"] == ["body", "spec"] and "'(1|01'" in detail["msg"]
    assert "regular expression" in detail["msg"]
