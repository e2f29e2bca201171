"""Pages for browsers: the results pages (HTML from `ui`), signing in, and the API's docs.

The interactive docs (/docs, Swagger UI) and /redoc load their scripts from this server, out of
the `fastapi-offline` package, so they work without a network; they and /openapi.json need the
token like every endpoint but /healthz (a signed-in browser's cookie counts on reads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable

from fastapi import APIRouter, FastAPI, Form, HTTPException, Query
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

from netsynth.service import ui
from netsynth.service.security import TokenCheck

ASSETS = {"swagger-ui-bundle.js": "application/javascript", "swagger-ui.css": "text/css",
          "redoc.standalone.js": "application/javascript", "favicon.png": "image/png"}


def assets_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the fastapi-offline package (the docs pages' scripts) is missing")
    return Path(list(spec.submodule_search_locations)[0]) / "static"


def page_routes(app: FastAPI, service: Callable[[], Any], auth: list[Any],
                tokens: TokenCheck) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    static = assets_dir()

    @router.get("/openapi.json", dependencies=auth)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @router.get("/docs", dependencies=auth)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title}: docs",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon.png")

    @router.get("/redoc", dependencies=auth)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title}: reference",
                              redoc_js_url="/docs/assets/redoc.standalone.js",
                              redoc_favicon_url="/docs/assets/favicon.png",
                              with_google_fonts=False)

    @router.get("/docs/assets/{name}", dependencies=auth)
    def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(404, detail=f"no asset {name[:64]!r}")
        return FileResponse(static / name, media_type=ASSETS[name],
                            headers={"Cache-Control": "max-age=86400"})

    @router.get("/")
    def home() -> RedirectResponse:
        """The front door: the job list (which sends a browser without the token to sign in)."""
        return RedirectResponse("/ui/jobs", status_code=307)

    @router.get("/ui/login", response_class=HTMLResponse)
    def ui_login_form() -> HTMLResponse:
        return HTMLResponse(ui.login_page(wanted=tokens.token is not None))

    @router.post("/ui/login")
    def ui_login(token: Annotated[str, Form(max_length=1000)]) -> Any:
        """Trade the token for a cookie the pages (and their live updates) send by themselves."""
        if tokens.token is None:
            return RedirectResponse("/ui/jobs", status_code=303)
        if not tokens.matches(token):
            return HTMLResponse(ui.login_page(wanted=True, wrong=True), status_code=401)
        done = RedirectResponse("/ui/jobs", status_code=303)
        done.set_cookie(ui.COOKIE, token.strip(), httponly=True, samesite="strict", path="/")
        return done

    @router.get("/ui/jobs", response_class=HTMLResponse, dependencies=auth)
    def ui_jobs(limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Annotated[int, Query(ge=0, le=2**62)] = 0) -> HTMLResponse:
        jobs, total = service().store.page(limit=limit, offset=offset)
        return HTMLResponse(ui.job_list_page(jobs, total=total, limit=limit, offset=offset))

    @router.get("/ui/jobs/{job_id}", response_class=HTMLResponse, dependencies=auth)
    def ui_job(job_id: str) -> HTMLResponse:
        job = service().store.get(job_id)
        if job is None:
            raise HTTPException(404, detail=f"no job {job_id[:64]!r}")
        return HTMLResponse(service().job_page(job))

    return router
