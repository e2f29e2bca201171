"""Upload size limits: refuse a too-large request before reading it, and read files in chunks.

`BodyLimit` is a plain ASGI middleware: a request whose Content-Length is above `limit` is answered
413 at once, without reading its body; a body sent without a length is counted as it streams and
cut off with 413 as soon as it passes the limit. `read_capped` reads an upload chunk by chunk and
raises `TooLarge` one byte past the cap instead of reading the whole file.
"""

from __future__ import annotations

import json
from typing import IO, Any, Awaitable, Callable

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class TooLarge(Exception):
    pass


def read_capped(file: IO[bytes], cap: int, *, chunk: int = 1 << 16) -> bytes:
    parts, size = [], 0
    while True:
        block = file.read(min(chunk, cap + 1 - size))
        if not block:
            return b"".join(parts)
        size += len(block)
        if size > cap:
            raise TooLarge(size)
        parts.append(block)


class BodyLimit:
    def __init__(self, app: Callable[..., Awaitable[None]], *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(send, int(length))
            return
        seen = 0
        over = False      # the body passed the limit: whatever the app answers becomes a 413
        answered = False  # a response has started going out

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise TooLarge(seen)
            return message

        async def tracked(message: Message) -> None:
            nonlocal answered
            if over:  # the app turned the cut-off into its own error (e.g. a 400): replace it
                if not answered:
                    answered = True
                    await self._refuse(send, seen)
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except TooLarge:
            if not answered:
                answered = True
                await self._refuse(send, seen)

    async def _refuse(self, send: Send, size: int) -> None:
        body = json.dumps({"detail": [{
            "loc": ["body"], "type": "value_error.too_large",
            "msg": f"request body of {size} bytes or more is above the limit of {self.limit} bytes"}]
        }).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
