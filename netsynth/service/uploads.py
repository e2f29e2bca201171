"""Reading and checking what a client sends, before any job exists.

- `read_form(request, files=..., texts=...)`: the multipart form, refusing unknown and repeated
  fields, files where text is wanted and text where a file is (422 naming the field).
- `job_options(texts, settings)`: the search options of a submission, parsed and checked by the
  one table of options (`synth.options`), then against the server's own limits.
- `parse_spec(data, filename)`: the Spec from JSON or TOML, refusing what the parsers choke on
  (numbers past Python's 4,300 digits, nesting past `MAX_DEPTH`) as a 422 on `spec`.
- `check_uploads(settings, spec, model)`: the spec, then the model loaded against it.

Every refusal is `field_error(...)`: FastAPI's field-level shape, `{"detail": [{"loc": ["body",
field], "msg": ..., "type": ...}]}`, with messages cut to `MAX_MESSAGE` characters so no answer
echoes a large input back.
"""

from __future__ import annotations

import json
import sys
import tomllib
import typing
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request, UploadFile
from starlette.datastructures import UploadFile as StarletteUpload

from dsl.errors import NetsynthError
from netsynth.service.limits import TooLarge, read_capped
from netsynth.service.settings import Settings

CHUNK = 1 << 16
MAX_MESSAGE = 400          # characters of an error message; the rest is cut
MAX_TEXT = 100             # characters of an option field's value
MAX_DEPTH = 32             # nesting of arrays and objects in a spec
MAX_DIGITS = sys.get_int_max_str_digits() or 4300


def field_error(status: int, field: str, msg: str, kind: str, *, where: str = "body") -> HTTPException:
    return HTTPException(status, detail=[{"loc": [where, field], "msg": clip(msg), "type": kind}])


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[:limit - 30] + f"... ({len(text)} characters)"


# ---- the form -----------------------------------------------------------------------------------

async def read_form(request: Request, *, files: tuple[str, ...], texts: tuple[str, ...],
                    required: tuple[str, ...], repeated: int = 1
                    ) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's files and text fields by name, each known and given once, or a 422. With
    `repeated` > 1, each file field may be given up to that many times, and its value is the list
    of its uploads."""
    form = await request.form(max_files=repeated * len(files) + 1, max_fields=len(texts) + 8)
    known = (*files, *texts)
    seen: dict[str, int] = {}
    for name, _ in form.multi_items():
        seen[name] = seen.get(name, 0) + 1
    for name, count in seen.items():
        if name not in known:
            raise field_error(422, clip(name, 60), f"{clip(name, 60)!s}: unknown field; expected "
                              f"some of {list(known)}", "unknown_field")
        most = repeated if name in files else 1
        if count > most:
            raise field_error(422, name, f"{name}: given {count} times; give it "
                              + ("once" if most == 1 else f"at most {most} times"),
                              "repeated_field")
    got_files, got_texts = {}, {}
    if repeated > 1:
        for name in files:
            values = form.getlist(name)
            if any(not isinstance(v, StarletteUpload) for v in values):
                raise field_error(422, name, f"{name}: expected file uploads, got a text field",
                                  "file_expected")
            if values:
                got_files[name] = values
        files = ()
    for name, value in form.items():
        if name in got_files:
            continue
        is_file = isinstance(value, StarletteUpload)
        if name in files and not is_file:
            raise field_error(422, name, f"{name}: expected a file upload, got a text field "
                              f"of {len(value)} characters", "file_expected")
        if name in texts and is_file:
            raise field_error(422, name, f"{name}: expected a text field, got a file",
                              "text_expected")
        (got_files if is_file else got_texts)[name] = value
    for name in required:
        if name not in got_files and name not in got_texts:
            raise field_error(422, name, f"{name}: field required", "missing")
    return got_files, got_texts


def option_fields(settings: Settings) -> dict[str, dict[str, Any]]:
    """The OpenAPI schema of each search option a client may set: its type and its help."""
    from synth.options import API_OPTIONS, BY_NAME, SearchOptions

    hints = typing.get_type_hints(SearchOptions)
    kinds = {int: "integer", float: "number", bool: "boolean", str: "string"}
    out = {}
    for name in API_OPTIONS:
        base = [t for t in typing.get_args(hints[name]) if t is not type(None)] or [hints[name]]
        out[name] = {"type": kinds.get(base[0], "string"), "description": BY_NAME[name].help}
    out["timeout"]["description"] += (f"; on this server: default {settings.default_timeout:g}, "
                                      f"at most {settings.max_timeout:g}")
    out["workers"]["description"] += (f"; on this server: default {settings.workers}, at most "
                                      f"{settings.max_workers if settings.uses_ray else 1}")
    return out


def parse_option(name: str, value: str) -> Any:
    """One search option from its text, checked by its row of `synth.options`, or a 422."""
    from synth.options import API_OPTIONS, SearchOptions

    if len(value) > MAX_TEXT:
        raise field_error(422, name, f"{name}: expected a short value, got {len(value)} "
                          "characters", "value_error")
    try:
        return getattr(SearchOptions.from_mapping({name: value}, allowed=API_OPTIONS), name)
    except NetsynthError as e:
        raise field_error(422, name, str(e), "value_error") from None


def job_options(texts: dict[str, str], settings: Settings) -> dict[str, Any]:
    """The options to store with a job: what the client set (typed) over the server's defaults
    (`timeout`, `workers`). A 422 naming the first bad field. An empty field counts as not
    given (a browser's form sends the inputs left blank)."""
    typed = {name: parse_option(name, value) for name, value in texts.items() if value.strip()}
    timeout = typed.setdefault("timeout", settings.default_timeout)
    if timeout is None or timeout > settings.max_timeout:
        raise field_error(422, "timeout", f"timeout: expected at most {settings.max_timeout} s "
                          f"on this server, got {timeout}", "value_error")
    workers = typed.setdefault("workers", settings.workers)
    if workers > settings.max_workers:
        raise field_error(422, "workers", f"workers: expected at most {settings.max_workers}, got "
                          f"{workers}", "value_error")
    if workers > 1 and not settings.uses_ray:
        raise field_error(422, "workers", f"workers: this server runs searches without Ray "
                          f"(started with --workers 1), got {workers}", "value_error")
    return typed


# ---- the spec and the model ---------------------------------------------------------------------

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


class _TooLong(ValueError):
    pass


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _TooLong(f"a number has {len(text.lstrip('-'))} digits, more than the limit of "
                       f"{MAX_DIGITS}")
    return int(text)


def parse_spec(data: bytes, filename: str | None) -> tuple[Any, dict[str, Any]]:
    """The validated Spec and its normalised dict, or a 422 naming what is wrong."""
    from dsl.language import BUILTINS
    from netsynth.api import check_reference
    from oracle.spec import load_spec

    def refuse(msg: str) -> HTTPException:
        return field_error(422, "spec", msg, "spec_error")

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse("spec: expected UTF-8 text (JSON or TOML)") from None
    as_toml = (filename or "").lower().endswith(".toml") or not text.lstrip().startswith("{")
    kind = "TOML" if as_toml else "JSON"
    try:
        raw = tomllib.loads(text) if as_toml else json.loads(text, parse_int=_int)
    except RecursionError:
        raise refuse(f"spec: invalid {kind} (nested deeper than the limit of {MAX_DEPTH})") from None
    except _TooLong as e:
        raise refuse(f"spec: invalid {kind} ({e})") from None
    except ValueError as e:   # JSONDecodeError, TOMLDecodeError, and TOML's too-long integers
        words = str(e)
        if "digits" in words and "integer" in words:
            words = f"a number has more than {MAX_DIGITS} digits"
        raise refuse(f"spec: invalid {kind} ({words})") from None
    if _depth(raw) > MAX_DEPTH:
        raise refuse(f"spec: invalid {kind} (nested deeper than the limit of {MAX_DEPTH})")
    if not isinstance(raw, dict):
        raise refuse(f"spec: expected an object, got {type(raw).__name__}")
    raw.pop("model", None)  # the model is the uploaded file, never a path on the server
    dsl_name = raw.get("dsl", "int")
    if not isinstance(dsl_name, str) or dsl_name not in BUILTINS:
        raise refuse(f"dsl: expected a built-in DSL {sorted(BUILTINS)}, got {clip(repr(dsl_name), 80)} "
                     "(user DSLs cannot be loaded over the API)")
    try:
        spec = load_spec(raw)
        check_reference(spec)
    except NetsynthError as e:
        raise refuse(str(e)) from None
    except RecursionError:
        raise refuse("reference: nested too deeply") from None
    except (TypeError, ValueError, OverflowError) as e:  # odd values the validators did not foresee
        raise refuse(f"spec: {e}") from None
    return spec, spec.to_dict()


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in `value` (a scalar is 0), without recursing."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        todo.extend((child, level + 1) for child in children)
    return deepest


def check_uploads(settings: Settings, spec_file: UploadFile, model_file: UploadFile) -> Checked:
    spec_bytes = read_upload(spec_file, "spec", settings.max_spec_bytes)
    spec, spec_dict = parse_spec(spec_bytes, spec_file.filename)
    model = read_upload(model_file, "model", settings.max_model_bytes)
    return _load(settings, spec, spec_dict, model)


def check_bytes(settings: Settings, spec_bytes: bytes, spec_name: str | None,
                model: bytes) -> Checked:
    """`check_uploads` of uploads already read (within their limits)."""
    spec, spec_dict = parse_spec(spec_bytes, spec_name)
    return _load(settings, spec, spec_dict, model)


def _load(settings: Settings, spec: Any, spec_dict: dict[str, Any], model: bytes) -> Checked:
    import oracle

    try:
        loaded = oracle.load(spec, model=model, max_bytes=settings.max_model_bytes)
    except NetsynthError as e:
        raise field_error(422, "model", str(e), "model_error") from None
    return Checked(spec, spec_dict, loaded, model)


#: Networks one compare job may hold.
MAX_COMPARED = 8


def check_compare(settings: Settings, spec_files: list[UploadFile],
                  model_files: list[UploadFile]) -> list[Checked]:
    """Each network of a compare job checked as a job's (spec, model) is: one spec for every
    model, or one per model in the same order; at least two models; specs alike (netsynth.compare
    checks the same before any search)."""
    if len(model_files) < 2:
        raise field_error(422, "model", f"model: a comparison needs at least 2 models, got "
                          f"{len(model_files)}", "too_few")
    if len(spec_files) not in (1, len(model_files)):
        raise field_error(422, "spec", f"spec: give one spec for every model, or one per model "
                          f"in the same order; got {len(spec_files)} specs for "
                          f"{len(model_files)} models", "count_mismatch")
    specs = [parse_spec(read_upload(f, "spec", settings.max_spec_bytes), f.filename)
             for f in spec_files]
    specs = specs * len(model_files) if len(specs) == 1 else specs
    from dsl.errors import SpecError
    from netsynth.compare import check_alike

    try:
        check_alike([spec for spec, _ in specs])
    except SpecError as e:
        raise field_error(422, "spec", clip(str(e)), "specs_differ") from None
    checked = []
    for k, ((spec, spec_dict), upload) in enumerate(zip(specs, model_files)):
        model = read_upload(upload, "model", settings.max_model_bytes)
        try:
            checked.append(_load(settings, spec, spec_dict, model))
        except HTTPException as e:
            raise field_error(422, "model", f"model {k + 1}: {e.detail[0]['msg']}"
                              if isinstance(e.detail, list) else f"model {k + 1}: {e.detail}",
                              "model_error") from None
    return checked
