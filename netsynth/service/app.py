"""The job API: `create_app(settings) -> FastAPI` (see docs/service.md for every endpoint).

The app is the HTTP side only: `routes` (jobs, verify), `pages` (results pages, sign-in, docs),
`uploads` (what a client sends, checked before a job exists), `security` (the token, the Origin
of writes), `limits` (body sizes). Searches run in separate processes (`runner`, `worker`) that
the app starts with its lifespan and reaches only through the database, and POST /verify's work
runs in a process of its own (`verifying`), so the API's event loop and threads never do search
or verification work.

Every error is 4xx with FastAPI's field-level shape, `{"detail": [{"loc": [...], "msg": ...,
"type": ...}]}`, and never echoes a client's input back whole.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from netsynth.service import ui
from netsynth.service.limits import BodyLimit
from netsynth.service.pages import page_routes
from netsynth.service.routes import job_routes
from netsynth.service.runner import Runner
from netsynth.service.schemas import Health, job_out
from netsynth.service.security import SameOrigin, TokenCheck
from netsynth.service.settings import Settings
from netsynth.service.store import JobRecord, Store
from netsynth.service.uploads import clip
from netsynth.service.verifying import Verifier

THREADS = 100        # request handlers running at once (anyio's default is 40)


@dataclass
class Service:
    """What the endpoints share while the app runs."""

    settings: Settings
    store: Store
    runner: Runner
    pictures: ui.PictureCache
    verifier: Verifier

    def job_page(self, job: JobRecord) -> str:
        picture = None
        if (job.report or {}).get("program"):
            picture = self.pictures.get(job, self.store)
        return ui.job_page(job, job_out(job), picture=picture)


def create_app(settings: Settings, *, node: str | None = None) -> FastAPI:
    """The API over the store of `settings`; the runner (as server `node`, see
    `runner.claim_node`; default: a fresh name) starts and stops with the app."""
    holder: dict[str, Service] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        store = await run_in_threadpool(Store, settings.db_url, settings.data_dir)
        runner = Runner(store, settings, node=node or uuid.uuid4().hex)
        await run_in_threadpool(runner.start)
        verifier = Verifier(settings)
        holder["service"] = Service(settings, store, runner, ui.PictureCache(), verifier)
        try:
            yield
        finally:
            verifier.close()
            await run_in_threadpool(runner.stop)
            store.close()

    def service() -> Service:
        return holder["service"]

    tokens = TokenCheck(settings)
    auth = [Depends(tokens)]
    app = FastAPI(title="netsynth job API", version="1", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None,
                  description="Submit a spec and an ONNX network; get back a small verified "
                              "program. See docs/service.md.")
    app.add_middleware(BodyLimit, limit=settings.max_model_bytes + settings.max_spec_bytes + 2**20)
    app.add_middleware(SameOrigin, allowed=settings.allowed_origins)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 without the `input` it would echo (a whole upload, at times)."""
        detail = [{"loc": list(e.get("loc", ())), "msg": clip(str(e.get("msg", ""))),
                   "type": e.get("type", "value_error")} for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "running": len(service().runner.running())}

    app.include_router(job_routes(settings, service, auth))
    app.include_router(page_routes(app, service, auth, tokens))
    _document_auth(app, settings)
    return app


def _document_auth(app: FastAPI, settings: Settings) -> None:
    """With a token, the schema says so: a bearer scheme on every operation but /healthz (the
    docs page's Authorize button then sends the header)."""
    if settings.token is None:
        return
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = plain()
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}}
        for path, operations in schema.get("paths", {}).items():
            if path != "/healthz":
                for operation in operations.values():
                    operation["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
