"""Joining a real `ray start --head` cluster by address: the answer is the in-process one, the
tasks run on that cluster, and closing the executor leaves the cluster running.

A process can join one Ray cluster only, so the distributed side runs in a child Python process;
this module itself never initialises Ray. The cluster is started here (its own session, temp dir,
ports and dashboard) and stopped by killing that session only: `ray stop` would stop every Ray on
the machine. Where `netsynth run` ran its tasks is read from the cluster's own record, Ray's state
API (served by the dashboard), also from a child process: it needs the cluster's auth token.
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
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import pytest

from dsl.language import get_dsl
from synth.int_engine.distributed import _run_batch
from synth.int_engine.engine import InProcess
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
from synth.int_engine.distributed import make_executor
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


# The cluster's record of one driver's tasks of one name (the enumeration's `_run_batch`) and of
# its nodes, as Ray's state API gives them. Arguments: dashboard URL, driver pid, task name.
STATE = """
import json, sys
from ray.util.state import list_jobs, list_nodes, list_tasks

address, pid, name = sys.argv[1:]
jobs = [j for j in list_jobs(address=address) if j.driver_info and j.driver_info.pid == pid]
tasks = [] if len(jobs) != 1 else list_tasks(
    address=address, filters=[("name", "=", name), ("job_id", "=", jobs[0].job_id)], limit=10_000)
print(json.dumps({
    "jobs": [[j.job_id, str(j.status)] for j in jobs],
    "tasks": [[t.task_id, t.state, t.error_type, t.node_id] for t in tasks],
    "nodes": [[n.node_id, n.state, n.is_head_node] for n in list_nodes(address=address)]}))
"""


class Cluster(NamedTuple):
    address: str                        # the GCS, host:port
    dashboard: str                      # http://host:port, serves the state API


def _free_ports(n: int) -> list[int]:
    """`n` ports that nothing listens on now; all held while they are picked, so distinct."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _answers(url: str) -> bool:
    """Whether an HTTP server answers at `url` (with anything: without the token it says 401)."""
    try:
        urllib.request.urlopen(url, timeout=5)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def _healthy(address: str) -> bool:
    try:
        return subprocess.run([RAY, "health-check", "--address", address], env=ENV,
                              capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.fixture(scope="module")
def cluster():
    port, dashboard, agent, client = _free_ports(4)
    temp = tempfile.mkdtemp(prefix="nsray")       # short: Ray's socket paths are length-limited
    # Free ports for everything with a fixed default, so that another Ray here does not collide.
    head = subprocess.Popen([RAY, "start", "--head", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=true", "--dashboard-host=127.0.0.1",
                             f"--dashboard-port={dashboard}",
                             f"--dashboard-agent-listen-port={agent}",
                             f"--ray-client-server-port={client}", "--disable-usage-stats",
                             "--temp-dir", temp, "--block"],
                            env=ENV, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    cluster = Cluster(f"127.0.0.1:{port}", f"http://127.0.0.1:{dashboard}")
    try:
        for _ in range(120):                      # bounded wait for the GCS and the dashboard
            if head.poll() is not None:
                pytest.fail(f"ray start exited with {head.returncode}")
            if _healthy(cluster.address) and _answers(f"{cluster.dashboard}/api/version"):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the Ray head at {cluster} never became healthy")
        yield cluster
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


def _state(cluster: Cluster, pid: int, *, tasks: int) -> dict:
    """The state API's record of the driver with process id `pid`, once complete: its one job has
    ended and `tasks` tasks are in a final state (workers report task events in batches, so the
    last ones may arrive after the driver is gone)."""
    record, error = None, ""
    for _ in range(60):                           # bounded wait for the record to be complete
        child = subprocess.run([sys.executable, "-c", STATE, cluster.dashboard, str(pid),
                                _run_batch.__name__], env=ENV, capture_output=True, text=True,
                               timeout=60)
        if child.returncode != 0:
            error = child.stderr[-3000:]
        else:
            record = json.loads(child.stdout.strip().splitlines()[-1])
            if ([status for _, status in record["jobs"]] == ["SUCCEEDED"]
                    and len({task_id for task_id, *_ in record["tasks"]}) == tasks
                    and all(state in ("FINISHED", "FAILED") for _, state, *_ in record["tasks"])):
                return record
        time.sleep(0.5)
    assert record is not None, error
    return record                                 # incomplete: the assertions say what is missing


def test_executor_joins_cluster_by_address(cluster):
    child = subprocess.run([sys.executable, "-c", CHILD, cluster.address, str(TESTS)], env=ENV,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])

    program, levels, _ = search(InProcess())
    assert report["program"] == get_dsl("int").show(program)
    assert [tuple(level) for level in report["levels"][:-1]] == levels[:-1]   # completed levels
    assert report["tasks"] > 0 and report["owns_ray"] is False
    assert report["gcs"].endswith(f":{cluster.address.rsplit(':', 1)[1]}")  # joined our head's GCS
    assert report["nodes"] == [report["task_node"]]                  # its only node ran tasks
    assert _healthy(cluster.address), "closing the executor stopped a cluster it had only joined"


def test_cli_run_with_ray_address_runs_its_tasks_on_the_cluster_and_leaves_it_running(
        cluster, tmp_path):
    root = TESTS.parent
    out = tmp_path / "report.json"
    proc = subprocess.Popen([sys.executable, "-m", "netsynth.cli", "run",
                             str(root / "examples" / "bitwise_8" / "spec.json"), "--workers", "2",
                             "--no-progress", "--no-verify", "--json", str(out)],
                            env={**ENV, "RAY_ADDRESS": cluster.address},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=root)
    try:                                          # Popen: the state API knows the driver by pid
        _, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()                               # no-op once it has exited
        proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["status"] == "solved"
    backend = report["search"]["backend"]
    assert backend["kind"] == "ray" and backend["tasks"] > 0
    assert backend["address"].endswith(f":{cluster.address.rsplit(':', 1)[1]}")   # our head's GCS

    # The cluster's own record: this process was one job of it, which ended; every task the report
    # counts ran there, on the cluster's node, and finished (those in flight when the answer came
    # are left to finish; only a stop cancels tasks); and the node is still alive.
    record = _state(cluster, proc.pid, tasks=backend["tasks"])
    assert [status for _, status in record["jobs"]] == ["SUCCEEDED"]
    [(head, node_state, is_head)] = record["nodes"]
    assert node_state == "ALIVE" and is_head
    tasks = record["tasks"]
    assert len({task_id for task_id, *_ in tasks}) == len(tasks) == backend["tasks"]
    finished = [node for _, state, _, node in tasks if state == "FINISHED"]
    cancelled = [task for task in tasks if task[1:3] == ["FAILED", "TASK_CANCELLED"]]
    assert finished and len(finished) + len(cancelled) == len(tasks), tasks
    assert len(cancelled) <= backend["cancelled"]   # counted unfinished; some may finish first
    assert set(finished) == {head}
    assert _healthy(cluster.address), "netsynth run stopped a cluster it had only joined"
