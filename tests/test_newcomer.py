"""What a newcomer meets (issue 21): fast in-process defaults, words that mean what they say, a
hint to accept a near miss, Ctrl-C that keeps the best program, a forgiving Python API, a CLI that
behaves in pipes and logs. The CLI runs as a user runs it (a subprocess); truths are the example
networks' known functions and Python's own arithmetic.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import netsynth
from dsl.errors import SpecError
from netsynth.report import Status

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NOISY = EXAMPLES / "noisy_add"
ENV = {"RAY_USAGE_STATS_ENABLED": "0", "PATH": "/usr/bin:/bin"}
pytestmark = pytest.mark.integration


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netsynth.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=ENV)


def test_version() -> None:
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip().startswith("netsynth ")


def test_default_run_is_in_process_with_no_ray_lines(tmp_path: Path) -> None:
    out = cli("run", str(EXAMPLES / "abs_diff" / "spec.json"), "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["search"]["backend"] == {"kind": "in-process", "workers": 1}
    assert report["search"]["workers"] == 1 and report["search"]["startup"] == 0.0
    assert "ray" not in (out.stdout + out.stderr).lower()
    assert out.stdout.splitlines()[0] == "netsynth: abs_diff: solved"


def test_a_run_on_ray_prints_none_of_rays_own_lines(tmp_path: Path) -> None:
    out = cli("run", str(EXAMPLES / "abs_diff" / "spec.json"), "--workers", "2", "--no-progress",
              "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["search"]["workers"] == 2 and report["search"]["startup"] > 0   # Ray did start
    assert out.stderr == "", out.stderr          # no "Started a local Ray instance", no notices


def test_progress_in_a_log_is_plain_lines() -> None:
    out = cli("run", str(EXAMPLES / "abs_diff" / "spec.json"), "--no-verify")
    assert "\r" not in out.stderr
    lines = out.stderr.splitlines()
    assert lines and all(line.startswith("netsynth: ") for line in lines)
    assert any("size 4" in line for line in lines)


def test_json_to_a_closed_pipe_is_not_an_error() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "netsynth.cli", "run",
                             str(EXAMPLES / "abs_diff" / "spec.json"), "--json", "-",
                             "--no-progress"], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"{"
    proc.stdout.close()                    # what `| head -1` does
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and b"Traceback" not in err and b"BrokenPipe" not in err


def test_words_that_mean_what_they_say(tmp_path: Path) -> None:
    out = cli("run", str(NOISY / "spec.json"), "--max-size", "3", "--no-verify", "--no-progress",
              "--json", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    # x + y is right where x + y < 16 (and at the few points the network gets wrong the same way)
    assert report["status"] == "approximate" and out.returncode == 1
    assert out.stdout.splitlines()[0].startswith("netsynth: noisy_add: approximate: 52.")
    assert "solved (solved)" not in out.stdout and "counterexample: counterexample" not in out.stdout


def test_a_near_miss_says_how_to_accept_it_and_that_works(tmp_path: Path) -> None:
    out = cli("run", str(NOISY / "spec.json"), "--max-size", "5", "--no-progress")
    assert out.returncode == 1
    assert "to accept it, ask for --min-agreement 0.98" in out.stdout
    assert "fidelity  251/256 (98.05%, whole domain); mean |error| 0.0586, max 5" in out.stdout
    again = cli("run", str(NOISY / "spec.json"), "--max-size", "5", "--no-progress",
                "--min-agreement", "0.98")
    assert again.returncode == 0 and "program   (x + y) % 16" in again.stdout


def test_ctrl_c_keeps_the_best_program(tmp_path: Path) -> None:
    """A search that cannot finish (no program is right everywhere on noisy_add) is interrupted
    once its size-5 level is done; the report it prints and saves holds (x + y) % 16."""
    # A child inherits an ignored SIGINT, and Python then never raises KeyboardInterrupt in it:
    # whatever an earlier test in this process left, the child starts with the default.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "netsynth.cli", "run", str(NOISY / "spec.json"),
                                 "--max-size", "30", "--timeout", "300", "--no-verify", "--json",
                                 str(tmp_path / "r.json")], cwd=ROOT, env=ENV, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        for line in proc.stderr:           # plain progress lines: the search is at size 6
            if "enumerate size 6" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "keeping the best program so far" in err and "Traceback" not in err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["stop_reason"] == "cancelled" and report["program"] == "(x + y) % 16"
    assert "program   (x + y) % 16" in out


def test_extract_takes_either_order_and_spec_as_json_text() -> None:
    model, spec = EXAMPLES / "abs_diff" / "model.onnx", EXAMPLES / "abs_diff" / "spec.json"
    a = netsynth.extract(model, spec, verify=False)
    b = netsynth.extract(spec, model, verify=False)
    c = netsynth.extract(model, spec.read_text(), verify=False, timeout="30")
    assert a.text == b.text == c.text and a.status is Status.SOLVED
    with pytest.raises(SpecError, match="expected a spec"):
        netsynth.extract(model, model)
    with pytest.raises(SpecError, match=r"min_agreement: expected a number in \(0, 1\], got 1.5"):
        netsynth.extract(model, spec, min_agreement=1.5)
    with pytest.raises(SpecError, match="progress: expected True, False or a callable"):
        netsynth.extract(model, spec, progress="yes")


def test_extract_on_an_untrained_torch_module_finds_nothing_and_restores_its_mode(capsys) -> None:
    import torch

    torch.manual_seed(0)
    module = torch.nn.Linear(32, 16)          # noisy_add's shapes: one_hot 16 + 16 in, argmax 16
    module.train()
    report = netsynth.extract(module, NOISY / "spec.json", max_size=3, verify=False,
                              progress=True)
    assert module.training                    # left as the caller had it
    assert report.status is Status.NOTHING
    assert report.fidelity.agreement < 0.5
    assert "nothing found" in report.render().splitlines()[0]
    assert "size 3" in capsys.readouterr().err   # the progress bar (plain lines: not a terminal)


def test_ops_restrict_the_search(tmp_path: Path) -> None:
    spec = str(EXAMPLES / "mod_add_113" / "spec.json")
    out = cli("run", spec, "--ops", "+,%", "--no-progress", "--no-verify")
    assert out.returncode == 0 and "program   (x + y) % 113" in out.stdout
    out = cli("run", spec, "--ops", "^,&", "--max-size", "5", "--no-progress", "--no-verify",
              "--json", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert out.returncode == 1 and report["status"] != "solved"
    assert all(c not in p["program"] for p in report["pareto"] for c in "+%-*/")
    bad = cli("run", spec, "--ops", "+,nope")
    assert bad.returncode == 2 and "ops: unknown operator 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.skipif(not __import__("shutil").which("cc"), reason="no C compiler")
def test_exports_written_by_the_cli_compute_the_program(tmp_path: Path) -> None:
    out = cli("run", str(EXAMPLES / "bitwise_8" / "spec.json"), "--no-progress", "--no-verify",
              "--export", str(tmp_path / "p.c"), "--export", str(tmp_path / "p.tex"),
              "--export", str(tmp_path / "p.py"))
    assert out.returncode == 0, out.stderr
    rng = np.random.default_rng(0)
    points = rng.integers(0, 256, (200, 2))
    main = "\n".join(f'    printf("%lld\\n", (long long)f({x}, {y}));' for x, y in points)
    source = (tmp_path / "p.c").read_text() + f"#include <stdio.h>\nint main(void) {{\n{main}\n}}\n"
    (tmp_path / "m.c").write_text(source)
    subprocess.run(["cc", "-std=c99", "-o", str(tmp_path / "m"), str(tmp_path / "m.c")], check=True)
    got = [int(v) for v in subprocess.run([str(tmp_path / "m")], capture_output=True, text=True,
                                          check=True).stdout.split()]
    assert got == [(x ^ y) & 240 for x, y in points.tolist()]
    assert r"\oplus" in (tmp_path / "p.tex").read_text()
    namespace: dict = {}
    exec((tmp_path / "p.py").read_text(), namespace)
    assert [namespace["f"](x, y) for x, y in points.tolist()] == got
    bad = cli("run", str(EXAMPLES / "bitwise_8" / "spec.json"), "--export", "p.docx")
    assert bad.returncode == 2 and "--export: expected a file ending in one of" in bad.stderr


def test_a_report_in_a_notebook() -> None:
    report = netsynth.extract(EXAMPLES / "abs_diff" / "model.onnx", EXAMPLES / "abs_diff" / "spec.json",
                              verify=False)
    f = report.function
    assert [f(3, 5), f(9, 2), f(4, 4)] == [2, 7, 0]
    html = report._repr_html_()
    assert "<table>" in html and "abs_diff: solved" in html and "<script" not in html
    assert report.export("smtlib").startswith("(define-fun f ((x (_ BitVec")
    with pytest.raises(ValueError, match="export: expected one of"):
        report.export("docx")
