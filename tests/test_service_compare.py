"""Compare jobs over HTTP (issue 20): `POST /compare` with several real trained networks of one
task on a real server; the result is the comparison, its page is drawn from it, bad input is a
422 naming the field, and `netsynth submit A B C --wait` runs one from the command line. The truth
the groups are checked against is the task each example network was trained on, evaluated here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from test_service_kit import EXAMPLES, ROOT, Server, ended, job, wait_for

pytestmark = pytest.mark.integration

TRIO = [EXAMPLES / "trio" / name for name in ("wide_relu", "deep_tanh", "scaled_gelu")]
XOR = EXAMPLES / "other_task" / "xor_relu"
OPTIONS = {"timeout": "60", "max_size": "7"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    s = Server(tmp_path_factory.mktemp("compare"), "--max-jobs", "1").start()
    yield s
    s.stop()


def post_compare(url: str, specs: list[bytes], models: list[bytes],
                 fields: dict[str, str] | None = None) -> httpx.Response:
    files = [("spec", (f"spec{k}.json", s)) for k, s in enumerate(specs)]
    files += [("model", (f"model{k}.onnx", m)) for k, m in enumerate(models)]
    files += [(name, (None, value.encode())) for name, value in (fields or OPTIONS).items()]
    return httpx.post(url + "/compare", files=files, timeout=120)


def finished(url: str, job_id: str) -> dict[str, Any]:
    status = wait_for(f"compare job {job_id}", lambda: ended(url, job_id), timeout=400, every=0.3)
    assert status["status"] == "succeeded", status
    return httpx.get(f"{url}/jobs/{job_id}/result", timeout=30).json()


def truth_of(program: str, spec_dir: Path) -> np.ndarray:
    """The values of `program` on the spec's whole domain, by the DSL's evaluator."""
    from dsl import evaluate, get_dsl
    from oracle.spec import load_spec

    spec = load_spec(spec_dir / "spec.json")
    x, y = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    node = get_dsl("int").parse(program, spec.variables())
    return evaluate(node, {"x": x.ravel(), "y": y.ravel()}).values


def test_the_trio_over_http_is_one_group_doing_its_task(server: Server) -> None:
    r = post_compare(server.url, [(d / "spec.json").read_bytes() for d in TRIO],
                     [(d / "model.onnx").read_bytes() for d in TRIO])
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    result = finished(server.url, job_id)
    assert result["outcome"] == "one program"
    (group,) = result["groups"]
    assert sorted(group["members"]) == ["deep_tanh", "scaled_gelu", "wide_relu"]
    x, y = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    assert np.array_equal(truth_of(group["program"], TRIO[0]), ((x + y) % 16).ravel())

    status = job(server.url, job_id)
    assert status["kind"] == "compare" and status["networks"] == 3
    assert status["result_status"] == "one program"
    page = httpx.get(f"{server.url}/ui/jobs/{job_id}", timeout=30).text
    assert "one program" in page and group["program"].replace(">", "&gt;") in page
    assert all(name in page for name in group["members"])


def test_one_spec_with_a_network_of_another_task_gives_two_groups(server: Server) -> None:
    spec = (TRIO[0] / "spec.json").read_bytes()
    r = post_compare(server.url, [spec], [(TRIO[0] / "model.onnx").read_bytes(),
                                          (XOR / "model.onnx").read_bytes()])
    assert r.status_code == 202, r.text
    result = finished(server.url, r.json()["id"])
    assert result["outcome"] == "several programs" and len(result["groups"]) == 2
    x, y = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    truths = sorted(truth_of(g["program"], TRIO[0]).tolist() for g in result["groups"])
    assert truths == sorted([((x + y) % 16).ravel().tolist(), (x ^ y).ravel().tolist()])


def test_bad_compare_requests_are_422_naming_the_field(server: Server) -> None:
    spec = json.loads((TRIO[0] / "spec.json").read_text())
    model = (TRIO[0] / "model.onnx").read_bytes()

    def detail(r: httpx.Response) -> dict[str, Any]:
        assert r.status_code == 422, r.text
        (d,) = r.json()["detail"]
        return d

    d = detail(post_compare(server.url, [json.dumps(spec).encode()], [model]))
    assert d["loc"] == ["body", "model"] and "at least 2 models, got 1" in d["msg"]
    d = detail(post_compare(server.url, [json.dumps(spec).encode()] * 3, [model, model]))
    assert d["loc"] == ["body", "spec"] and "got 3 specs for 2 models" in d["msg"]
    renamed = json.loads(json.dumps(spec).replace('"y"', '"z"'))
    renamed.pop("reference")
    d = detail(post_compare(server.url, [json.dumps(spec).encode(), json.dumps(renamed).encode()],
                            [model, model]))
    assert d["loc"] == ["body", "spec"] and "same input names" in d["msg"]
    d = detail(post_compare(server.url, [json.dumps(spec).encode()],
                            [model, (EXAMPLES / "abs_diff" / "model.onnx").read_bytes()]))
    assert d["loc"] == ["body", "model"] and d["msg"].startswith("model 2:")
    d = detail(post_compare(server.url, [json.dumps(spec).encode()], [model] * 9))
    assert d["loc"] == ["body", "model"] and "at most 8 times" in d["msg"]


def test_cli_submit_of_several_specs_waits_for_the_comparison(server: Server) -> None:
    out = subprocess.run([sys.executable, "-m", "netsynth.cli", "submit",
                          *[str(d / "spec.json") for d in TRIO], "--wait", "--timeout", "60",
                          "--max-size", "7", "--server", server.url],
                         capture_output=True, text=True, timeout=500, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "one program" in out.stdout and "wide_relu" in out.stdout
    assert "Traceback" not in out.stderr
