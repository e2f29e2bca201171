"""The job API: `create_app(settings) -> FastAPI` (see docs/service.md for every endpoint).

Uploads are checked before a job is accepted: the spec must load (JSON or TOML) and name a built-in
DSL (user DSLs are Python and never loaded over the API), the model must be ONNX no larger than
`settings.max_model_bytes` and must fit the spec (`oracle.load` runs a probe batch). Mistakes answer
4xx with FastAPI's field-level shape, `{"detail": [{"loc": ["body", "spec"], "msg": ..., "type":
...}]}`. With `settings.token` set, every endpoint but /healthz wants `Authorization: Bearer <token>`;
a browser signs in once at /ui/login, after which an HttpOnly, SameSite=Strict cookie stands in
for the header on reads (GET), never on writes.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import tomllib
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, AsyncIterator

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import (
    HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, StreamingResponse,
)
from pydantic import BaseModel

from dsl.errors import DSLError, NetsynthError
from netsynth.service import ui
from netsynth.service.limits import BodyLimit, TooLarge, read_capped
from netsynth.service.runner import Runner
from netsynth.service.settings import Settings
from netsynth.service.store import JobRecord, Store

CHUNK = 1 << 16


# ---- response shapes (they document the API in its OpenAPI schema) ------------------------------

class ProgressOut(BaseModel):
    level: int | None = None
    candidates: int | None = None
    distinct: int | None = None
    best_agreement: float | None = None
    elapsed: float | None = None
    round: int | None = None
    sample: int | None = None
    phase: str | None = None


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
    options: dict[str, Any]
    result_status: str | None  # the report's status (solved, partial, unsolved) once there is one


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


def job_out(job: JobRecord) -> dict[str, Any]:
    def stamp(t: Any) -> str | None:
        return None if t is None else t.isoformat(timespec="milliseconds") + "Z"
    return {"id": job.id, "status": job.status, "spec_name": job.spec.get("name"),
            "created": stamp(job.created), "started": stamp(job.started),
            "finished": stamp(job.finished), "progress": job.progress,
            "stop_reason": job.stop_reason, "error": job.error, "attempts": job.attempts,
            "options": job.options, "result_status": (job.report or {}).get("status")}


def field_error(status: int, field: str, msg: str, kind: str) -> HTTPException:
    return HTTPException(status, detail=[{"loc": ["body", field], "msg": msg, "type": kind}])


# ---- checking uploads ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Checked:
    spec: Any        # oracle.spec.Spec
    spec_dict: dict[str, Any]
    oracle: Any      # oracle.core.Oracle
    model: bytes


def read_upload(upload: UploadFile, field: str, cap: int) -> bytes:
    try:
        return read_capped(upload.file, cap, chunk=CHUNK)
    except TooLarge:
        raise field_error(413, field, f"{field}: larger than the limit of {cap} bytes",
                          "value_error.too_large") from None


def parse_spec(data: bytes, filename: str | None) -> tuple[Any, dict[str, Any]]:
    """The validated Spec and its normalised dict, or a 422 naming what is wrong."""
    from dsl.language import BUILTINS, get_dsl
    from oracle.spec import load_spec

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise field_error(422, "spec", "spec: expected UTF-8 text (JSON or TOML)", "spec_error") from None
    as_toml = (filename or "").lower().endswith(".toml") or not text.lstrip().startswith("{")
    try:
        raw = tomllib.loads(text) if as_toml else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        kind = "TOML" if as_toml else "JSON"
        raise field_error(422, "spec", f"spec: invalid {kind} ({e})", "spec_error") from None
    if not isinstance(raw, dict):
        raise field_error(422, "spec", f"spec: expected an object, got {type(raw).__name__}",
                          "spec_error")
    raw.pop("model", None)  # the model is the uploaded file, never a path on the server
    dsl_name = raw.get("dsl", "int")
    if dsl_name not in BUILTINS:
        raise field_error(422, "spec", f"dsl: expected a built-in DSL {sorted(BUILTINS)}, got "
                          f"{dsl_name!r} (user DSLs cannot be loaded over the API)", "spec_error")
    try:
        spec = load_spec(raw)
        if spec.reference is not None:
            get_dsl(spec.dsl).parse(spec.reference, spec.variables())
    except NetsynthError as e:
        raise field_error(422, "spec", str(e), "spec_error") from None
    except (TypeError, ValueError, OverflowError) as e:  # odd values the validators did not foresee
        raise field_error(422, "spec", f"spec: {e}", "spec_error") from None
    return spec, spec.to_dict()


def check_uploads(settings: Settings, spec_file: UploadFile, model_file: UploadFile) -> Checked:
    spec_bytes = read_upload(spec_file, "spec", settings.max_spec_bytes)
    spec, spec_dict = parse_spec(spec_bytes, spec_file.filename)
    model = read_upload(model_file, "model", settings.max_model_bytes)
    import oracle

    try:
        loaded = oracle.load(spec, model=model, max_bytes=settings.max_model_bytes)
    except NetsynthError as e:
        raise field_error(422, "model", str(e), "model_error") from None
    return Checked(spec, spec_dict, loaded, model)


# ---- the app ------------------------------------------------------------------------------------

def create_app(settings: Settings) -> FastAPI:
    """The API over a store in `settings.data_dir`; the runner starts with the app's lifespan."""
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.db_url, settings.data_dir)
        runner = Runner(store, settings)
        runner.start()
        state.update(store=store, runner=runner, pictures=ui.PictureCache())
        try:
            yield
        finally:
            await run_in_threadpool(runner.stop)
            store.close()

    def store() -> Store:
        return state["store"]

    def token_is(value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.strip().encode(),
                                                         settings.token.encode())

    def require_token(request: Request) -> None:
        if settings.token is None:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token_is(value):
            return
        if request.method in ("GET", "HEAD") and token_is(request.cookies.get(ui.COOKIE)):
            return                      # a signed-in browser reads; writes need the header
        if request.url.path.startswith("/ui/"):    # a page: send the browser to sign in
            raise HTTPException(303, headers={"Location": "/ui/login"})
        raise HTTPException(401, detail="missing or wrong bearer token",
                            headers={"WWW-Authenticate": "Bearer"})

    app = FastAPI(title="netsynth job API", version="1", lifespan=lifespan,
                  description="Submit a spec and an ONNX network; get back a small verified "
                              "program. See docs/service.md.")
    app.add_middleware(BodyLimit, limit=settings.max_model_bytes + settings.max_spec_bytes + 2**20)
    auth = [Depends(require_token)]

    def get_job(job_id: str) -> JobRecord:
        job = store().get(job_id)
        if job is None:
            raise HTTPException(404, detail=f"no job {job_id!r}")
        return job

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "running": len(state["runner"].running())}

    @app.post("/jobs", status_code=202, response_model=Accepted, dependencies=auth, tags=["jobs"],
              responses={413: {"description": "an upload is larger than the limit"},
                         422: {"description": "a bad spec, model or option, by field"}})
    def submit(request: Request,
               spec: Annotated[UploadFile, File(description="the spec, JSON or TOML")],
               model: Annotated[UploadFile, File(description="the network, ONNX")],
               timeout: Annotated[float | None, Form(gt=0, description="seconds")] = None,
               max_size: Annotated[int | None, Form(ge=1, le=64)] = None,
               min_agreement: Annotated[float | None, Form(gt=0, le=1)] = None,
               workers: Annotated[int | None, Form(ge=1)] = None) -> JSONResponse:
        """Accept a synthesis job after checking the spec and the model; answers its id."""
        if timeout is not None and timeout > settings.max_timeout:
            raise field_error(422, "timeout", f"timeout: at most {settings.max_timeout} s, got "
                              f"{timeout}", "value_error")
        if workers is not None and workers > settings.max_workers:
            raise field_error(422, "workers", f"workers: at most {settings.max_workers}, got "
                              f"{workers}", "value_error")
        if workers is not None and workers > 1 and not settings.uses_ray:
            raise field_error(422, "workers", f"workers: this server runs searches in-process "
                              f"(started with --workers 1), got {workers}", "value_error")
        checked = check_uploads(settings, spec, model)
        options = {"timeout": timeout if timeout is not None else settings.default_timeout,
                   "max_size": max_size, "min_agreement": min_agreement,
                   "workers": workers or settings.workers}
        sha = store().put_model(checked.model)
        job = store().create(spec=checked.spec_dict, model_sha=sha,
                             options={k: v for k, v in options.items() if v is not None})
        state["runner"].wake()
        location = f"/jobs/{job.id}"
        return JSONResponse({"id": job.id, "status": job.status, "location": location},
                            status_code=202, headers={"Location": location})

    @app.get("/jobs", response_model=JobPage, dependencies=auth, tags=["jobs"],
             responses={200: {"content": {"text/html": {}}}})
    def list_jobs(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=2**62)] = 0) -> Any:
        """Jobs, newest first (an HTML page when the client prefers text/html)."""
        jobs, total = store().page(limit=limit, offset=offset)
        if ui.wants_html(request):
            return HTMLResponse(ui.job_list_page(jobs, total=total, limit=limit, offset=offset))
        return {"jobs": [job_out(j) for j in jobs], "total": total, "limit": limit,
                "offset": offset}

    @app.get("/jobs/{job_id}", response_model=JobOut, dependencies=auth, tags=["jobs"],
             responses={404: {"description": "no such job"}, 200: {"content": {"text/html": {}}}})
    def job_status(request: Request, job_id: str) -> Any:
        """A job's status, timestamps, progress, stop reason and error (HTML page if preferred)."""
        job = get_job(job_id)
        if ui.wants_html(request):
            return HTMLResponse(job_page(job))
        return job_out(job)

    @app.get("/jobs/{job_id}/events", dependencies=auth, tags=["jobs"],
             response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}},
                        404: {"description": "no such job"}})
    async def job_events(job_id: str) -> StreamingResponse:
        """Server-sent events: `progress` whenever the job changes, then one `end` event."""
        await run_in_threadpool(get_job, job_id)

        async def stream() -> AsyncIterator[str]:
            last = None
            while True:
                job = await run_in_threadpool(store().get, job_id)
                data = json.dumps(job_out(job))
                if job.ended:
                    yield f"event: end\ndata: {data}\n\n"
                    return
                if data != last:
                    yield f"event: progress\ndata: {data}\n\n"
                    last = data
                await asyncio.sleep(settings.event_interval)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @app.get("/jobs/{job_id}/result", dependencies=auth, tags=["jobs"],
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

    @app.get("/jobs/{job_id}/program.py", dependencies=auth, tags=["jobs"],
             response_class=PlainTextResponse,
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

    @app.post("/jobs/{job_id}/cancel", status_code=202, response_model=JobOut,
              dependencies=auth, tags=["jobs"],
              responses={404: {"description": "no such job"},
                         409: {"description": "the job has already ended"}})
    def cancel(job_id: str) -> dict[str, Any]:
        """Stop a job: a waiting one is cancelled at once, a running one within seconds."""
        job = get_job(job_id)
        if job.ended or not state["runner"].cancel(job_id):
            job = get_job(job_id)
            if job.ended:
                raise HTTPException(409, detail=f"job {job_id} has already ended ({job.status})")
        return job_out(get_job(job_id))

    @app.post("/verify", dependencies=auth, tags=["verify"],
              responses={413: {"description": "an upload is larger than the limit"},
                         422: {"description": "a bad spec, model or program, by field"}})
    def verify(spec: Annotated[UploadFile, File(description="the spec, JSON or TOML")],
               model: Annotated[UploadFile, File(description="the network, ONNX")],
               program: Annotated[str, Form(description="a program in the spec's DSL")],
               reference: Annotated[str | None, Form()] = None,
               min_agreement: Annotated[float, Form(gt=0, le=1)] = 1.0) -> dict[str, Any]:
        """Judge a program against the network: `verifier.check(...).to_dict()`."""
        import verifier
        from dsl.language import get_dsl
        from netsynth.service.runner import _jsonable

        checked = check_uploads(settings, spec, model)
        dsl = get_dsl(checked.spec.dsl)
        variables = checked.spec.variables()
        parsed = {}
        for field, text in (("program", program), ("reference", reference)):
            if text:
                try:
                    parsed[field] = dsl.parse(text, variables)
                except DSLError as e:
                    raise field_error(422, field, str(e), "dsl_error") from None
        try:
            result = verifier.check(parsed["program"], checked.oracle,
                                    reference=parsed.get("reference"), min_agreement=min_agreement)
        except NetsynthError as e:
            raise field_error(422, "program", str(e), type(e).__name__) from None
        return _jsonable(result.to_dict())

    # ---- pages ----------------------------------------------------------------------------------

    def job_page(job: JobRecord) -> str:
        picture = None
        program = (job.report or {}).get("program")
        if program:
            picture = state["pictures"].get(job, store())
        return ui.job_page(job, job_out(job), picture=picture)

    @app.get("/ui/login", response_class=HTMLResponse, include_in_schema=False)
    def ui_login_form() -> HTMLResponse:
        return HTMLResponse(ui.login_page(wanted=settings.token is not None))

    @app.post("/ui/login", include_in_schema=False)
    def ui_login(token: Annotated[str, Form()]) -> Any:
        """Trade the token for a cookie the pages (and their live updates) send by themselves."""
        if settings.token is None:
            return RedirectResponse("/ui/jobs", status_code=303)
        if not token_is(token):
            return HTMLResponse(ui.login_page(wanted=True, wrong=True), status_code=401)
        done = RedirectResponse("/ui/jobs", status_code=303)
        done.set_cookie(ui.COOKIE, token.strip(), httponly=True, samesite="strict", path="/")
        return done

    @app.get("/ui/jobs", response_class=HTMLResponse, dependencies=auth, include_in_schema=False)
    def ui_jobs(limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
        jobs, total = store().page(limit=limit, offset=offset)
        return HTMLResponse(ui.job_list_page(jobs, total=total, limit=limit, offset=offset))

    @app.get("/ui/jobs/{job_id}", response_class=HTMLResponse, dependencies=auth,
             include_in_schema=False)
    def ui_job(job_id: str) -> HTMLResponse:
        return HTMLResponse(job_page(get_job(job_id)))

    return app
