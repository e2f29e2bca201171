"""Joining a real `ray start --head` cluster by address: the answer is the in-process one, the
tasks run on that cluster, and closing the executor leaves the cluster running. `netsynth run`
with RAY_ADDRESS joins a cluster with token authentication without being told RAY_AUTH_MODE, and
one without authentication too; a wrong address, token or auth mode is a one-line error, exit 2.

A process can join one Ray cluster only, so the distributed side runs in a child Python process;
this module itself never initialises Ray. The cluster is started here (its own session, temp dir,
ports, dashboard and token) and stopped by killing that session only: `ray stop` would stop every
Ray on the machine. Where `netsynth run` ran its tasks is read from the cluster's own record,
Ray's state API (served by the dashboard), also from a child process: it needs the cluster's token.
"""

from __future__ import annotations

import json
import os
import secrets
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
ROOT = TESTS.parent
# The environment of every process here, without the caller's Ray address, auth mode or token:
# each cluster fixture hands out its own (`Cluster.env`).
AUTH = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
BASE = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", *AUTH)}
BASE["RAY_USAGE_STATS_ENABLED"] = "0"

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
    env: dict                           # for a process that talks to it (its token and auth mode)


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


def _healthy(cluster: Cluster) -> bool:
    try:
        return subprocess.run([RAY, "health-check", "--address", cluster.address],
                              env=cluster.env, capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _start_cluster(*, token: bool):
    """A `ray start --head` cluster of its own; with `token`, a token file of its own is at hand
    (RAY_AUTH_TOKEN_PATH) and Ray, as by default, turns token authentication on; without, the
    cluster has no authentication (RAY_AUTH_MODE=disabled)."""
    port, dashboard, agent, client = _free_ports(4)
    temp = tempfile.mkdtemp(prefix="nsray")       # short: Ray's socket paths are length-limited
    env = dict(BASE, RAY_AUTH_MODE="disabled")
    if token:
        path = Path(temp, "auth_token")
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
        env = dict(BASE, RAY_AUTH_TOKEN_PATH=str(path))
    # Free ports for everything with a fixed default, so that another Ray here does not collide.
    head = subprocess.Popen([RAY, "start", "--head", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=true", "--dashboard-host=127.0.0.1",
                             f"--dashboard-port={dashboard}",
                             f"--dashboard-agent-listen-port={agent}",
                             f"--ray-client-server-port={client}", "--disable-usage-stats",
                             "--temp-dir", temp, "--block"],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    cluster = Cluster(f"127.0.0.1:{port}", f"http://127.0.0.1:{dashboard}",
                      dict(env, RAY_AUTH_MODE="token" if token else "disabled"))
    try:
        for _ in range(120):                      # bounded wait for the GCS and the dashboard
            if head.poll() is not None:
                pytest.fail(f"ray start exited with {head.returncode}")
            if _healthy(cluster) and _answers(f"{cluster.dashboard}/api/version"):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the Ray head at {cluster.address} never became healthy")
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


@pytest.fixture(scope="module")
def cluster():
    yield from _start_cluster(token=True)


@pytest.fixture(scope="module")
def open_cluster():
    yield from _start_cluster(token=False)


def _state(cluster: Cluster, pid: int, *, tasks: int) -> dict:
    """The state API's record of the driver with process id `pid`, once complete: its one job has
    ended and `tasks` tasks are in a final state, a failed one with its error type (workers report
    task events in batches, so the last ones, and a cancelled task's reason, may arrive after the
    driver is gone)."""
    record, error = None, ""
    for _ in range(60):                           # bounded wait for the record to be complete
        child = subprocess.run([sys.executable, "-c", STATE, cluster.dashboard, str(pid),
                                _run_batch.__name__], env=cluster.env, capture_output=True, text=True,
                               timeout=60)
        if child.returncode != 0:
            error = child.stderr[-3000:]
        else:
            record = json.loads(child.stdout.strip().splitlines()[-1])
            if ([status for _, status in record["jobs"]] == ["SUCCEEDED"]
                    and len({task_id for task_id, *_ in record["tasks"]}) == tasks
                    and all(state == "FINISHED" or (state == "FAILED" and error is not None)
                            for _, state, error, *_ in record["tasks"])):
                return record
        time.sleep(0.5)
    assert record is not None, error
    return record                                 # incomplete: the assertions say what is missing


def test_executor_joins_cluster_by_address(cluster):
    child = subprocess.run([sys.executable, "-c", CHILD, cluster.address, str(TESTS)],
                           env=cluster.env, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])

    program, levels, _ = search(InProcess())
    assert report["program"] == get_dsl("int").show(program)
    assert [tuple(level) for level in report["levels"][:-1]] == levels[:-1]   # completed levels
    assert report["tasks"] > 0 and report["owns_ray"] is False
    assert report["gcs"].endswith(f":{cluster.address.rsplit(':', 1)[1]}")  # joined our head's GCS
    assert report["nodes"] == [report["task_node"]]                  # its only node ran tasks
    assert _healthy(cluster), "closing the executor stopped a cluster it had only joined"


def test_cli_run_with_ray_address_runs_its_tasks_on_the_cluster_and_leaves_it_running(
        cluster, tmp_path):
    out = tmp_path / "report.json"
    proc = subprocess.Popen([sys.executable, "-m", "netsynth.cli", "run",
                             str(ROOT / "examples" / "bitwise_8" / "spec.json"), "--workers", "2",
                             "--no-progress", "--no-verify", "--json", str(out)],
                            env={**cluster.env, "RAY_ADDRESS": cluster.address},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
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
    assert _healthy(cluster), "netsynth run stopped a cluster it had only joined"


# `netsynth run` as a user types it, with RAY_ADDRESS set and RAY_AUTH_MODE not.

def _run_cli(env: dict, *extra: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netsynth.cli", "run",
                           str(ROOT / "examples" / "abs_diff" / "spec.json"), "--workers", "2",
                           "--no-progress", *extra],
                          env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def _user(cluster: Cluster, **env: str) -> dict:
    """The environment of a user joining `cluster`: its address and token, no RAY_AUTH_MODE."""
    return {**{k: v for k, v in cluster.env.items() if k != "RAY_AUTH_MODE"},
            "RAY_ADDRESS": cluster.address, **env}


def _solved_on(cluster: Cluster, run: subprocess.CompletedProcess, out: Path) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["status"] == "solved"
    backend = report["search"]["backend"]
    assert backend["kind"] == "ray" and backend["tasks"] > 0
    assert backend["address"].endswith(f":{cluster.address.rsplit(':', 1)[1]}")
    assert _healthy(cluster)


def _one_line_error(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 2, run.stderr[-3000:]
    [line] = run.stderr.splitlines()            # no traceback, no Ray log lines
    assert line.startswith("netsynth: error: cannot join the Ray cluster at ")
    return line


def test_cli_run_joins_a_token_cluster_without_being_told_the_auth_mode(cluster, tmp_path):
    out = tmp_path / "report.json"
    run = _run_cli(_user(cluster), "--json", str(out), timeout=300)
    _solved_on(cluster, run, out)
    token = Path(cluster.env["RAY_AUTH_TOKEN_PATH"]).read_text()
    assert token not in run.stdout + run.stderr


def test_cli_run_joins_a_cluster_without_authentication_while_a_token_is_at_hand(
        open_cluster, tmp_path):
    # A driver that turned token authentication on would refuse this cluster's calls back to it.
    path = tmp_path / "auth_token"
    path.write_text(secrets.token_hex(32))
    out = tmp_path / "report.json"
    run = _run_cli(_user(open_cluster, RAY_AUTH_TOKEN_PATH=str(path)), "--json", str(out),
                   timeout=300)
    _solved_on(open_cluster, run, out)


def test_cli_run_with_no_cluster_at_the_address_fails_in_one_line():
    [port] = _free_ports(1)
    address = f"127.0.0.1:{port}"
    # Bounded: Ray alone would retry connecting for as long as nothing answers.
    line = _one_line_error(_run_cli({**BASE, "RAY_ADDRESS": address}, timeout=60))
    assert f"at {address}: nothing answers there" in line
    assert f"ray status --address {address}" in line


def test_cli_run_with_a_wrong_token_fails_in_one_line_about_the_token(cluster):
    wrong = secrets.token_hex(32)
    run = _run_cli(_user(cluster, RAY_AUTH_TOKEN=wrong), timeout=60)
    line = _one_line_error(run)
    assert f"at {cluster.address}: it refused the token from RAY_AUTH_TOKEN" in line
    assert "~/.ray/auth_token" in line
    assert wrong not in run.stdout + run.stderr
    assert _healthy(cluster)


def test_cli_run_with_auth_mode_disabled_against_a_token_cluster_fails_in_one_line(cluster):
    line = _one_line_error(_run_cli(_user(cluster, RAY_AUTH_MODE="disabled"), timeout=60))
    assert "with RAY_AUTH_MODE=disabled none was sent" in line
    assert "unset RAY_AUTH_MODE" in line


# The memory cap counts an embedded Ray's workers (synth/int_engine/distributed.py,
# RayExecutor.resident): a child process, since a process joins one Ray only.
WORKERS_CAP = """
import json, sys
sys.path.insert(0, sys.argv[1])
import oracle
from oracle.spec import load_spec
from synth import search
from synth.int_engine import memory
from synth.int_engine.distributed import make_executor
from synth.options import SearchOptions
from synth.problem import Problem

spec = load_spec(sys.argv[1] + "/bench/hackers_delight/hd15/spec.json")
problem = Problem.from_spec(spec, oracle.load(spec), discover=False)
executor = make_executor(2)
try:
    result = search.run(problem, executor=executor, options=SearchOptions(
        timeout=90, workers=2, memory_bytes=int(sys.argv[2])))
    print(json.dumps({"stop": result.stop_reason.value, "workers": executor.resident,
                      "processes": len(executor._workers), "driver": memory.resident_bytes()}))
finally:
    executor.close()
"""


def test_the_memory_cap_counts_an_embedded_rays_workers():
    """A two-worker search of hd15 under a 1.2 GiB cap stops with `memory` while the driver
    alone is well under the cap's share: what stopped it is the workers' memory, counted."""
    from synth.int_engine.memory import RESIDENT_SHARE

    cap = 1200 << 20
    child = subprocess.run([sys.executable, "-c", WORKERS_CAP, str(ROOT), str(cap)], env=BASE,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    got = json.loads(child.stdout.strip().splitlines()[-1])
    assert got["stop"] == "memory budget", got
    assert got["processes"] == 2 and got["workers"] > 0
    assert got["driver"] < cap * RESIDENT_SHARE < got["driver"] + got["workers"], got
