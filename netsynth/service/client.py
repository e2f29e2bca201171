"""A small HTTP client of the job API (httpx), used by `netsynth submit/status/result/cancel`.

Every failure is an `ApiError` carrying a message fit for a user and the HTTP status (None when
the server could not be reached), so the commands can pick an exit code without tracebacks.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx

STATES_ENDED = ("succeeded", "failed", "cancelled")   # the store's ENDED (the client imports no server code)


class ApiError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, server: str, *, token: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.server = server.rstrip("/")
        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, spec: Path, model: Path, *, tries: int = 3, **options: Any) -> dict[str, Any]:
        """Send a job (POST /jobs)."""
        return self._send("/jobs", [("spec", spec), ("model", model)], options, tries)

    def compare(self, specs: list[Path], models: list[Path], *, tries: int = 3,
                **options: Any) -> dict[str, Any]:
        """Send a compare job (POST /compare): one spec for every model, or one per model."""
        files = [("spec", p) for p in specs] + [("model", p) for p in models]
        return self._send("/compare", files, options, tries)

    def _send(self, path: str, files: list[tuple[str, Path]], options: dict[str, Any],
              tries: int) -> dict[str, Any]:
        """POST the files and options; a submission that may not have arrived (the connection
        failed) is sent again, up to `tries` times, under the same Idempotency-Key, so it makes
        one job."""
        fields = {k: str(v) for k, v in options.items() if v is not None}
        key = uuid.uuid4().hex
        for attempt in range(tries):
            parts = [(name, (p.name, p.read_bytes(), "application/octet-stream"))
                     for name, p in files]
            try:
                return self._json("POST", path, files=parts, data=fields,
                                  headers={"Idempotency-Key": key})
            except ApiError as e:
                if e.status is not None or attempt == tries - 1:
                    raise
            time.sleep(1.0 + attempt)   # a restarting server: give it a moment
        raise ApiError(f"cannot reach {self.server}")

    def status(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/jobs/{job_id}")

    def jobs(self, *, limit: int = 20, offset: int = 0) -> dict[str, Any]:
        return self._json("GET", "/jobs", params={"limit": limit, "offset": offset})

    def result(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/jobs/{job_id}/result")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._json("POST", f"/jobs/{job_id}/cancel")

    def events(self, job_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event, job) pairs from the server-sent event stream, until the `end` event."""
        try:
            with self._http.stream("GET", f"/jobs/{job_id}/events", timeout=None) as r:
                if r.status_code >= 400:
                    r.read()
                    raise ApiError(_message(r), r.status_code)
                event = "message"
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        yield event, json.loads(line[5:])
                        if event == "end":
                            return
        except httpx.HTTPError as e:
            raise ApiError(f"cannot reach {self.server}: {e}") from None

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise ApiError(f"cannot reach {self.server}: {e}") from None
        if r.status_code >= 400:
            raise ApiError(_message(r), r.status_code)
        try:
            return r.json()
        except ValueError:
            raise ApiError(f"{method} {path}: the server answered {r.status_code} with no JSON") from None


def _message(r: httpx.Response) -> str:
    """The server's own words: `detail` as text, or each field error as `field: message`."""
    try:
        detail = r.json().get("detail")
    except (ValueError, AttributeError):
        detail = r.text.strip()[:500]
    if isinstance(detail, list):
        parts = []
        for d in detail:
            if isinstance(d, dict):
                loc = [str(x) for x in d.get("loc", []) if x != "body"]
                msg = str(d.get("msg", d))
                parts.append(msg if not loc or msg.startswith(loc[-1]) else f"{'.'.join(loc)}: {msg}")
            else:
                parts.append(str(d))
        detail = "; ".join(parts)
    return f"{detail or 'error'} (HTTP {r.status_code})"
