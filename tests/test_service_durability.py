"""The job service under kill -9, on a real SQLite file and on a real PostgreSQL database.

Each test starts real servers (`python -m netsynth.service`), kills them with SIGKILL at the
moment that matters, starts them again on the same data, and reads the outcome from the API.
PostgreSQL runs skip unless NETSYNTH_TEST_POSTGRES names a server (see test_service_kit).
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from test_service_kit import (  # noqa: F401  (db_url, postgres_url: fixtures)
    ABS, FAST, NOISY, SLOW, Server, db_url, ended, job, postgres_url, submit, wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def statuses_until_end(url: str, job_id: str, seen: set[str], *, stop_when: Any = None):
    def probe() -> dict[str, Any] | None:
        j = job(url, job_id)
        seen.add(j["status"])
        return j if j["status"] in ("succeeded", "failed", "cancelled") or \
            (stop_when is not None and stop_when(j)) else None
    return probe


def test_a_killed_servers_job_runs_again_after_restart(tmp_path: Path, db_url) -> None:  # noqa: F811
    data = tmp_path / "durable"
    s = Server(data, db=db_url).start()
    try:
        job_id = submit(s.url, NOISY, {"timeout": "3", "max_size": "30"}).json()["id"]
        wait_for("the job to run", lambda: job(s.url, job_id)["status"] == "running", timeout=60)
        s.kill()
        s = Server(data, db=db_url).start()
        seen: set[str] = set()
        done = wait_for("the re-queued job to end", statuses_until_end(s.url, job_id, seen),
                        timeout=90)
        assert done["status"] == "succeeded" and done["attempts"] == 2
        assert seen <= {"interrupted", "running", "succeeded"}
        report = httpx.get(f"{s.url}/jobs/{job_id}/result").json()
        assert report["stop_reason"] in ("time budget", "solved") and report["status"]
    finally:
        s.stop()


def test_a_clean_shutdown_puts_running_jobs_back_without_counting_an_attempt(tmp_path: Path) -> None:
    data = tmp_path / "clean"
    s = Server(data, "--max-attempts", "1").start()
    try:
        job_id = submit(s.url, NOISY, {"timeout": "3", "max_size": "30"}).json()["id"]
        wait_for("the job to run", lambda: job(s.url, job_id)["status"] == "running", timeout=60)
        s.stop()                                           # SIGTERM: a deploy, say
        with sqlite3.connect(data / "netsynth.db") as db:
            assert db.execute("select status, attempts from jobs where id = ?",
                              (job_id,)).fetchone() == ("interrupted", 0)
        s = Server(data, "--max-attempts", "1").start()
        done = wait_for("the job to end", lambda: ended(s.url, job_id), timeout=60)
        assert (done["status"], done["attempts"]) == ("succeeded", 1)   # the cap of 1 still let it run
    finally:
        s.stop()


def test_a_cancel_answered_202_survives_kill_9(tmp_path: Path, db_url) -> None:  # noqa: F811
    """Item 7: the server answered 202 to a cancel, was killed before its runner recorded it,
    and ran the job again after the restart (3 times out of 3). Now the cancel is in the database
    before the answer: after the restart the job is cancelled and never runs again."""
    data = tmp_path / "cancel"
    s = Server(data, db=db_url).start()
    try:
        job_id = submit(s.url, NOISY, SLOW).json()["id"]
        wait_for("the job to run", lambda: job(s.url, job_id)["status"] == "running", timeout=60)
        r = httpx.post(f"{s.url}/jobs/{job_id}/cancel", timeout=10)
        assert r.status_code == 202
        s.kill()                                          # at once: no time to act on it
        s = Server(data, db=db_url).start()
        seen: set[str] = set()
        done = wait_for("the job to end, or to run again",
                        statuses_until_end(s.url, job_id, seen, stop_when=lambda j: j["attempts"] > 1),
                        timeout=60)
        assert (done["status"], done["attempts"], done["stop_reason"]) == ("cancelled", 1, "cancelled")
        assert "running" not in seen
        assert r.json()["cancel_requested"] is True       # the 202 said it was recorded
    finally:
        s.stop()


def test_attempts_are_capped_then_the_job_fails_with_a_reason(tmp_path: Path) -> None:
    """Item 8: a job interrupted by every restart was retried forever. The third start is the
    last (--max-attempts, default 3): interrupted once more, it fails and says why."""
    data = tmp_path / "cap"
    s = Server(data).start()
    try:
        job_id = submit(s.url, NOISY, SLOW).json()["id"]
        for attempt in (1, 2, 3):
            wait_for(f"attempt {attempt} to run", lambda: (j := job(s.url, job_id))["status"]
                     == "running" and j["attempts"] == attempt, timeout=60)
            s.kill()
            s = Server(data).start()
        done = wait_for("the job to end", statuses_until_end(s.url, job_id, set(),
                        stop_when=lambda j: j["attempts"] > 3), timeout=30)
        assert (done["status"], done["attempts"]) == ("failed", 3)
        assert "started 3 times" in done["error"] and "its server stopped" in done["error"]
    finally:
        s.stop()


def test_a_killed_search_process_is_an_interruption_of_its_job(tmp_path: Path) -> None:
    """The search runs in a process of its own: killing it leaves the server serving and the job
    interrupted (run again), up to the cap, after which it fails naming the signal."""
    s = Server(tmp_path / "worker", "--max-attempts", "2").start()
    try:
        job_id = submit(s.url, NOISY, SLOW).json()["id"]
        for attempt in (1, 2):
            wait_for(f"attempt {attempt} to run", lambda: (j := job(s.url, job_id))["status"]
                     == "running" and j["attempts"] == attempt, timeout=60)
            (pid,) = s.search_processes()
            os.kill(pid, signal.SIGKILL)
        done = wait_for("the job to fail", lambda: ended(s.url, job_id), timeout=30)
        assert (done["status"], done["attempts"]) == ("failed", 2)
        assert "search process died (killed by signal 9)" in done["error"]
        assert httpx.get(s.url + "/healthz").json() == {"status": "ok", "running": 0}
        r = submit(s.url, ABS, FAST)                    # a new search process takes the next job
        assert wait_for("a job to end", lambda: ended(s.url, r.json()["id"]),
                        timeout=60)["status"] == "succeeded"
    finally:
        s.stop()


def test_an_idempotency_key_makes_one_job_across_kill_9(tmp_path: Path, db_url) -> None:  # noqa: F811
    """Item 8: a client that retries a submission after a crash (not knowing whether it
    arrived) sends the same Idempotency-Key and gets the job it already made."""
    data = tmp_path / "idem"
    s = Server(data, db=db_url).start()
    try:
        key = {"Idempotency-Key": "client-7f3a"}
        first = submit(s.url, ABS, FAST, headers=key)
        assert first.status_code == 202, first.text
        s.kill()
        s = Server(data, db=db_url).start()
        again = submit(s.url, ABS, FAST, headers=key)
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        assert again.headers["location"] == first.headers["location"]
        other = submit(s.url, ABS, {**FAST, "max_size": "5"}, headers=key)
        assert other.status_code == 409 and first.json()["id"] in other.text
        assert submit(s.url, ABS, FAST, headers={"Idempotency-Key": "k" * 256}).status_code == 422
        assert httpx.get(s.url + "/jobs").json()["total"] == 1
        wait_for("the job to end", lambda: ended(s.url, first.json()["id"]), timeout=60)
    finally:
        s.stop()


def test_a_second_server_on_the_same_data_folder_is_refused(tmp_path: Path) -> None:
    s = Server(tmp_path / "one").start()
    try:
        with pytest.raises(RuntimeError, match="another netsynth server is using the data folder"):
            Server(tmp_path / "one").start()
    finally:
        s.stop()


def test_a_search_deaf_to_its_cancel_is_ended(tmp_path: Path) -> None:
    """A search stuck where it cannot see its cancel (here: its process stopped with SIGSTOP)
    has its process killed --cancel-grace seconds after the cancel; the job ends cancelled."""
    s = Server(tmp_path / "deaf", "--cancel-grace", "1").start()
    try:
        job_id = submit(s.url, NOISY, SLOW).json()["id"]
        wait_for("the job to run", lambda: job(s.url, job_id)["status"] == "running", timeout=60)
        (pid,) = s.search_processes()
        os.kill(pid, signal.SIGSTOP)
        assert httpx.post(f"{s.url}/jobs/{job_id}/cancel").status_code == 202
        done = wait_for("the job to end", lambda: ended(s.url, job_id), timeout=60)
        assert (done["status"], done["stop_reason"], done["attempts"]) == ("cancelled", "cancelled", 1)
        assert "killing its search process" in s.log.read_text()
        r = submit(s.url, ABS, FAST)                    # a new search process takes the next job
        assert wait_for("a job to end", lambda: ended(s.url, r.json()["id"]),
                        timeout=60)["status"] == "succeeded"
    finally:
        s.stop()
