"""Durable job storage: one SQLAlchemy 2 database of jobs and of the models they run.

`Store(url, data_dir)` opens (and creates, or adds missing columns to) the database: a SQLite file
under `data_dir` by default, or any SQLAlchemy URL (PostgreSQL for servers sharing one queue).
SQLite files run in WAL mode with a busy timeout, so the request handlers and the search processes
write at once. Models are stored in the database by sha256, once per content, so every server
sharing the database can run every job.

Every change of a job is one conditional UPDATE, so two servers (or a server and a search process
it lost track of) never both win:
- `claim_next(owner)` takes the oldest waiting job (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the
  database's write lock on SQLite) and counts an attempt;
- writes of a running job (`set_progress`, `finish`) name the attempt they belong to and change
  nothing once the job has moved on (a search process still running after its server died);
- `request_cancel` is committed before the API answers; `requeue` turns a cancel recorded for a
  job whose server died into `cancelled`, never into another run.

Every method returns `JobRecord`s, frozen snapshots: no ORM object leaves this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON, DateTime, Index, Integer, LargeBinary, String, Text, case, create_engine, event, func,
    bindparam, inspect, literal, null, select, text, update,
)
from sqlalchemy.exc import IntegrityError
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
    # Added by issue 15 (older databases get them as nullable columns at start-up):
    cancel_requested: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)      # the claiming server
    heartbeat: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    result_status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # report's status
    # Added by issue 20: a compare job ("compare") holds every network as {"spec", "model_sha"};
    # `spec` and `model_sha` are then its first network's. NULL is an extraction.
    kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    members: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (Index("ix_jobs_idempotency_key", "idempotency_key", unique=True),)


class Model(Base):
    __tablename__ = "models"

    sha: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created: Mapped[dt.datetime] = mapped_column(DateTime)


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
    cancel_requested: dt.datetime | None = None
    owner: str | None = None
    result_status: str | None = None        # the report's status, kept apart from the report
    kind: str = "extract"                   # or "compare" (several networks, `members`)
    members: list[dict[str, Any]] | None = None

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def compare(self) -> bool:
        return self.kind == "compare"


class KeyConflict(Exception):
    """An idempotency key already names a job made from a different request."""

    def __init__(self, job: JobRecord) -> None:
        super().__init__(job.id)
        self.job = job


_COLUMNS = (Job.id, Job.status, Job.spec, Job.model_sha, Job.options, Job.created, Job.started,
            Job.finished, Job.progress, Job.report, Job.error, Job.stop_reason, Job.attempts,
            Job.cancel_requested, Job.owner, Job.result_status, Job.kind,
            Job.members)                                                # JobRecord's fields
_LIGHT = tuple(null() if c is Job.report else c for c in _COLUMNS)          # without the report
# Built once: a statement made per call costs more than the query (status reads are hot).
_GET = {True: select(*_COLUMNS).where(Job.id == bindparam("id")),
        False: select(*_LIGHT).where(Job.id == bindparam("id"))}


def _record(job: Job) -> JobRecord:
    return JobRecord(job.id, job.status, job.spec, job.model_sha, job.options, job.created,
                     job.started, job.finished, job.progress, job.report, job.error,
                     job.stop_reason, job.attempts, job.cancel_requested, job.owner,
                     job.result_status, job.kind or "extract", job.members)


def now() -> dt.datetime:
    """UTC, naive (SQLite keeps no zone); rendered with a trailing Z by the API."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Store:
    def __init__(self, url: str | None, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        url = url or f"sqlite:///{(self.data_dir / 'netsynth.db').resolve()}"
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.engine = create_engine(
            url, pool_pre_ping=not self.sqlite,
            connect_args={"check_same_thread": False, "timeout": 30} if self.sqlite else {})
        if self.sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        _add_missing_columns(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # ---- models ---------------------------------------------------------------------------------

    def put_model(self, data: bytes) -> str:
        """Store `data` under its sha256 (once) and return the hex digest."""
        sha = hashlib.sha256(data).hexdigest()
        with self._session() as s:
            if s.get(Model, sha) is not None:
                return sha
        try:
            with self._session.begin() as s:
                s.add(Model(sha=sha, data=data, size=len(data), created=now()))
        except IntegrityError:      # the same model, stored by another request meanwhile
            pass
        return sha

    def model_bytes(self, sha: str) -> bytes:
        with self._session() as s:
            model = s.get(Model, sha)
            if model is not None:
                return model.data
        old = self.data_dir / "models" / f"{sha}.onnx"     # where servers before issue 15 kept it
        return old.read_bytes()

    # ---- jobs -----------------------------------------------------------------------------------

    def create(self, *, spec: dict[str, Any], model_sha: str, options: dict[str, Any],
               idempotency_key: str | None = None,
               members: list[dict[str, Any]] | None = None) -> tuple[JobRecord, bool]:
        """A new queued job, and True; or, when `idempotency_key` already names a job made from
        the same request, that job and False. Raises KeyConflict when it names another request.
        With `members` (each {"spec", "model_sha"}), a compare job of those networks."""
        digest = hashlib.sha256(repr((spec, model_sha, sorted(options.items()), members)).encode()
                                ).hexdigest()
        job = Job(id=uuid.uuid4().hex, status=QUEUED, spec=spec, model_sha=model_sha,
                  options=options, created=now(), attempts=0, idempotency_key=idempotency_key,
                  request_sha=digest if idempotency_key else None,
                  kind="compare" if members is not None else None, members=members)
        try:
            with self._session.begin() as s:
                s.add(job)
            return _record(job), True
        except IntegrityError:
            if idempotency_key is None:
                raise
        with self._session() as s:
            found = s.scalars(select(Job).where(Job.idempotency_key == idempotency_key)).one()
            if found.request_sha != digest:
                raise KeyConflict(_record(found))
            return _record(found), False

    def get(self, job_id: str, *, report: bool = True) -> JobRecord | None:
        """One job by id: a plain SELECT, no ORM session (status reads are the hot path). With
        `report=False` the report (the largest column) is left unread: `report` is None."""
        with self.engine.connect() as conn:
            row = conn.execute(_GET[report], {"id": job_id}).first()
        return None if row is None else JobRecord(*row)

    def page(self, *, limit: int, offset: int,
             report: bool = True) -> tuple[list[JobRecord], int]:
        """Jobs newest first (without their reports unless `report`), and how many in all."""
        columns = _COLUMNS if report else _LIGHT
        with self.engine.connect() as conn:
            total = conn.scalar(select(func.count()).select_from(Job)) or 0
            rows = conn.execute(select(*columns).order_by(Job.created.desc(), Job.id.desc())
                                .limit(limit).offset(offset)).all()
        return [JobRecord(*row) for row in rows], total

    def claim_next(self, owner: str) -> JobRecord | None:
        """Mark the oldest waiting job running for `owner`, count an attempt and return it (None
        when nothing waits). One UPDATE: on PostgreSQL its subquery skips rows another server is
        claiming (`FOR UPDATE SKIP LOCKED`); SQLite runs it under its database write lock."""
        t = now()
        pick = (select(Job.id).where(Job.status.in_(WAITING), Job.cancel_requested.is_(None))
                .order_by(Job.created, Job.id).limit(1)
                .with_for_update(skip_locked=True).scalar_subquery())
        with self._session.begin() as s:
            job_id = s.scalar(update(Job).where(Job.id == pick, Job.status.in_(WAITING))
                              # `t` may precede the commit of a job created meanwhile
                              .values(status=RUNNING, owner=owner, heartbeat=t,
                                      started=case((Job.created > t, Job.created), else_=t),
                                      finished=None, progress=None, attempts=Job.attempts + 1)
                              .returning(Job.id))
            return None if job_id is None else _record(s.get(Job, job_id, populate_existing=True))

    def request_cancel(self, job_id: str) -> JobRecord | None:
        """Record a cancel, durably, before anyone answers: a waiting job is cancelled at once, a
        running one keeps the request until its search stops (or its server's successor sees
        it). None when there is no such job; an ended job is returned unchanged."""
        t = now()
        with self._session.begin() as s:
            s.execute(update(Job).where(Job.id == job_id, Job.status.in_(WAITING))
                      .values(status=CANCELLED, finished=t, stop_reason="cancelled",
                              cancel_requested=t))
            s.execute(update(Job).where(Job.id == job_id, Job.status == RUNNING,
                                        Job.cancel_requested.is_(None))
                      .values(cancel_requested=t))
        return self.get(job_id, report=False)

    def cancels(self, owner: str) -> list[tuple[str, int]]:
        """(id, attempt) of `owner`'s running jobs whose cancel was requested."""
        with self._session() as s:
            return [(i, a) for i, a in s.execute(
                select(Job.id, Job.attempts).where(Job.owner == owner, Job.status == RUNNING,
                                                   Job.cancel_requested.is_not(None)))]

    def heartbeat(self, owner: str) -> None:
        """`owner` is alive: its running jobs are not to be taken over."""
        with self._session.begin() as s:
            s.execute(update(Job).where(Job.owner == owner, Job.status == RUNNING)
                      .values(heartbeat=now()))

    def set_progress(self, job_id: str, attempt: int, progress: dict[str, Any]) -> None:
        with self._session.begin() as s:
            s.execute(update(Job).where(Job.id == job_id, Job.attempts == attempt,
                                        Job.status == RUNNING).values(progress=progress))

    def finish(self, job_id: str, attempt: int, status: str, *,
               report: dict[str, Any] | None = None, error: str | None = None,
               stop_reason: str | None = None) -> bool:
        """End attempt `attempt` of a running job; False (nothing written) if it is not current."""
        with self._session.begin() as s:
            done = s.execute(update(Job).where(Job.id == job_id, Job.attempts == attempt,
                                               Job.status == RUNNING)
                             .values(status=status, finished=now() if status in ENDED else None,
                                     report=report, error=error, stop_reason=stop_reason,
                                     result_status=(report or {}).get("status")
                                     or (report or {}).get("outcome")))
            return done.rowcount == 1

    def requeue(self, *, reason: str, max_attempts: int, owner: str | None = None,
                stale_before: dt.datetime | None = None,
                attempt: tuple[str, int] | None = None, refund: bool = False,
                other_than: str | None = None) -> list[tuple[str, str]]:
        """Put running jobs whose search stopped without an end back in the queue: those of
        `owner`, those whose heartbeat is older than `stale_before`, or one `(id, attempt)`.

        A job whose cancel was requested becomes `cancelled`; one started `max_attempts` times
        becomes `failed` with `reason` in its error; the rest `interrupted` (waiting again).
        With `refund` (a clean shutdown, not the job's doing) the attempt is not counted and
        the cap does not apply. Jobs of `other_than` are left alone (a server never takes its
        own jobs for a dead server's). Returns (id, new status) pairs.
        """
        where = [Job.status == RUNNING]
        if owner is not None:
            where.append(Job.owner == owner)
        if stale_before is not None:
            where.append(Job.heartbeat < stale_before)
        if attempt is not None:
            where += [Job.id == attempt[0], Job.attempts == attempt[1]]
        if other_than is not None:
            where.append(Job.owner != other_than)
        if len(where) == 1:
            raise ValueError("requeue: name an owner, a heartbeat cut-off or an attempt")
        capped = (f"{reason}; not run again: the job was started {max_attempts} times without "
                  f"finishing (the service's attempt cap)")
        t = now()
        cap = Job.attempts >= max_attempts
        if refund:
            cap = literal(False)
        status = case((Job.cancel_requested.is_not(None), CANCELLED), (cap, FAILED),
                      else_=INTERRUPTED)
        with self._session.begin() as s:
            return [(i, st) for i, st in s.execute(
                update(Job).where(*where).values(
                    status=status,
                    finished=case((status == INTERRUPTED, None), else_=t),
                    stop_reason=case((Job.cancel_requested.is_not(None), "cancelled"), else_=None),
                    error=case((Job.cancel_requested.is_(None) & cap, literal(capped)),
                               else_=None),
                    attempts=case((status == INTERRUPTED, Job.attempts - int(refund)),
                                  else_=Job.attempts))
                .returning(Job.id, Job.status), execution_options={"synchronize_session": False})]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _add_missing_columns(engine: Any) -> None:
    """A database made by an older server gets the columns added since, all nullable."""
    have = {c["name"] for c in inspect(engine).get_columns("jobs")}
    missing = [c for c in Job.__table__.columns if c.name not in have]
    if not missing:
        return
    with engine.begin() as conn:
        for column in missing:
            kind = column.type.compile(dialect=engine.dialect)
            conn.execute(text(f"ALTER TABLE jobs ADD COLUMN {column.name} {kind}"))
        for index in Job.__table__.indexes:
            index.create(conn, checkfirst=True)
