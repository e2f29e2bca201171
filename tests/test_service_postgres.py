"""Two job servers sharing one real PostgreSQL database, as a deployment past one machine would:
each claims different jobs (none run twice, none lost), and one takes over the running job of
the other when that one dies for good. Skips unless NETSYNTH_TEST_POSTGRES names a server.

The truth is read from PostgreSQL itself (psycopg), not through the service.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from test_service_kit import (  # noqa: F401  (postgres_url: a fixture)
    ABS, FAST, NOISY, Server, ended, job, postgres_url, submit, wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def rows(url: str, query: str) -> list[tuple]:
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


def test_two_servers_share_one_queue(tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    a = Server(tmp_path / "a", "--max-jobs", "1", db=postgres_url).start()
    b = Server(tmp_path / "b", "--max-jobs", "1", db=postgres_url).start()
    try:
        ids = []
        for i in range(8):
            r = submit((a, b)[i % 2].url, ABS, FAST)
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        for job_id in ids:
            done = wait_for("every job to end", lambda: ended(b.url, job_id), timeout=180)
            assert done["status"] == "succeeded" and done["attempts"] == 1, done
        owners = dict(rows(postgres_url, "select id, owner from jobs"))
        assert sorted(owners) == sorted(ids)
        nodes = {(s.data_dir / "node-id").read_text().strip() for s in (a, b)}
        assert set(owners.values()) == nodes          # both servers ran some; nobody else did
        # Each job ran once: one search process log line per job, across both servers.
        logs = (a.log.read_text() + b.log.read_text())
        assert all(logs.count(f"job {job_id}: started (attempt 1)") == 1 for job_id in ids)
        assert httpx.get(a.url + "/jobs").json()["total"] == 8
    finally:
        a.stop()
        b.stop()


def test_a_server_takes_over_the_jobs_of_one_that_died(tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    a = Server(tmp_path / "a", "--lease", "2", db=postgres_url).start()
    try:
        job_id = submit(a.url, NOISY, {"timeout": "3", "max_size": "30"}).json()["id"]
        wait_for("the job to run on a", lambda: job(a.url, job_id)["status"] == "running",
                 timeout=60)
        a.kill()                                      # a dies and never comes back
        b = Server(tmp_path / "b", "--lease", "2", db=postgres_url).start()
        try:
            done = wait_for("b to take the job over and finish it",
                            lambda: ended(b.url, job_id), timeout=90)
            assert done["status"] == "succeeded" and done["attempts"] == 2
            node_b = (tmp_path / "b" / "node-id").read_text().strip()
            assert rows(postgres_url, f"select owner from jobs where id = '{job_id}'") == [(node_b,)]
        finally:
            b.stop()
    finally:
        a.stop()


API_TESTS = ("test_submit_follow_events_and_fetch_program", "test_unknown_ids_and_paging",
             "test_cancel_running_and_queued_jobs",
             "test_bad_specs_and_models_are_refused_with_field_details",
             "test_unknown_and_repeated_form_fields_are_422_naming_them", "test_verify_endpoint",
             "test_concurrent_submissions_all_finish")


def test_the_api_on_postgresql(tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    """The API tests of test_service.py that go through the database, on one server whose
    database is PostgreSQL (test_service.py runs them on SQLite)."""
    import test_service as api

    s = Server(tmp_path / "api", "--max-jobs", "2", db=postgres_url).start()
    try:
        for name in API_TESTS:
            test = getattr(api, name)
            test(s, 6) if name == "test_concurrent_submissions_all_finish" else test(s)
    finally:
        s.stop()
