"""Every search family through the product's doors (`netsynth run`, `netsynth verify`,
`netsynth.extract`, the report's JSON and exports), on the bundled trained networks. The truth each
answer is checked against is the task the network was trained on, computed here independently
(Tomita 4 is "no 000 in the word"; the oblique classifier is x + 2y - z > 10)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.integration
TOMITA4 = ROOT / "examples" / "tomita4_short" / "spec.json"
OBLIQUE = ROOT / "examples" / "policy_oblique" / "spec.json"


def netsynth(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netsynth.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def automaton_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("automaton")
    run = netsynth("run", str(TOMITA4), "--no-progress", "--json", str(out / "report.json"),
                   "--export", str(out / "dfa.svg"), "--export", str(out / "dfa.json"),
                   "--export", str(out / "dfa.py"))
    return run, out


def test_run_on_a_sequence_classifier_prints_and_exports_its_automaton(automaton_run) -> None:
    run, out = automaton_run
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    text = run.stdout
    assert text.startswith("netsynth: tomita4_short: solved")
    assert "program\n  state" in text                  # the transition table, indented
    assert "product automaton" in text                 # how the reference verdict was decided
    report = json.loads((out / "report.json").read_text())
    assert report["family"] == "automaton" and report["program_data"]["kind"] == "automaton"
    assert (out / "dfa.svg").read_text().lstrip().startswith(("<svg", "<?xml"))
    assert json.loads((out / "dfa.json").read_text()) == report["program_data"]

    # The exported Python is Tomita 4 ("no 000") on every word up to 10 letters.
    namespace: dict = {}
    exec(compile((out / "dfa.py").read_text(), "dfa.py", "exec"), namespace)
    for n in range(1, 11):
        for word in itertools.product((0, 1), repeat=n):
            assert namespace["f"](list(word)) == ("000" not in "".join(map(str, word)))


def test_the_report_json_reads_back_and_verify_takes_the_program_json(automaton_run) -> None:
    from netsynth.report import Report

    run, out = automaton_run
    data = json.loads((out / "report.json").read_text())
    back = Report.from_dict(data)
    assert back.program.kind == "automaton" and back.program.show() == data["program"]
    assert back.to_dict()["program_data"] == data["program_data"]
    checked = netsynth("verify", str(TOMITA4), "--program", str(out / "dfa.json"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "holds" in checked.stdout


def test_an_export_the_kind_has_not_is_bad_input(tmp_path: Path) -> None:
    run = netsynth("run", str(TOMITA4), "--no-progress", "--export", str(tmp_path / "f.tex"))
    assert run.returncode == 2
    assert "an automaton program has no latex form" in run.stderr
    assert "Traceback" not in run.stderr


def test_extract_finds_the_oblique_rule_at_the_rule_familys_default_agreement() -> None:
    import netsynth
    from oracle.spec import load_spec

    spec = load_spec(OBLIQUE)
    report = netsynth.extract(spec.model, OBLIQUE, timeout=60)
    assert report.solved, report.render()
    assert report.verification.min_agreement == pytest.approx(0.999)
    rng = np.random.default_rng(7)
    columns = {i.name: rng.uniform(i.lo, i.hi, 20_000) for i in spec.inputs}
    truth = columns["x"] + 2 * columns["y"] - columns["z"] > 10
    far = np.abs(columns["x"] + 2 * columns["y"] - columns["z"] - 10) > 0.05
    values = report.program.evaluate(columns).values
    assert np.array_equal(values[far], truth[far])
    # The Python a user copies runs on its own (its numpy import included), point by point.
    namespace: dict = {}
    exec(compile(report.python, "rule.py", "exec"), namespace)
    pasted = [bool(namespace["f"](*(columns[i.name][k] for i in spec.inputs))) for k in range(500)]
    assert pasted == values[:500].tolist()


def test_a_rule_job_over_http_finds_the_oblique_rule(tmp_path: Path) -> None:
    """The rule family through the job API: a real server, the policy network uploaded, the rule
    in the result equal to the task off its boundary, its page drawn with the decision regions."""
    import httpx

    from oracle.spec import load_spec
    from test_service_kit import Server, ended, submit, wait_for

    server = Server(tmp_path, "--max-jobs", "1").start()
    try:
        r = submit(server.url, OBLIQUE.parent, {"timeout": "90"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        done = wait_for("the rule job", lambda: ended(server.url, job_id), timeout=300, every=0.3)
        assert done["status"] == "succeeded" and done["result_status"] == "solved", done
        report = httpx.get(f"{server.url}/jobs/{job_id}/result", timeout=30).json()
        page = httpx.get(f"{server.url}/ui/jobs/{job_id}", timeout=30).text
    finally:
        server.stop()
    from netsynth.report import Report

    program = Report.from_dict(report).program
    spec = load_spec(OBLIQUE)
    rng = np.random.default_rng(11)
    columns = {i.name: rng.uniform(i.lo, i.hi, 20_000) for i in spec.inputs}
    margin = columns["x"] + 2 * columns["y"] - columns["z"] - 10
    far = np.abs(margin) > 0.05
    assert np.array_equal(program.evaluate(columns).values[far], (margin > 0)[far])
    assert 'alt="regions_png" src="data:image/png;base64,' in page   # decision regions, inline
