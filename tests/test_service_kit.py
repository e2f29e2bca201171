"""What the service's tests share (no tests here): a real server in a subprocess, bounded polls,
and the databases to run it on (a SQLite file; a fresh PostgreSQL database per test when
NETSYNTH_TEST_POSTGRES names a server that can create databases, as `.ci/run` arranges).

Every wait is a bounded poll of something observable (the server's answers, the database, the
process table); nothing sleeps to synchronise.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
ABS = EXAMPLES / "abs_diff"
NOISY = EXAMPLES / "noisy_add"
ENDED = ("succeeded", "failed", "cancelled")
FAST = {"timeout": "30", "max_size": "6"}        # abs(x - y) is size 4: found in about a second
SLOW = {"timeout": "120", "max_size": "30"}      # noisy_add at min_agreement 1: no small program
POSTGRES_ENV = "NETSYNTH_TEST_POSTGRES"


class Server:
    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None,
                 db: str | None = None, cwd: Path = ROOT) -> None:
        self.data_dir = data_dir
        self.args = (*args, *(("--db", db) if db else ()))
        inherited = {k: v for k, v in os.environ.items() if k != "NETSYNTH_TOKEN"}
        self.env = {**inherited, "RAY_USAGE_STATS_ENABLED": "0", **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "server.log"
        self.cwd = cwd

    def start(self) -> "Server":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "netsynth.service", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), "--workers", "1", *self.args],
                cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                r = httpx.get(self.url + "/healthz", timeout=2)
                if r.status_code == 200 and r.json().get("status") == "ok":    # this service's
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer /healthz in 60 s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def kill(self) -> None:
        """kill -9, then wait until its search processes are gone too (they die with it)."""
        assert self.proc is not None
        children = self.search_processes()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        wait_for("the search processes to die with their server",
                 lambda: not any(alive(pid) for pid in children), timeout=30)

    def search_processes(self) -> list[int]:
        """Pids of this server's search processes (its children running netsynth.service.worker)."""
        assert self.proc is not None
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid and b"netsynth.service.worker" in cmd:
                found.append(int(entry.name))
        return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, probe: Callable[[], Any], *, timeout: float, every: float = 0.1) -> Any:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def submit(url: str, example: Path, fields: dict[str, str] | list[tuple[str, str]] | None = None,
           *, headers: dict[str, str] | None = None, model: bytes | None = None,
           spec: bytes | None = None, spec_name: str = "spec.json") -> httpx.Response:
    files = [("spec", (spec_name, spec if spec is not None else (example / "spec.json").read_bytes())),
             ("model", ("model.onnx", model if model is not None else (example / "model.onnx").read_bytes()))]
    data = list(fields.items()) if isinstance(fields, dict) else list(fields or [])
    # Text fields as multipart parts of their own, so a field may be given twice.
    files += [(name, (None, value.encode())) for name, value in data]
    return httpx.post(url + "/jobs", files=files, headers=headers, timeout=60)


def job(url: str, job_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = httpx.get(f"{url}/jobs/{job_id}", timeout=10, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def ended(url: str, job_id: str) -> dict[str, Any] | None:
    j = job(url, job_id)
    return j if j["status"] in ENDED else None


def refusal(url: str, r: httpx.Response) -> str:
    """The error a refused submission got: the 4xx response's body, or, when the refusal came
    once the job read its input (HTTP 202, then a failed job), the failed job's error."""
    if r.status_code == 202:
        done = wait_for("the refused job", lambda: ended(url, r.json()["id"]), timeout=120)
        assert done["status"] == "failed", done
        return done["error"]
    assert r.status_code in (400, 422), r.text
    return r.text


def running_with_progress(url: str, job_id: str) -> dict[str, Any] | None:
    j = job(url, job_id)
    return j if j["status"] == "running" and j["progress"] else None


def follow(url: str, job_id: str, *, timeout: float) -> list[tuple[str, dict[str, Any]]]:
    """The job's server-sent events, (name, data), up to its `end` event (`timeout` bounds each
    wait for the next line)."""
    import json

    events: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream("GET", f"{url}/jobs/{job_id}/events",
                      timeout=httpx.Timeout(10, read=timeout)) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line[5:])))
                if name == "end":
                    break
    return events


# ---- databases ----------------------------------------------------------------------------------

def postgres_admin() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards); skips without a server."""
    admin = postgres_admin()
    if admin is None:
        pytest.skip(f"no PostgreSQL: set {POSTGRES_ENV} to a SQLAlchemy URL of a role that may "
                    "create databases (.ci/run installs, starts and sets one)")
    psycopg = pytest.importorskip("psycopg")
    from sqlalchemy.engine import make_url

    url = make_url(admin)
    name = f"netsynth_test_{uuid.uuid4().hex[:12]}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """None (the server's own SQLite file) or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")
