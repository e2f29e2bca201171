"""The API's answers as pydantic models (they document the API in its OpenAPI schema), and
`job_out(record) -> dict`, the one JSON form of a job."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from netsynth.service.store import JobRecord


class ProgressOut(BaseModel):
    level: int | None = None
    candidates: int | None = None
    distinct: int | None = None
    best_agreement: float | None = None
    elapsed: float | None = None
    round: int | None = None
    sample: int | None = None
    phase: str | None = None
    best: str | None = None          # the program of best_agreement so far, as DSL text


class JobOut(BaseModel):
    id: str
    status: str  # queued, running, succeeded, failed, cancelled, interrupted
    spec_name: str | None
    created: str
    started: str | None
    finished: str | None
    progress: ProgressOut | None
    stop_reason: str | None
    error: str | None
    attempts: int
    cancel_requested: bool  # a cancel was recorded; a running job stops within seconds
    options: dict[str, Any]
    result_status: str | None  # the report's status (solved, approximate, nothing found; for a
    #                            comparison its outcome) once there is one
    kind: str = "extract"      # "extract" (POST /jobs) or "compare" (POST /compare)
    networks: int = 1          # the networks the job holds


class JobPage(BaseModel):
    jobs: list[JobOut]
    total: int
    limit: int
    offset: int


class Accepted(BaseModel):
    id: str
    status: str
    location: str


class Health(BaseModel):
    status: str
    running: int


def stamp(t: Any) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with a trailing Z."""
    return None if t is None else t.isoformat(timespec="milliseconds") + "Z"


def job_out(job: JobRecord) -> dict[str, Any]:
    return {"id": job.id, "status": job.status, "spec_name": job.spec.get("name"),
            "created": stamp(job.created), "started": stamp(job.started),
            "finished": stamp(job.finished), "progress": job.progress,
            "stop_reason": job.stop_reason, "error": job.error, "attempts": job.attempts,
            "cancel_requested": job.cancel_requested is not None, "options": job.options,
            "result_status": job.result_status or _result_status(job.report),
            "kind": "compare" if job.compare else "extract",
            "networks": len(job.members) if job.members else 1}


def _result_status(report: dict[str, Any] | None) -> str | None:
    """A report's status; a comparison's outcome ("one program", "several groups", ...)."""
    report = report or {}
    return report.get("status") or report.get("outcome")


def jsonable(value: Any) -> Any:
    """Plain JSON values (enums by value, numpy scalars as Python numbers, the rest as text)."""
    import enum

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)
