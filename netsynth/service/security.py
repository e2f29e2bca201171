"""Who may do what: the bearer token, and the browser's Origin on writes.

- `TokenCheck(settings)` is the dependency of every endpoint but /healthz. With `settings.token`
  set it wants `Authorization: Bearer <token>`; a browser signed in at /ui/login sends an HttpOnly
  SameSite=Strict cookie instead, which counts on reads (GET, HEAD) and on writes that carry this
  server's own `Origin` (its pages' forms and scripts), never on a write without an Origin. A page
  (/ui/, /docs, /redoc) sends a browser without either to the sign-in form; anything else
  answers 401.
- `SameOrigin` is an ASGI middleware: a state-changing request (any method but GET, HEAD,
  OPTIONS) that carries an `Origin` header naming another site is answered 403, token or not.
  A web page on another site can make a browser send a form to this server (the form needs no
  CORS permission), and without a token nothing else would stop it. Clients that are not
  browsers send no Origin and are not affected; `settings.allowed_origins` lists other sites
  (a proxy's public name, say) whose pages may write.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from netsynth.service import ui
from netsynth.service.settings import Settings

PAGES = ("/ui/", "/docs", "/redoc")
SAFE = ("GET", "HEAD", "OPTIONS")


class TokenCheck:
    def __init__(self, settings: Settings) -> None:
        self.token = settings.token

    def matches(self, value: str | None) -> bool:
        return (self.token is not None and value is not None
                and hmac.compare_digest(value.strip().encode(), self.token.encode()))

    async def __call__(self, request: Request) -> None:     # async: no thread for a compare
        if self.token is None:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.matches(value):
            return
        if self.matches(request.cookies.get(ui.COOKIE)) and (
                request.method in ("GET", "HEAD") or "origin" in request.headers):
            # A signed-in browser: reads, and writes from this server's own pages (a write
            # naming another site's Origin never gets here: SameOrigin answered 403).
            return
        if request.url.path.startswith(PAGES):    # a page: send the browser to sign in
            raise HTTPException(303, headers={"Location": "/ui/login"})
        raise HTTPException(401, detail="missing or wrong bearer token",
                            headers={"WWW-Authenticate": "Bearer"})


class SameOrigin:
    def __init__(self, app: Callable[..., Awaitable[None]], *, allowed: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = {a.rstrip("/").lower() for a in allowed}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE:
            headers = dict(scope.get("headers") or [])
            origin = headers.get(b"origin")
            if origin is not None and not self._same(origin.decode("latin-1"),
                                                     headers.get(b"host", b"").decode("latin-1")):
                await _refuse(send, origin.decode("latin-1"))
                return
        await self.app(scope, receive, send)

    def _same(self, origin: str, host: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin in self.allowed:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host.lower()


async def _refuse(send: Any, origin: str) -> None:
    body = json.dumps({"detail": f"cross-origin request refused: Origin {origin[:100]!r} is not "
                                 "this server (see --allow-origin)"}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
