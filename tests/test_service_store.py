"""The job store on a real database, SQLite and PostgreSQL: claims under concurrency, durable
cancels, the attempt cap, idempotency keys, and an older database's upgrade.

The PostgreSQL runs skip unless NETSYNTH_TEST_POSTGRES names a server (see test_service_kit).
Truths are counted independently: every claim any thread won, the rows read back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from test_service_kit import db_url, postgres_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration

SPEC = {"name": "t", "inputs": [], "output": {}}


@pytest.fixture
def store(tmp_path: Path, db_url: str | None):  # noqa: F811
    from netsynth.service.store import Store

    s = Store(db_url, tmp_path)
    yield s
    s.close()


def make(store, n: int) -> list[str]:
    sha = store.put_model(b"model bytes")
    return [store.create(spec=SPEC, model_sha=sha, options={"i": i})[0].id for i in range(n)]


def test_concurrent_claims_take_each_job_exactly_once(store, tmp_path: Path, db_url) -> None:  # noqa: F811
    """Eight claimers, each with its own engine (as separate servers would have), race for 60
    jobs: every job is claimed once, by one of them, in one attempt."""
    from netsynth.service.store import Store

    ids = make(store, 60)
    won: list[tuple[str, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def claimer(name: str) -> None:
        mine = Store(db_url, tmp_path)
        try:
            start.wait()
            while (job := mine.claim_next(name)) is not None:
                with lock:
                    won.append((job.id, name))
        finally:
            mine.close()

    threads = [threading.Thread(target=claimer, args=(f"node{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(i for i, _ in won) == sorted(ids)
    assert Counter(i for i, _ in won).most_common(1)[0][1] == 1
    for job_id, name in won:
        record = store.get(job_id)
        assert (record.status, record.owner, record.attempts) == ("running", name, 1)


def test_claims_follow_submission_order(store) -> None:
    ids = make(store, 3)
    assert [store.claim_next("a").id for _ in ids] == ids
    assert store.claim_next("a") is None


def test_a_cancel_is_durable_and_wins_over_a_rerun(store) -> None:
    first, second = make(store, 2)
    running = store.claim_next("a")
    assert running.id == first
    assert store.request_cancel(second).status == "cancelled"            # waiting: at once
    after = store.request_cancel(first)
    assert after.status == "running" and after.cancel_requested is not None
    assert store.cancels("a") == [(first, 1)] and store.cancels("b") == []
    # The server died before its search stopped: the restart cancels, it does not run again.
    assert store.requeue(owner="a", reason="died", max_attempts=3) == [(first, "cancelled")]
    assert store.get(first).stop_reason == "cancelled" and store.claim_next("a") is None


def test_attempts_are_capped(store) -> None:
    (job_id,) = make(store, 1)
    for attempt in (1, 2):
        assert store.claim_next("a").attempts == attempt
        assert store.requeue(owner="a", reason="killed", max_attempts=3) == [(job_id, "interrupted")]
    assert store.claim_next("a").attempts == 3
    assert store.requeue(owner="a", reason="killed", max_attempts=3) == [(job_id, "failed")]
    failed = store.get(job_id)
    assert failed.finished is not None and "killed" in failed.error and "3 times" in failed.error
    assert store.claim_next("a") is None


def test_a_clean_shutdown_gives_the_attempt_back(store) -> None:
    (job_id,) = make(store, 1)
    for _ in range(5):
        assert store.claim_next("a").attempts == 1
        assert store.requeue(owner="a", reason="stopped", max_attempts=1, refund=True) \
            == [(job_id, "interrupted")]


def test_writes_of_a_stale_attempt_change_nothing(store) -> None:
    (job_id,) = make(store, 1)
    store.claim_next("a")
    store.requeue(owner="a", reason="died", max_attempts=3)
    store.claim_next("b")                                                # attempt 2 runs
    store.set_progress(job_id, 1, {"level": 99})
    assert not store.finish(job_id, 1, "succeeded", report={"stale": True})
    assert store.get(job_id).progress is None and store.get(job_id).status == "running"
    assert store.finish(job_id, 2, "succeeded", report={"ok": True})
    assert store.get(job_id).report == {"ok": True}


def test_a_dead_servers_jobs_are_taken_back_after_its_lease(store) -> None:
    from netsynth.service.store import now

    (job_id,) = make(store, 1)
    store.claim_next("a")
    assert store.requeue(stale_before=now() - timedelta(seconds=30), reason="gone",
                         max_attempts=3) == []                             # still fresh
    assert store.requeue(stale_before=now() + timedelta(seconds=1), reason="gone",
                         max_attempts=3, other_than="a") == []             # its own: never
    assert store.requeue(stale_before=now() + timedelta(seconds=1), reason="gone",
                         max_attempts=3, other_than="b") == [(job_id, "interrupted")]


def test_idempotency_keys(store) -> None:
    from netsynth.service.store import KeyConflict

    sha = store.put_model(b"m")
    job, new = store.create(spec=SPEC, model_sha=sha, options={"a": 1}, idempotency_key="k")
    again, second = store.create(spec=SPEC, model_sha=sha, options={"a": 1}, idempotency_key="k")
    assert new and not second and again.id == job.id
    with pytest.raises(KeyConflict):
        store.create(spec=SPEC, model_sha=sha, options={"a": 2}, idempotency_key="k")
    assert store.page(limit=10, offset=0)[1] == 1


def test_models_are_stored_once_in_the_database(store) -> None:
    assert store.put_model(b"abc") == store.put_model(b"abc")
    assert store.model_bytes(store.put_model(b"abc")) == b"abc"


def test_a_database_of_an_older_server_is_upgraded(tmp_path: Path) -> None:
    """Columns added by issue 15 are added to an existing jobs table, rows kept; a model kept in
    the old models folder is still found."""
    from netsynth.service.store import Store

    db = tmp_path / "netsynth.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table jobs (id varchar(32) primary key, status varchar(16), spec json,"
                     " model_sha varchar(64), options json, created datetime, started datetime,"
                     " finished datetime, progress json, report json, error text,"
                     " stop_reason varchar(64), attempts integer)")
        conn.execute("insert into jobs values ('j1', 'queued', '{}', 'ab', '{}', "
                     "'2025-01-01 00:00:00', null, null, null, null, null, null, 0)")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "ab.onnx").write_bytes(b"old model")
    s = Store(None, tmp_path)
    try:
        assert s.claim_next("a").id == "j1"
        assert s.request_cancel("j1").cancel_requested is not None
        assert s.model_bytes("ab") == b"old model"
    finally:
        s.close()
