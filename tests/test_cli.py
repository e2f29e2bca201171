"""`netsynth run` and `netsynth verify` as a user runs them: a subprocess, exit codes, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dsl import compile_python, evaluate, get_dsl
from oracle import load_spec, sampling

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
pytestmark = pytest.mark.integration


def netsynth(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netsynth.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT,
                          env={"RAY_USAGE_STATS_ENABLED": "0", "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("name, extra", [
    ("mod_add_113", []), ("bitwise_8", []), ("abs_diff", []), ("max_raw", []),
    ("noisy_add", ["--min-agreement", "0.95"]),
])
def test_run_finds_the_reference_behaviour_of_each_example(tmp_path, name, extra):
    out = tmp_path / "report.json"
    proc = netsynth("run", str(EXAMPLES / name / "spec.json"), "--workers", "1",
                    "--no-progress", "--json", str(out), *extra)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["status"] == "solved" and report["stop_reason"] == "solved"
    assert set(report) >= {"status", "program", "python", "fidelity", "stop_reason", "pareto",
                           "search", "verification"}
    assert set(report["search"]) >= {"seconds", "candidates", "distinct"}
    assert report["program"] in proc.stdout
    # Independent truth: the spec's reference, evaluated over the whole domain in plain Python.
    spec = load_spec(EXAMPLES / name / "spec.json")
    dsl = get_dsl(spec.dsl)
    domain = sampling.domain(spec)
    reference = dsl.parse(spec.reference, spec.variables())
    found = dsl.parse(report["program"], spec.variables())
    assert np.array_equal(evaluate(found, domain).values, evaluate(reference, domain).values)
    namespace: dict = {}
    exec(report["python"], namespace)
    first = {k: int(v[7]) for k, v in domain.items()}
    assert namespace["f"](**first) == compile_python(reference, spec.input_names)(**first)
    fidelity = report["fidelity"]
    assert fidelity["exhaustive"] and fidelity["total"] == spec.domain_size()
    if name == "noisy_add":   # the network is wrong on 5 points; each is listed exactly
        assert fidelity["agree"] == 251
        for d in fidelity["disagreements"]:
            x, y = d["inputs"]["x"], d["inputs"]["y"]
            assert d["program"] == (x + y) % 16 != d["network"]
    assert report["verification"]["reference"] == "equivalent"


def test_run_reports_unsolved_with_exit_1(tmp_path):
    out = tmp_path / "r.json"
    proc = netsynth("run", str(EXAMPLES / "noisy_add" / "spec.json"), "--workers", "1",
                    "--no-progress", "--max-size", "3", "--no-verify", "--json", str(out))
    assert proc.returncode == 1
    report = json.loads(out.read_text())
    assert report["status"] == "approximate" and report["stop_reason"] == "exhausted"
    assert report["fidelity"]["agree"] < report["fidelity"]["total"]


@pytest.mark.parametrize("args, fragment", [
    (["run", "examples/missing.json"], "no such file"),
    (["run", "examples/mod_add_113/spec.json", "--min-agreement", "1.5"], "(0, 1]"),
    (["run", "examples/mod_add_113/spec.json", "--workers", "0"], "positive int"),
    (["run", "examples/mod_add_113/spec.json", "--model", "README.md"], "ONNX"),
    (["verify", "examples/mod_add_113/spec.json", "--program", "(x + y % 113"], "column"),
    (["verify", "examples/mod_add_113/spec.json", "--program", "x + z"], "unknown variable 'z'"),
])
def test_bad_input_exits_2_with_a_message_and_no_traceback(args, fragment):
    proc = netsynth(*args, "--no-progress" if args[0] == "run" else "--json", *(
        [] if args[0] == "run" else ["/dev/null"]))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("option, path, fragment", [
    ("--json", "/nonexistent/report.json", "--json /nonexistent/report.json: no directory '/nonexistent'"),
    ("--html", "examples", "--html examples: is a directory"),
    ("--export", "no_such_dir/f.py", "--export no_such_dir/f.py: no directory 'no_such_dir'"),
    ("--html", "-", "--html -: expected a file name (only --json writes to stdout)"),
    ("--html", "/tmp/netsynth-same.json --json /tmp/netsynth-same.json",
     "--html /tmp/netsynth-same.json: also given to --json"),
])
def test_an_output_that_cannot_be_written_is_refused_before_the_search(option, path, fragment):
    proc = netsynth("run", "examples/mod_add_113/spec.json", "--no-progress", option, *path.split())
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert fragment in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""                    # refused before a search: no report printed


def test_verify_accepts_the_reference_and_rejects_a_near_miss(tmp_path):
    spec = str(EXAMPLES / "mod_add_113" / "spec.json")
    ok = netsynth("verify", spec, "--program", "(x + y) % 113")
    assert ok.returncode == 0, ok.stderr
    out = tmp_path / "v.json"
    # Right except where x + y == 224 (only x = y = 112): a near miss.
    miss = netsynth("verify", spec, "--program", "0 if x + y == 224 else (x + y) % 113",
                    "--json", str(out))
    assert miss.returncode == 1
    data = json.loads(out.read_text())
    assert data["reference"] == "counterexample"
    assert data["counterexample"]["inputs"] == {"x": 112, "y": 112}
    assert data["fidelity"]["agree"] == 12769 - 1
