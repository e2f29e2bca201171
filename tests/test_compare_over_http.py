"""Compare jobs over HTTP for the other kinds of network (issue 20, extended to every kind):
`POST /compare` with the real trio (one formula, its skeleton and each network's constants on the
results page), automata of two languages (two groups, the word telling them apart checked against
Tomita 4's grammar) and networks of two kinds (a 422 naming the family), on a real server. The
int and bool case: tests/test_service_compare.py."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from test_service_compare import finished, post_compare
from test_service_kit import EXAMPLES, Server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    s = Server(tmp_path_factory.mktemp("compare_kinds"), "--max-jobs", "1").start()
    yield s
    s.stop()


REAL_TRIO = [EXAMPLES / "real_trio" / n for n in ("wide_relu", "deep_tanh", "narrow_silu")]
TOMITA = [EXAMPLES / "tomita4", EXAMPLES / "automaton_trio" / "tomita3_gru"]


def test_real_networks_over_http_share_one_formula_with_their_constants(server: Server) -> None:
    r = post_compare(server.url, [(d / "spec.json").read_bytes() for d in REAL_TRIO],
                     [(d / "model.onnx").read_bytes() for d in REAL_TRIO], {"timeout": "60"})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    result = finished(server.url, job_id)
    assert result["family"] == "real" and result["outcome"] == "one program"
    (group,) = result["groups"]
    assert sorted(group["constants"]) == ["deep_tanh", "narrow_silu", "wide_relu"]
    from dsl.program import Expression
    from oracle.spec import load_spec

    spec = load_spec(REAL_TRIO[0] / "spec.json")
    law = Expression.parse(group["program"], spec.variables(), dsl="real")
    rng = np.random.default_rng(0)
    a, t = rng.uniform(1, 3, 2000), rng.uniform(0, 4, 2000)
    assert np.allclose(law.evaluate({"a": a, "t": t}).values, 2.37 * a * np.exp(-0.61 * t),
                       rtol=0.01)
    page = httpx.get(f"{server.url}/ui/jobs/{job_id}", timeout=30).text
    assert "skeleton" in page and "one formula" in page
    assert all(name in page for name in group["members"])


def test_automata_of_two_languages_over_http_are_two_groups(server: Server) -> None:
    r = post_compare(server.url, [(d / "spec.json").read_bytes() for d in TOMITA],
                     [(d / "model.onnx").read_bytes() for d in TOMITA], {"timeout": "60"})
    assert r.status_code == 202, r.text
    result = finished(server.url, r.json()["id"])
    assert result["family"] == "automaton" and result["outcome"] == "several programs"
    (relation,) = result["relations"]
    word = "".join(map(str, relation["counterexample"]["inputs"]["x"]))
    group_of = {g["members"][0]: k for k, g in enumerate(result["groups"])}
    truth = {"tomita4": "000" not in word}
    value = {relation["a"]: relation["counterexample"]["reference"],
             relation["b"]: relation["counterexample"]["program"]}
    assert value[group_of["tomita4"]] == truth["tomita4"] != value[group_of["tomita3_gru"]]


def test_networks_of_two_kinds_are_422_naming_the_family(server: Server) -> None:
    r = post_compare(server.url, [(EXAMPLES / "tomita4" / "spec.json").read_bytes(),
                                  (REAL_TRIO[0] / "spec.json").read_bytes()],
                     [(EXAMPLES / "tomita4" / "model.onnx").read_bytes(),
                      (REAL_TRIO[0] / "model.onnx").read_bytes()])
    assert r.status_code == 422, r.text
    (d,) = r.json()["detail"]
    assert d["loc"] == ["body", "spec"] and "family is 'real', but tomita4's is 'automaton'" in d["msg"]
