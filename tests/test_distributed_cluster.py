"""Joining a real `ray start --head` cluster by address: the answer is the in-process one, the
tasks run on that cluster, and closing the executor leaves the cluster running.

A process can join one Ray cluster only, so the distributed side runs in a child Python process;
this module itself never initialises Ray. The cluster is started here (its own session and temp
dir) and stopped by killing that session only: `ray stop` would stop every Ray on the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from dsl.language import get_dsl
from synth.engine import InProcess
from test_distributed import search

pytestmark = pytest.mark.integration

RAY = str(Path(sys.executable).with_name("ray"))
TESTS = Path(__file__).resolve().parent
# `ray start` enables token authentication; a driver joining it must use the token too (here the
# one `ray start` keeps in ~/.ray, or RAY_AUTH_TOKEN), or it is refused.
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
ENV.pop("RAY_ADDRESS", None)

CHILD = """
import json, sys
sys.path.insert(0, sys.argv[2])
import ray
from dsl.language import get_dsl
from synth.distributed import make_executor
from test_distributed import search

executor = make_executor(2, address=sys.argv[1])
try:
    program, levels, _ = search(executor)
    node = ray.get(ray.remote(num_cpus=1)(lambda: ray.get_runtime_context().get_node_id()).remote())
    report = {"program": get_dsl("int").show(program), "levels": levels,
              "tasks": executor.tasks, "owns_ray": executor.owns_ray,
              "gcs": ray.get_runtime_context().gcs_address, "task_node": node,
              "nodes": [n["NodeID"] for n in ray.nodes() if n["Alive"]]}
finally:
    executor.close()
print(json.dumps(report))
"""


def _healthy(address: str) -> bool:
    try:
        return subprocess.run([RAY, "health-check", "--address", address], env=ENV,
                              capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.fixture(scope="module")
def cluster():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = tempfile.mkdtemp(prefix="nsray")       # short: Ray's socket paths are length-limited
    head = subprocess.Popen([RAY, "start", "--head", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--disable-usage-stats",
                             "--temp-dir", temp, "--block"],
                            env=ENV, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    try:
        for _ in range(120):                      # bounded wait for the GCS to answer
            if head.poll() is not None:
                pytest.fail(f"ray start exited with {head.returncode}")
            if _healthy(address):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the Ray head at {address} never became healthy")
        yield address
    finally:
        # Our session only. GCS and raylet outlive SIGTERM to `ray start --block`, hence SIGKILL.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(head.pid, sig)
            except ProcessLookupError:
                break
            try:
                head.wait(2)
            except subprocess.TimeoutExpired:
                pass
        head.wait(10)
        shutil.rmtree(temp, ignore_errors=True)


def test_executor_joins_cluster_by_address(cluster):
    child = subprocess.run([sys.executable, "-c", CHILD, cluster, str(TESTS)], env=ENV,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])

    program, levels, _ = search(InProcess())
    assert report["program"] == get_dsl("int").show(program)
    assert [tuple(level) for level in report["levels"][:-1]] == levels[:-1]   # completed levels
    assert report["tasks"] > 0 and report["owns_ray"] is False
    assert report["gcs"].endswith(f":{cluster.rsplit(':', 1)[1]}")   # joined our head's GCS
    assert report["nodes"] == [report["task_node"]]                  # its only node ran tasks
    assert _healthy(cluster), "closing the executor stopped a cluster it had only joined"


def test_cli_run_with_ray_address_uses_the_cluster_and_leaves_it_running(cluster, tmp_path):
    root = TESTS.parent
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "synth.cli", "run",
                           str(root / "examples" / "bitwise_8" / "spec.json"), "--workers", "2",
                           "--no-progress", "--no-verify", "--json", str(out)],
                          env={**ENV, "RAY_ADDRESS": cluster}, capture_output=True, text=True,
                          timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["status"] == "solved"
    backend = report["search"]["backend"]
    assert backend["kind"] == "ray" and backend["tasks"] > 0
    assert backend["address"].endswith(f":{cluster.rsplit(':', 1)[1]}")   # our head's GCS
    assert _healthy(cluster), "netsynth run stopped a cluster it had only joined"
