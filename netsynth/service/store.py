"""Durable job storage: a SQLAlchemy 2 database of jobs and a content-addressed model folder.

`Store(url, data_dir)` opens (and creates) the database; SQLite files run in WAL mode with a busy
timeout so the runner's threads and the request handlers can write at once. Models live under
`<data_dir>/models/<sha256>.onnx`, written to a temporary file and renamed into place, so identical
uploads are stored once and a crash never leaves half a model under its final name.

Every method returns `JobRecord`s, frozen snapshots: no ORM object leaves this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, create_engine, event, func, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "succeeded", "failed", "cancelled", "interrupted")
WAITING = (QUEUED, INTERRUPTED)          # runnable: picked in order of submission
ENDED = (SUCCEEDED, FAILED, CANCELLED)   # end states: nothing changes any more
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, INTERRUPTED)


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    model_sha: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    started: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True)
class JobRecord:
    id: str
    status: str
    spec: dict[str, Any]
    model_sha: str
    options: dict[str, Any]
    created: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    progress: dict[str, Any] | None
    report: dict[str, Any] | None
    error: str | None
    stop_reason: str | None
    attempts: int

    @property
    def ended(self) -> bool:
        return self.status in ENDED


def _record(job: Job) -> JobRecord:
    return JobRecord(job.id, job.status, job.spec, job.model_sha, job.options, job.created,
                     job.started, job.finished, job.progress, job.report, job.error,
                     job.stop_reason, job.attempts)


def now() -> dt.datetime:
    """UTC, naive (SQLite keeps no zone); rendered with a trailing Z by the API."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Store:
    def __init__(self, url: str | None, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.models = self.data_dir / "models"
        self.models.mkdir(parents=True, exist_ok=True)
        url = url or f"sqlite:///{(self.data_dir / 'netsynth.db').resolve()}"
        self.url = url
        sqlite = url.startswith("sqlite")
        self.engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30} if sqlite else {})
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # ---- models ---------------------------------------------------------------------------------

    def put_model(self, data: bytes) -> str:
        """Store `data` under its sha256 (once) and return the hex digest."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.model_path(sha)
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=self.models, prefix=".upload-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return sha

    def model_path(self, sha: str) -> Path:
        return self.models / f"{sha}.onnx"

    def model_bytes(self, sha: str) -> bytes:
        return self.model_path(sha).read_bytes()

    # ---- jobs -----------------------------------------------------------------------------------

    def create(self, *, spec: dict[str, Any], model_sha: str, options: dict[str, Any]) -> JobRecord:
        job = Job(id=uuid.uuid4().hex, status=QUEUED, spec=spec, model_sha=model_sha,
                  options=options, created=now(), attempts=0)
        with self._session.begin() as s:
            s.add(job)
        return _record(job)

    def get(self, job_id: str) -> JobRecord | None:
        with self._session() as s:
            job = s.get(Job, job_id)
            return _record(job) if job else None

    def page(self, *, limit: int, offset: int) -> tuple[list[JobRecord], int]:
        """Jobs newest first, and how many there are in all."""
        with self._session() as s:
            total = s.scalar(select(func.count()).select_from(Job)) or 0
            rows = s.scalars(select(Job).order_by(Job.created.desc(), Job.id.desc())
                             .limit(limit).offset(offset)).all()
            return [_record(j) for j in rows], total

    def claim_next(self) -> JobRecord | None:
        """Mark the oldest waiting job running and return it (None when nothing waits).

        The compare-and-set UPDATE makes a claim atomic even if two runners share a database.
        """
        with self._session.begin() as s:
            while True:
                job_id = s.scalar(select(Job.id).where(Job.status.in_(WAITING))
                                  .order_by(Job.created, Job.id).limit(1))
                if job_id is None:
                    return None
                done = s.execute(update(Job).where(Job.id == job_id, Job.status.in_(WAITING))
                                 .values(status=RUNNING, started=now(), finished=None, progress=None,
                                         attempts=Job.attempts + 1))
                if done.rowcount == 1:
                    return _record(s.get(Job, job_id, populate_existing=True))

    def cancel_waiting(self, job_id: str) -> bool:
        """Cancel a job that has not started; False when it is not waiting."""
        with self._session.begin() as s:
            done = s.execute(update(Job).where(Job.id == job_id, Job.status.in_(WAITING))
                             .values(status=CANCELLED, finished=now(),
                                     stop_reason="cancelled"))
            return done.rowcount == 1

    def set_progress(self, job_id: str, progress: dict[str, Any]) -> None:
        with self._session.begin() as s:
            s.execute(update(Job).where(Job.id == job_id, Job.status == RUNNING)
                      .values(progress=progress))

    def finish(self, job_id: str, status: str, *, report: dict[str, Any] | None = None,
               error: str | None = None, stop_reason: str | None = None) -> None:
        with self._session.begin() as s:
            s.execute(update(Job).where(Job.id == job_id)
                      .values(status=status, finished=now() if status in ENDED else None,
                              report=report, error=error, stop_reason=stop_reason))

    def interrupt_running(self) -> list[str]:
        """At start-up: jobs a dead server left `running` become `interrupted` (and so waiting)."""
        with self._session.begin() as s:
            ids = list(s.scalars(select(Job.id).where(Job.status == RUNNING)))
            if ids:
                s.execute(update(Job).where(Job.id.in_(ids)).values(status=INTERRUPTED))
            return ids


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
