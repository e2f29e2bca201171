"""The job and verify endpoints (see docs/service.md for each): `job_routes(service, auth)`.

Handlers do no search work: a submission is checked and stored, the runner's search processes
take it from the database, and status reads are one primary-key read each.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any, AsyncIterator, Callable

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse

from netsynth.service import ui
from netsynth.service.schemas import Accepted, JobOut, JobPage, job_out
from netsynth.service.settings import Settings
from netsynth.service.store import JobRecord, KeyConflict
from netsynth.service.uploads import (
    MAX_COMPARED, check_compare, check_uploads, job_options, option_fields, parse_option,
    read_form, read_upload,
)

SPEC_FILE = {"type": "string", "format": "binary", "description": "the spec, JSON or TOML"}
MODEL_FILE = {"type": "string", "format": "binary", "description": "the network, ONNX"}
SPEC_FILES = {"type": "array", "items": SPEC_FILE, "minItems": 1, "maxItems": MAX_COMPARED,
              "description": "one spec for every model, or one per model in order"}
MODEL_FILES = {"type": "array", "items": MODEL_FILE, "minItems": 2, "maxItems": MAX_COMPARED,
               "description": "the networks to compare, ONNX"}
KEY_DOC = ("a client's name for this submission (1-255 characters): sent again, it answers the "
           "job it made instead of making another")


def form_body(fields: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": fields, "required": required,
        "additionalProperties": False}}}}}


def job_routes(settings: Settings, service: Callable[[], Any], auth: list[Any]) -> APIRouter:
    """The endpoints under /jobs and /verify; `service()` gives the running Service."""
    router = APIRouter(dependencies=auth)

    def get_job(job_id: str, *, report: bool = True) -> JobRecord:
        job = service().store.get(job_id, report=report)
        if job is None:
            raise HTTPException(404, detail=f"no job {job_id[:64]!r}")
        return job

    options = option_fields(settings)

    @router.post("/jobs", status_code=202, response_model=Accepted, tags=["jobs"],
                 openapi_extra=form_body({"spec": SPEC_FILE, "model": MODEL_FILE, **options},
                                         ["spec", "model"]),
                 responses={200: {"model": Accepted,
                                  "description": "the job this Idempotency-Key already made"},
                            409: {"description": "the Idempotency-Key names another request"},
                            413: {"description": "an upload is larger than the limit"},
                            422: {"description": "a bad, unknown or repeated field, by name"}})
    async def submit(request: Request,
                     idempotency_key: Annotated[str | None, Header(
                         alias="Idempotency-Key", min_length=1, max_length=255,
                         description=KEY_DOC)] = None) -> JSONResponse:
        """Accept a synthesis job after checking the spec, the model and the options; answers
        its id. The form fields besides `spec` and `model` are the search options of
        `synth.options` that a client may set."""
        svc = service()
        files, texts = await read_form(request, files=("spec", "model"), texts=tuple(options),
                                       required=("spec", "model"))
        stored = job_options(texts, svc.settings)
        checked = await run_in_threadpool(check_uploads, svc.settings, files["spec"],
                                          files["model"])

        def store() -> tuple[JobRecord, bool]:
            sha = svc.store.put_model(checked.model)
            return svc.store.create(spec=checked.spec_dict, model_sha=sha, options=stored,
                                    idempotency_key=idempotency_key)
        return await accepted(svc, store)

    @router.post("/compare", status_code=202, response_model=Accepted, tags=["jobs"],
                 openapi_extra=form_body({"spec": SPEC_FILES, "model": MODEL_FILES, **options},
                                         ["spec", "model"]),
                 responses={200: {"model": Accepted,
                                  "description": "the job this Idempotency-Key already made"},
                            409: {"description": "the Idempotency-Key names another request"},
                            413: {"description": "an upload is larger than the limit"},
                            422: {"description": "a bad, unknown or repeated field, by name; "
                                                 "specs that cannot be compared"}})
    async def submit_compare(request: Request,
                             idempotency_key: Annotated[str | None, Header(
                                 alias="Idempotency-Key", min_length=1, max_length=255,
                                 description=KEY_DOC)] = None) -> JSONResponse:
        """Accept a compare job: several networks of one task, each extracted with the same
        options, then grouped by the program they share (`netsynth.compare`). Send the field
        `model` once per network (2 to 8) and `spec` once for them all, or once per model in
        the same order. The job's result is the comparison's JSON (docs/compare.md)."""
        svc = service()
        files, texts = await read_form(request, files=("spec", "model"), texts=tuple(options),
                                       required=("spec", "model"), repeated=MAX_COMPARED)
        stored = job_options(texts, svc.settings)
        checked = await run_in_threadpool(check_compare, svc.settings, files["spec"],
                                          files["model"])

        def store() -> tuple[JobRecord, bool]:
            members = [{"spec": c.spec_dict, "model_sha": svc.store.put_model(c.model)}
                       for c in checked]
            return svc.store.create(spec=members[0]["spec"], model_sha=members[0]["model_sha"],
                                    options=stored, idempotency_key=idempotency_key,
                                    members=members)
        return await accepted(svc, store)

    async def accepted(svc: Any, store: Callable[[], tuple[JobRecord, bool]]) -> JSONResponse:
        """Store the checked job (or find the one its Idempotency-Key made) and answer its id."""
        try:
            job, new = await run_in_threadpool(store)
        except KeyConflict as e:
            raise HTTPException(409, detail=f"Idempotency-Key already names job {e.job.id}, "
                                "made from a different spec, model or options") from None
        if new:
            svc.runner.wake()
        location = f"/jobs/{job.id}"
        return JSONResponse({"id": job.id, "status": job.status, "location": location},
                            status_code=202 if new else 200, headers={"Location": location})

    @router.get("/jobs", response_model=JobPage, tags=["jobs"],
                responses={200: {"content": {"text/html": {}}}})
    def list_jobs(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=2**62)] = 0) -> Any:
        """Jobs, newest first (an HTML page when the client prefers text/html)."""
        html = ui.wants_html(request)
        jobs, total = service().store.page(limit=limit, offset=offset, report=html)
        if html:
            return HTMLResponse(ui.job_list_page(jobs, total=total, limit=limit, offset=offset))
        return {"jobs": [job_out(j) for j in jobs], "total": total, "limit": limit,
                "offset": offset}

    @router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"],
                responses={404: {"description": "no such job"},
                           200: {"content": {"text/html": {}}}})
    async def job_status(request: Request, job_id: str) -> Any:
        """A job's status, timestamps, progress, stop reason and error (HTML page if preferred).
        Async: the JSON read is one indexed SELECT without the report, quicker on the event loop
        than the thread hop a plain function takes (p99 under load: docs/service.md); the page,
        which renders the report, is built in a thread."""
        if ui.wants_html(request):
            return HTMLResponse(await run_in_threadpool(lambda: service().job_page(get_job(job_id))))
        job = get_job(job_id, report=False)
        return JSONResponse(job_out(job))       # the shape is job_out's: no second validation

    @router.get("/jobs/{job_id}/events", tags=["jobs"], response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {}}},
                           404: {"description": "no such job"}})
    async def job_events(job_id: str) -> StreamingResponse:
        """Server-sent events: `progress` whenever the job changes, then one `end` event; a
        comment line (`: heartbeat`) after each `event_heartbeat` seconds of no change."""
        svc = service()
        await run_in_threadpool(get_job, job_id)
        every, quiet = svc.settings.event_interval, svc.settings.event_heartbeat

        async def stream() -> AsyncIterator[str]:
            last, said = None, time.monotonic()
            while True:
                job = await run_in_threadpool(lambda: svc.store.get(job_id, report=False))
                data = json.dumps(job_out(job))
                if job.ended:
                    yield f"event: end\ndata: {data}\n\n"
                    return
                if data != last:
                    yield f"event: progress\ndata: {data}\n\n"
                    last, said = data, time.monotonic()
                elif time.monotonic() - said >= quiet:
                    yield ": heartbeat\n\n"
                    said = time.monotonic()
                await asyncio.sleep(every)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @router.get("/jobs/{job_id}/result", tags=["jobs"],
                responses={404: {"description": "no such job, or it ended without a report"},
                           409: {"description": "the job has not ended"}})
    def job_result(job_id: str) -> dict[str, Any]:
        """The report JSON (the same schema as `netsynth run --json`)."""
        job = get_job(job_id)
        if not job.ended:
            raise HTTPException(409, detail=f"job {job_id} is {job.status}, not finished")
        if job.report is None:
            raise HTTPException(404, detail=f"job {job_id} {job.status} without a report"
                                + (f": {job.error}" if job.error else ""))
        return job.report

    @router.get("/jobs/{job_id}/program.py", tags=["jobs"], response_class=PlainTextResponse,
                responses={200: {"content": {"text/x-python": {}}},
                           404: {"description": "no such job, or no program"},
                           409: {"description": "the job has not ended"}})
    def job_program(job_id: str) -> PlainTextResponse:
        """The program found, as Python source."""
        job = get_job(job_id)
        if not job.ended:
            raise HTTPException(409, detail=f"job {job_id} is {job.status}, not finished")
        python = (job.report or {}).get("python")
        if not python:
            raise HTTPException(404, detail=f"job {job_id} has no program")
        return PlainTextResponse(python, media_type="text/x-python")

    @router.post("/jobs/{job_id}/cancel", status_code=202, response_model=JobOut, tags=["jobs"],
                 responses={404: {"description": "no such job"},
                            409: {"description": "the job has already ended"}})
    def cancel(job_id: str) -> dict[str, Any]:
        """Stop a job: a waiting one is cancelled at once, a running one within seconds. The
        request is in the database before this answers, so a restart cannot lose it."""
        svc = service()
        before = get_job(job_id, report=False)
        if before.ended:
            raise HTTPException(409, detail=f"job {job_id} has already ended ({before.status})")
        job = svc.store.request_cancel(job_id)
        if job.ended and job.status != "cancelled":
            raise HTTPException(409, detail=f"job {job_id} has already ended ({job.status})")
        svc.runner.wake()
        return job_out(job)

    verify_fields = {"spec": SPEC_FILE, "model": MODEL_FILE,
                     "program": {"type": "string", "description": "a program in the spec's DSL"},
                     "reference": {"type": "string",
                                   "description": "a reference program to compare with"},
                     "min_agreement": options["min_agreement"]}

    @router.post("/verify", tags=["verify"],
                 openapi_extra=form_body(verify_fields, ["spec", "model", "program"]),
                 responses={413: {"description": "an upload is larger than the limit"},
                            422: {"description": "a bad spec, model or program, by field"}})
    async def verify(request: Request) -> dict[str, Any]:
        """Judge a program against the network: `verifier.check(...).to_dict()`."""
        svc = service()
        files, texts = await read_form(request, files=("spec", "model"),
                                       texts=("program", "reference", "min_agreement"),
                                       required=("spec", "model", "program"))
        given = texts.get("min_agreement", "").strip()
        agreement = parse_option("min_agreement", given) if given else 1.0
        settings = svc.settings
        spec = await run_in_threadpool(read_upload, files["spec"], "spec", settings.max_spec_bytes)
        model = await run_in_threadpool(read_upload, files["model"], "model",
                                        settings.max_model_bytes)
        return await svc.verifier.check(spec, files["spec"].filename, model, texts, agreement)

    return router

