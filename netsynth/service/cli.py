"""The service's commands: `netsynth serve | submit | status | result | cancel`.

`add_subcommands(subparsers)` adds them to the `netsynth` parser; each sets `handler`, a function
of the parsed arguments returning the exit code: 0 done (a program found), 1 the job produced no
program (or the server could not be reached), 2 bad input or a 4xx answer. Settings and the token
are read here, once, and passed down.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any, Sequence

DEFAULT_SERVER = "http://127.0.0.1:8000"


def add_subcommands(sub: Any) -> None:
    """Add serve, submit, status, result and cancel to an argparse subparsers object."""
    serve = sub.add_parser("serve", help="run the job API (HTTP)")
    add_serve_arguments(serve)
    serve.set_defaults(handler=run_serve)

    submit = sub.add_parser(
        "submit", help="send a job to a netsynth server",
        description="Send a job: one spec (and its model) to extract a program; several specs, "
                    "or one spec with --model given once per network, to compare networks "
                    "(the server's POST /compare; docs/compare.md).")
    submit.add_argument("spec", type=Path, nargs="+", help="spec file (JSON or TOML); several "
                        "for a compare job, each naming its model")
    submit.add_argument("--model", type=Path, action="append", default=None, metavar="FILE",
                        help="ONNX model (default: the spec's `model`, relative to the spec "
                             "file); repeat it to compare several networks of one spec")
    submit.add_argument("--wait", action="store_true",
                        help="follow progress on stderr until the job ends, then print the report")
    submit.add_argument("--json", type=Path, default=None, metavar="OUT",
                        help="with --wait, write the report JSON here ('-' for stdout)")
    submit.add_argument("--html", type=Path, default=None, metavar="OUT",
                        help="with --wait, write the report as a web page, pictures inline")
    from synth.options import OPTIONS

    for option in OPTIONS:          # the job API's form fields: the server checks the values
        if option.api:
            submit.add_argument(option.flag, dest=option.name, default=None,
                                metavar=option.metavar, help=option.help)
    _client_options(submit)
    submit.set_defaults(handler=run_submit)

    for name, helptext, handler in (("status", "show a job's status", run_status),
                                    ("result", "print a finished job's report", run_result),
                                    ("cancel", "cancel a job", run_cancel)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("id", help="job id")
        if name in ("result", "status"):
            p.add_argument("--json", type=Path, default=None, metavar="OUT",
                           help="write the JSON here ('-' for stdout)")
        if name == "result":
            p.add_argument("--html", type=Path, default=None, metavar="OUT",
                           help="write the report as a web page, pictures inline")
        _client_options(p)
        p.set_defaults(handler=handler)
    jobs = sub.add_parser("jobs", help="list a server's jobs, newest first")
    jobs.add_argument("--limit", type=int, default=20, metavar="N", help="how many (default 20)")
    _client_options(jobs)
    jobs.set_defaults(handler=run_jobs)


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--db", default=None, metavar="URL",
                   help="SQLAlchemy database URL (default: sqlite <data-dir>/netsynth.db)")
    p.add_argument("--data-dir", type=Path, default=Path("netsynth-data"), metavar="DIR",
                   help="where the database and the uploaded models live (default ./netsynth-data)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster to join (default: $RAY_ADDRESS, else an embedded local Ray)")
    p.add_argument("--max-jobs", type=int, default=1, metavar="N", help="jobs running at once")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="default workers per job (default: all cores; 1 = in-process, no Ray)")
    p.add_argument("--max-model-bytes", type=int, default=64 * 2**20, metavar="B",
                   help="largest model upload (default 64 MiB)")
    p.add_argument("--max-attempts", type=int, default=3, metavar="N",
                   help="starts of a job before it is failed (default 3)")
    p.add_argument("--lease", type=float, default=30.0, metavar="S",
                   help="seconds without a heartbeat before another server sharing the database "
                        "takes over a running job (default 30)")
    p.add_argument("--heartbeat", type=float, default=15.0, metavar="S",
                   help="seconds between comment lines of an unchanged event stream (default 15)")
    p.add_argument("--cancel-grace", type=float, default=30.0, metavar="S",
                   help="seconds a cancelled search may take to stop before its process is "
                        "killed (default 30)")
    p.add_argument("--search-nice", type=int, default=10, metavar="N",
                   help="niceness of the search processes (default 10: the API is served first)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                   help="another site whose pages may send writes (repeatable)")
    p.add_argument("--log-level", default="info")


def _client_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=None, metavar="URL",
                   help=f"server URL (default: $NETSYNTH_SERVER or {DEFAULT_SERVER})")


# ---- serve --------------------------------------------------------------------------------------

def run_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from netsynth.service.app import create_app
    from netsynth.service.runner import DataDirInUse, claim_node
    from netsynth.service.settings import Settings

    for flag in ("max_jobs", "workers", "max_model_bytes", "max_attempts", "port"):
        if getattr(args, flag) < (0 if flag == "port" else 1):
            print(f"netsynth: error: --{flag.replace('_', '-')}: expected a positive integer, "
                  f"got {getattr(args, flag)}", file=sys.stderr)
            return 2
    for flag in ("lease", "heartbeat", "cancel_grace"):
        if not 0 < getattr(args, flag) < 1e6:
            print(f"netsynth: error: --{flag.replace('_', '-')}: expected a positive number of "
                  f"seconds, got "
                  f"{getattr(args, flag)}", file=sys.stderr)
            return 2
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    settings = Settings(data_dir=args.data_dir, db_url=args.db, max_jobs=args.max_jobs,
                        workers=args.workers,
                        ray_address=args.ray_address or os.environ.get("RAY_ADDRESS") or None,
                        token=os.environ.get("NETSYNTH_TOKEN") or None,
                        allowed_origins=tuple(args.allow_origin),
                        max_model_bytes=args.max_model_bytes, max_attempts=args.max_attempts,
                        lease=args.lease, event_heartbeat=args.heartbeat,
                        cancel_grace=args.cancel_grace,
                        search_nice=args.search_nice)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        node, _lock = claim_node(settings.data_dir)   # held until the process exits
    except (DataDirInUse, OSError) as e:
        print(f"netsynth: error: {e}", file=sys.stderr)
        return 1
    try:
        sock = _listen(args.host, args.port)
    except OSError as e:
        print(f"netsynth: error: cannot listen on {args.host}:{args.port}: {e.strerror or e}",
              file=sys.stderr)
        return 1
    url = _url(sock)
    print(f"netsynth: serving at {url} (results pages: {url}ui/jobs, API docs: {url}docs); "
          "Ctrl-C stops", flush=True)
    config = uvicorn.Config(create_app(settings, node=node), log_level=args.log_level.lower(),
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _url(sock: socket.socket) -> str:
    """The address a browser on this machine opens for the listening socket."""
    host, port = sock.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)    # every interface: this one
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets whose `proto` says TCP,
    # and without it each answer waited for the client's delayed ACK (40 ms a status read).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m netsynth.service [serve options]`: the server without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="python -m netsynth.service",
                                     description="Run the netsynth job API.")
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


# ---- client commands ----------------------------------------------------------------------------

def _client(args: argparse.Namespace) -> Any:
    from netsynth.service.client import Client

    server = args.server or os.environ.get("NETSYNTH_SERVER") or DEFAULT_SERVER
    return Client(server, token=os.environ.get("NETSYNTH_TOKEN") or None)


def _fail(e: Exception) -> int:
    status = getattr(e, "status", None)
    print(f"netsynth: error: {e}", file=sys.stderr)
    return 2 if status is not None and 400 <= status < 500 else 1


def run_submit(args: argparse.Namespace) -> int:
    from netsynth.service.client import ApiError

    specs, models = list(args.spec), list(args.model or [])
    for option in ("json", "html"):
        if getattr(args, option) is not None and not args.wait:
            print(f"netsynth: error: --{option} {getattr(args, option)}: writes the report, which "
                  f"only --wait waits for; add --wait", file=sys.stderr)
            return 2
    if not models:
        for spec in specs:
            model = _spec_model(spec)
            if isinstance(model, str):
                print(f"netsynth: error: {model}", file=sys.stderr)
                return 2
            models.append(model)
    elif len(specs) > 1 and len(models) != len(specs):
        print(f"netsynth: error: --model: give none (each spec names its model), one per spec, "
              f"or several for one spec; got {len(models)} for {len(specs)} specs",
              file=sys.stderr)
        return 2
    for what, path in [("spec", p) for p in specs] + [("model", p) for p in models]:
        if not path.is_file():
            print(f"netsynth: error: {what}: no such file {str(path)!r}", file=sys.stderr)
            return 2
    accepted: dict[str, Any] = {}
    try:
        with _client(args) as client:
            from synth.options import API_OPTIONS

            options = {name: getattr(args, name) for name in API_OPTIONS}
            if len(models) > 1:
                accepted = client.compare(specs, models, **options)
            else:
                accepted = client.submit(specs[0], models[0], **options)
            if not args.wait:
                print(accepted["id"])
                return 0
            print(f"job {accepted['id']} accepted", file=sys.stderr)
            job = _follow(client, accepted["id"])
            return _finish(client, job, args.json, args.html)
    except ApiError as e:
        return _fail(e)
    except KeyboardInterrupt:
        print(f"netsynth: stopped waiting; the job goes on (netsynth cancel {accepted.get('id')})",
              file=sys.stderr)
        return 130


def _spec_model(spec: Path) -> Path | str:
    """The spec's `model` path (relative to the spec file), or an error message."""
    import tomllib

    try:
        text = spec.read_text()
        raw = tomllib.loads(text) if spec.suffix == ".toml" else json.loads(text)
    except FileNotFoundError:
        return f"spec: no such file {str(spec)!r}"
    except (OSError, ValueError) as e:
        return f"spec: cannot read {str(spec)!r} ({e})"
    model = raw.get("model") if isinstance(raw, dict) else None
    if not isinstance(model, str):
        return "model: the spec names no model; give one with --model FILE"
    return (spec.parent / model)


def _follow(client: Any, job_id: str) -> dict[str, Any]:
    """Show progress on stderr from the event stream; return the job in its end state."""
    job: dict[str, Any] = {}
    shown = ""
    for event, job in client.events(job_id):
        p = job.get("progress") or {}
        line = (f"{job['status']}: size {p.get('level', '-')}, {p.get('candidates', 0)} candidates,"
                f" best agreement {float(p.get('best_agreement') or 0):.4f},"
                f" {float(p.get('elapsed') or 0):.1f} s")
        if line != shown:
            print(line, file=sys.stderr)
            shown = line
    return job


def _finish(client: Any, job: dict[str, Any], json_out: Path | None,
            html_out: Path | None = None) -> int:
    from netsynth.service.client import ApiError

    if job.get("status") == "failed":
        print(f"netsynth: job {job['id']} failed: {job.get('error')}", file=sys.stderr)
        return 1
    try:
        report = client.result(job["id"])
    except ApiError as e:
        print(f"netsynth: job {job['id']} {job.get('status')}: {e}", file=sys.stderr)
        return 1
    return _print_report(report, json_out, status=job.get("status"), html_out=html_out)


def _print_report(report: dict[str, Any], json_out: Path | None, *, status: str | None,
                  html_out: Path | None = None) -> int:
    text = json.dumps(report, indent=2)
    if html_out is not None:
        from netsynth.render import page

        html_out.write_text(page(report), encoding="utf-8")
    if json_out is not None and str(json_out) != "-":
        json_out.write_text(text + "\n")
    if json_out is not None and str(json_out) == "-":
        print(text)
    elif "outcome" in report:          # a compare job's result
        from netsynth.compare_render import render as render_compare

        print(f"job {status}")
        print(render_compare(report))
        return 0 if report["outcome"] == "one program" else 1
    else:
        from netsynth.report import Report

        print(f"job {status}")
        print(Report.from_dict(report).render())
    return 0 if report.get("program") and report.get("status") == "solved" else 1


def _ask(args: argparse.Namespace, *calls: str) -> list[Any] | int:
    """The answers of the client methods `calls` for job `args.id`, or the exit code of a
    failure (already reported)."""
    from netsynth.service.client import ApiError

    try:
        with _client(args) as client:
            return [getattr(client, call)(args.id) for call in calls]
    except ApiError as e:
        return _fail(e)


def run_status(args: argparse.Namespace) -> int:
    answers = _ask(args, "status")
    if isinstance(answers, int):
        return answers
    job = answers[0]
    if args.json is not None:
        text = json.dumps(job, indent=2)
        if str(args.json) == "-":
            print(text)
            return 0
        args.json.write_text(text + "\n")
    print(_status_line(job))
    return 0


def _status_line(job: dict[str, Any]) -> str:
    """`job ID (name): running, size 5, 110,353 candidates, best 98.05%, 0.3 s`, or the outcome."""
    from netsynth.service.client import STATES_ENDED

    text = f"job {job['id']} ({job.get('spec_name') or '?'}): {job['status']}"
    p = job.get("progress") or {}
    if job["status"] in ("queued", "running", "interrupted") and p:
        text += (f", size {p.get('level', '-')}, {p.get('candidates') or 0:,} candidates, best "
                 f"{100 * (p.get('best_agreement') or 0):.2f}%, {p.get('elapsed') or 0:.1f} s")
        if p.get("best"):
            text += f", best so far {p['best']}"
    if job.get("result_status"):
        text += f"; result {job['result_status']} (stopped: {job.get('stop_reason')})"
    if job.get("cancel_requested") and job["status"] not in STATES_ENDED:
        text += "; a cancel is requested"
    if job.get("error"):
        text += f"; error: {job['error']}"
    return text


def run_jobs(args: argparse.Namespace) -> int:
    from netsynth.service.client import ApiError

    try:
        with _client(args) as client:
            page = client.jobs(limit=max(1, args.limit))
    except ApiError as e:
        return _fail(e)
    for job in page["jobs"]:
        print(_status_line(job))
    print(f"{len(page['jobs'])} of {page['total']} job(s)")
    return 0


def run_result(args: argparse.Namespace) -> int:
    from netsynth.service.client import STATES_ENDED

    answers = _ask(args, "status")
    if isinstance(answers, int):
        return answers
    job = answers[0]
    if job["status"] not in STATES_ENDED:
        # Not bad input (exit 2): the job is fine, its report is not there yet.
        print(f"netsynth: job {job['id']} has not ended ({job['status']}); its report comes when "
              f"it does (`netsynth status {job['id']}` shows its progress)", file=sys.stderr)
        return 1
    answers = _ask(args, "result")
    if isinstance(answers, int):
        return answers
    return _print_report(answers[0], args.json, status=job.get("status"), html_out=args.html)


def run_cancel(args: argparse.Namespace) -> int:
    answers = _ask(args, "cancel")
    if isinstance(answers, int):
        return answers
    from netsynth.service.client import STATES_ENDED

    job = answers[0]
    if job["status"] in STATES_ENDED:
        print(f"job {job['id']}: {job['status']}")
    else:
        print(f"job {job['id']}: cancel requested (it was {job['status']}; a running search stops "
              f"within seconds, keeping the best program it found)")
    return 0
