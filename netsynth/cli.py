"""The `netsynth` command line.

Exit codes: 0 when a program meets the threshold (or a checked program holds), 1 when none does,
2 for bad input (a message, never a traceback), 130 when interrupted. `netsynth compare` exits 0
when every network's extraction is solved and the groups are decided (one program, or groups
proved different), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Sequence

from dsl.errors import NetsynthError


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    parser = _parser()
    if "_ARGCOMPLETE" in os.environ:        # the shell asks for completions (`netsynth completion`)
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        _check_outputs(args)
        code = args.handler(args)
        sys.stdout.flush()          # here, where a closed pipe can still be handled
        return code
    except NetsynthError as e:
        print(f"netsynth: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("netsynth: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`netsynth run ... --json - | head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


#: `--export` file suffixes and the forms they name (netsynth.report.Report.export).
EXPORTS = {".py": "python", ".c": "c", ".tex": "latex", ".smt2": "smtlib", ".sympy": "sympy",
           ".json": "json", ".svg": "svg", ".dot": "dot"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netsynth", description="Turn a trained network into a small, verified program.",
        epilog="The service commands read NETSYNTH_SERVER (default http://127.0.0.1:8000) and "
               "NETSYNTH_TOKEN (the bearer token of a server started with one).")
    parser.add_argument("--version", action="version", version=f"netsynth {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="search for a program that does what the network does")
    run.add_argument("spec", type=Path, help="spec file (JSON or TOML)")
    _model_options(run)
    _search_options(run)
    run.add_argument("--portfolio", action="store_true",
                     help="race several search strategies as Ray tasks, one per worker; the "
                          "first acceptable answer wins (needs --workers >= 2)")
    run.add_argument("--no-verify", action="store_true", help="skip Z3/Hypothesis/speed checks")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    run.add_argument("--json", type=Path, default=None, metavar="OUT",
                     help="also write the report as JSON ('-' for stdout instead of the text)")
    run.add_argument("--html", type=Path, default=None, metavar="OUT",
                     help="also write the report as a web page, its pictures inline (what a "
                          "notebook and the results page show)")
    run.add_argument("--export", type=Path, action="append", default=[], metavar="FILE",
                     help="also write the program to FILE, in the form its suffix names: .py, .c, "
                          ".tex (LaTeX), .smt2 (SMT-LIB define-fun), .sympy (repeatable)")
    run.set_defaults(handler=_run)

    verify = sub.add_parser("verify", help="check a given program against a network")
    verify.add_argument("spec", type=Path, help="spec file (JSON or TOML)")
    _model_options(verify)
    verify.add_argument("--program", required=True, help='program text, e.g. "x ^ y"')
    verify.add_argument("--reference", default=None, help="reference program (default: spec's)")
    from synth.options import BY_NAME

    verify.add_argument("--min-agreement", type=_typed(BY_NAME["min_agreement"]), default=1.0,
                        metavar="A", help=BY_NAME["min_agreement"].help)
    verify.add_argument("--timeout", type=_positive(float), default=10.0, metavar="S",
                        help="Z3 time limit per query (default 10 s)")
    verify.add_argument("--json", type=Path, default=None, metavar="OUT")
    verify.set_defaults(handler=_verify)

    compare = sub.add_parser(
        "compare", help="extract from several networks and group them by equivalent program",
        description="Extract a program from each network with the same options, group the "
                    "networks by programs Z3 proves equal on their shared input ranges, and show "
                    "each network against its group's program (docs/compare.md).")
    compare.add_argument("specs", type=Path, nargs="+", metavar="SPEC",
                         help="spec files, each naming its model; or one spec with --model given "
                              "for each network")
    compare.add_argument("--model", dest="models", type=Path, action="append", default=None,
                         metavar="FILE", help="an ONNX model for the one SPEC (repeatable)")
    compare.add_argument("--dsl", default=None, metavar="NAME_OR_PATH",
                         help="DSL for every network: 'int' or a path to a user .lark grammar "
                              "(default: the specs')")
    _search_options(compare)
    compare.add_argument("--no-verify", action="store_true",
                         help="skip each extraction's own Z3/Hypothesis/speed checks (the "
                              "grouping is still decided by Z3)")
    compare.add_argument("--no-progress", action="store_true",
                         help="no line on stderr as each network is done")
    compare.add_argument("--json", type=Path, default=None, metavar="OUT",
                         help="also write the comparison as JSON ('-' for stdout instead of the "
                              "text)")
    compare.set_defaults(handler=_compare)

    completion = sub.add_parser(
        "completion", help="print the shell code that completes netsynth's commands and options",
        description="Print the code that makes your shell complete netsynth's commands, options "
                    "and file names. Bash: add `eval \"$(netsynth completion bash)\"` to ~/.bashrc; "
                    "zsh: the same line with zsh, in ~/.zshrc; fish: `netsynth completion fish | "
                    "source` in config.fish.")
    completion.add_argument("shell", choices=("bash", "zsh", "fish"), help="your shell")
    completion.set_defaults(handler=_completion)

    try:
        from netsynth.service.cli import add_subcommands
    except ImportError:           # the service is optional for the search itself
        pass
    else:
        add_subcommands(sub)
    return parser


def _completion(args) -> int:
    import argcomplete

    print(argcomplete.shellcode(["netsynth"], shell=args.shell))
    return 0


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=None, metavar="FILE",
                   help="ONNX model (default: the spec's 'model', relative to the spec file)")
    p.add_argument("--dsl", default=None, metavar="NAME_OR_PATH",
                   help="DSL: 'int' or a path to a user .lark grammar (default: the spec's)")


def _search_options(p: argparse.ArgumentParser) -> None:
    """One flag per search option, from the same table as the Python keywords and the job API
    (synth/options.py); values are read and checked by that table's rows."""
    from synth.options import OPTIONS

    defaults = {"workers": "all local cores; 1 runs without Ray"}
    for o in OPTIONS:
        text = o.help if o.name not in defaults else f"{o.help.split(' (')[0]} (default: {defaults[o.name]})"
        p.add_argument(o.flag, dest=o.name, type=_typed(o), default=None, metavar=o.metavar,
                       help=text)


def _typed(option):
    """argparse's `type` for an option row: its parser and its check, one message for both."""
    def parse(text: str):
        try:
            value = option.parse(text)
        except NetsynthError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        complaint = option.check(value)
        if complaint:
            raise argparse.ArgumentTypeError(complaint)
        return value
    parse.__name__ = option.name
    return parse


def _load_spec(args):
    from dataclasses import replace

    from oracle.spec import load_spec

    if not args.spec.is_file():
        raise _input_error(f"spec: no such file {str(args.spec)!r}")
    spec = load_spec(args.spec)
    if args.dsl:
        from dsl.language import dsl_key

        spec = replace(spec, dsl=dsl_key(args.dsl))
    if args.model is not None and not args.model.is_file():
        raise _input_error(f"--model: no such file {str(args.model)!r}")
    return spec


def _run(args) -> int:
    from netsynth.api import default_workers, family_defaults, start_compute, synthesize
    from netsynth.progress import ProgressBar
    from netsynth.render import render
    from synth.options import OPTIONS, SearchOptions

    spec = _load_spec(args)
    for path in args.export:
        if path.suffix not in EXPORTS:
            raise _input_error(f"--export: expected a file ending in one of {sorted(EXPORTS)}, "
                               f"got {str(path)!r}")
    given = {o.name: getattr(args, o.name) for o in OPTIONS if getattr(args, o.name) is not None}
    given.setdefault("ray_address", os.environ.get("RAY_ADDRESS") or None)
    # In-process by default: Ray only when asked for (several workers, a cluster, a portfolio).
    wants_ray = args.portfolio or given["ray_address"] is not None
    given.setdefault("workers", default_workers() if wants_ray else 1)
    options = SearchOptions.from_mapping({**family_defaults(spec), **given})
    portfolio = None
    if args.portfolio:
        from synth.portfolio import DEFAULT as portfolio

        if options.workers < 2:
            raise _input_error(f"--portfolio: runs its strategies as concurrent Ray tasks and "
                               f"needs --workers >= 2, got {options.workers}")
    startup = 0.0
    if options.workers > 1 or options.ray_address:
        startup = start_compute(options.workers, address=options.ray_address)  # main thread
    cancel = threading.Event()
    bar = None if args.no_progress or not sys.stderr else ProgressBar()
    outcome: dict = {}
    done = threading.Event()

    def search() -> None:
        try:
            outcome["report"] = synthesize(spec, args.model, options=options, cancel=cancel,
                                           progress=bar.update if bar else None,
                                           verify=not args.no_verify, portfolio=portfolio,
                                           startup=startup)
        except BaseException as e:  # handed to the main thread, which raises it
            outcome["error"] = e
        finally:
            done.set()

    # The search runs in a thread so that Ctrl-C reaches this loop, which asks the search to stop
    # and still prints what it found. (An Event, not Thread.join: a join interrupted by Ctrl-C can
    # leave the thread looking finished.)
    threading.Thread(target=search, name="netsynth-search", daemon=True).start()
    interrupted = False
    while not done.is_set():
        try:
            done.wait(0.2)
        except KeyboardInterrupt:
            if interrupted:
                raise                    # a second Ctrl-C: give up at once
            interrupted = True
            print("\nnetsynth: interrupted: stopping the search and keeping the best program so "
                  "far (Ctrl-C again to quit at once)", file=sys.stderr)
            cancel.set()
    if bar:
        bar.close()
    if "error" in outcome:
        raise outcome["error"]
    report = outcome["report"]
    data = report.to_dict()
    _emit(data, render(data), args.json)
    if report.program is not None:
        for path in args.export:
            try:
                path.write_text(report.export(EXPORTS[path.suffix]), encoding="utf-8")
            except ValueError as e:     # a form this kind of program does not have
                raise _input_error(f"--export {path}: {e}") from None
    if args.html is not None:
        from netsynth.render import page

        args.html.write_text(page(data), encoding="utf-8")
    if interrupted:
        return 130
    return 0 if report.solved else 1


def _verify(args) -> int:
    from netsynth.api import check

    spec = _load_spec(args)
    program = args.program
    if program.endswith(".json") and Path(program).is_file():   # a program as JSON (automata...)
        try:
            program = json.loads(Path(program).read_text())
        except ValueError as e:
            raise _input_error(f"program: {program!r} is not valid JSON ({e})") from None
    from netsynth.wording import percent, point_label

    result = check(spec, args.model, program, reference=args.reference,
                   min_agreement=args.min_agreement, timeout_ms=int(args.timeout * 1000))
    data = result.to_dict()
    f = data["fidelity"]
    lines = [f"program   {args.program}",
             f"fidelity  {f['agree']}/{f['total']} ({percent(f['agreement'])}"
             f"{', whole domain' if f['exhaustive'] else ', sample'})"]
    lines += [f"  {point_label(f)} {d['inputs']}: network {d['network']}, program {d['program']}"
              for d in f["disagreements"][:10]]
    lines.append(f"reference {data['reference']}"
                 + (f": counterexample {data['counterexample']}" if data["counterexample"] else "")
                 + (f" ({data['reference_reason']})" if data.get("reference_reason") else ""))
    lines.append(f"verdict   {'holds' if data['holds'] else 'does not hold'}")
    _emit(data, "\n".join(lines), args.json)
    return 0 if data["holds"] else 1


def _compare(args) -> int:
    from dataclasses import replace

    from netsynth.compare import _load, compare
    from netsynth.compare_render import render
    from synth.options import OPTIONS

    for path in args.specs:
        if not path.is_file():
            raise _input_error(f"spec: no such file {str(path)!r}")
    for path in args.models or ():
        if not path.is_file():
            raise _input_error(f"--model: no such file {str(path)!r}")
    if args.models and len(args.specs) > 1:
        raise _input_error(f"--model: goes with one SPEC for every model, got {len(args.specs)} "
                           f"specs; give one spec and --model per network, or specs that each "
                           f"name their model")
    specs = [_load(p) for p in args.specs]
    if args.dsl:
        from dsl.language import dsl_key

        specs = [replace(s, dsl=dsl_key(args.dsl)) for s in specs]
    given = {o.name: getattr(args, o.name) for o in OPTIONS if getattr(args, o.name) is not None}
    given.setdefault("ray_address", os.environ.get("RAY_ADDRESS") or None)
    if given["ray_address"] is not None:
        from netsynth.api import default_workers

        given.setdefault("workers", default_workers())
    progress = None if args.no_progress else \
        (lambda line: print(f"netsynth: {line}", file=sys.stderr, flush=True))
    result = compare(*specs, models=args.models, verify=not args.no_verify, progress=progress,
                     **given)
    data = result.to_dict()
    _emit(data, render(data), args.json)
    from netsynth.compare_result import Outcome

    solved = all(m.report.solved for m in result.members)
    return 0 if solved and result.outcome is not Outcome.UNDECIDED else 1


def _check_outputs(args) -> None:
    """Refuse, before any work, a file to write (--json, --html, --export) whose directory does
    not exist or that is a directory: the search's result must not be lost to a typo."""
    seen: dict[Path, str] = {}
    for option in ("json", "html", "export"):
        value = getattr(args, option, None)
        for path in value if isinstance(value, list) else [value]:
            if not isinstance(path, Path) or (str(path) == "-" and option == "json"):
                continue
            if str(path) == "-":
                raise _input_error(f"--{option} -: expected a file name (only --json writes to "
                                   f"stdout)")
            if path.is_dir():
                raise _input_error(f"--{option} {path}: is a directory; expected a file to write")
            parent = path.parent
            if not parent.is_dir():
                raise _input_error(f"--{option} {path}: no directory {str(parent)!r} to write "
                                   f"it in")
            if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
                raise _input_error(f"--{option} {path}: not writable")
            other = seen.setdefault(path.resolve(), option)
            if other != option or isinstance(value, list) and value.count(path) > 1:
                where = "given twice" if other == option else f"also given to --{other}"
                raise _input_error(f"--{option} {path}: {where}; expected a file of its own")


def _emit(data: dict, text: str, json_out: Path | None) -> None:
    if json_out is not None and str(json_out) == "-":
        print(json.dumps(data, indent=2))
        return
    print(text)
    if json_out is not None:
        json_out.write_text(json.dumps(data, indent=2) + "\n")


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, "
                                             f"got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value
    return parse


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("netsynth")
    except PackageNotFoundError:
        return "(not installed)"


def _input_error(message: str) -> NetsynthError:
    from dsl.errors import SpecError

    return SpecError(message)


if __name__ == "__main__":
    sys.exit(main())
