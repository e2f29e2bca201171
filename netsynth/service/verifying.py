"""POST /verify's work (loading the network, Z3) in a process of its own, never the API's.

`Verifier(settings)` keeps one spawned process (niceness `search_nice`) that takes requests one
at a time; `await verifier.check(spec, spec_name, model, texts, min_agreement)` answers the
`verifier.check(...).to_dict()` JSON or raises the HTTPException the checks chose (a 4xx naming
the field). A process that dies is replaced on the next request, which answers 503 meanwhile.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from fastapi import HTTPException

from netsynth.service.settings import Settings


class Verifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_prepare,
                                             initargs=(self.settings.search_nice, os.getpid()))
        return self._pool

    async def check(self, spec: bytes, spec_name: str | None, model: bytes, texts: dict[str, str],
                    min_agreement: float) -> dict[str, Any]:
        try:
            outcome = await asyncio.wrap_future(self._executor().submit(
                judge, self.settings.to_json(), spec, spec_name, model, texts, min_agreement))
        except BrokenProcessPool:
            self._pool = None
            raise HTTPException(503, detail="the verifying process died (out of memory?); "
                                            "try again") from None
        if outcome[0] == "error":
            raise HTTPException(outcome[1], detail=outcome[2])
        return outcome[1]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _prepare(nice: int, parent: int) -> None:
    """In the verifying process: die with the server (kill -9 too), and yield to its API."""
    from netsynth.service.worker import die_with_parent

    die_with_parent(parent)
    try:
        os.nice(nice)
    except OSError:
        pass


def judge(settings: dict[str, Any], spec: bytes, spec_name: str | None, model: bytes,
          texts: dict[str, str], min_agreement: float) -> tuple[Any, ...]:
    """("ok", the verification's JSON) or ("error", status, detail), in the verifying process."""
    import verifier
    from dsl.errors import DSLError, NetsynthError
    from dsl.language import get_dsl
    from netsynth.service.schemas import jsonable
    from netsynth.service.uploads import check_bytes, field_error

    try:
        checked = check_bytes(Settings.from_json(settings), spec, spec_name, model)
        dsl = get_dsl(checked.spec.dsl)
        variables = checked.spec.variables()
        parsed = {}
        for field in ("program", "reference"):
            if texts.get(field):
                try:
                    parsed[field] = dsl.parse(texts[field], variables)
                except DSLError as e:
                    raise field_error(422, field, str(e), "dsl_error") from None
                except RecursionError:
                    raise field_error(422, field, f"{field}: nested too deeply",
                                      "dsl_error") from None
        try:
            result = verifier.check(parsed["program"], checked.oracle,
                                    reference=parsed.get("reference"), min_agreement=min_agreement)
        except NetsynthError as e:
            raise field_error(422, "program", str(e), type(e).__name__) from None
    except HTTPException as e:
        return ("error", e.status_code, e.detail)
    return ("ok", jsonable(result.to_dict()))
