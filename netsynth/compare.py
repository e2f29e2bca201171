"""Several networks, one question: what do they compute in common, and where does each depart?

    >>> import netsynth
    >>> result = netsynth.compare("examples/trio/wide_relu/spec.json",
    ...                           "examples/trio/deep_tanh/spec.json",
    ...                           "examples/trio/scaled_gelu/spec.json")
    >>> result.outcome, result.groups[0].program.show()
    (<Outcome.ONE: 'one program'>, '(x + y) % 16')

`compare(*networks, spec=None, models=None, verify=True, progress=None, max_listed=5, **options)
-> CompareReport` (netsynth/compare_result.py). Each network is a spec that names its model (a
path, JSON text, a dict or a Spec), or a (model, spec) pair in either order (the model a path,
ONNX bytes or a trusted torch module); or give one `spec` and several `models`. Networks may
differ in their encodings, but their specs must name the same inputs (in the same order, with the
same types), the same output type, the same DSL and the same kind (`Spec.family`), and their
training ranges must overlap (sequence networks: the same steps, overlapping lengths). Every kind
of network is compared: int and bool functions here, the others through
netsynth/compare_kinds.py.

Every network is extracted with the same options (`synth.options.SearchOptions`, checked as
`netsynth.extract` checks them; `timeout` is per network) through `netsynth.api.synthesize`:
in-process one after another by default, or as Ray tasks, at most `workers` at a time, when
`workers` > 1 or `ray_address` is given (each task runs the ordinary in-process search on one
CPU; docs/compare.md says why this rather than one Ray search per network). The programs are
then grouped by the verifier (netsynth/compare_group.py) and each network is measured against
its group's program (by its family's verifier, for the kinds other than functions). Raises SpecError for fewer than two networks or specs that differ,
ModelError for a model that cannot be opened or does not fit its spec, before any search starts.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from netsynth.compare_result import CompareReport

__all__ = ["compare"]

SHARED_SAMPLE = 65_536          # points of the shared domain compared when it is larger than 2^20


def __getattr__(name: str) -> Any:          # the result types, without importing them eagerly
    if name in ("CompareReport", "Outcome", "Group", "Member", "Pair", "Relation", "Execution"):
        from netsynth import compare_result

        return getattr(compare_result, name)
    raise AttributeError(f"module 'netsynth.compare' has no attribute {name!r}")


@dataclass(frozen=True)
class Network:
    name: str
    spec: Any                    # oracle.spec.Spec
    model: Any                   # a Path, ONNX bytes or a torch module
    shown: str                   # where it came from, for the report


def compare(*networks: Any, spec: Any = None, models: Sequence[Any] | None = None,
            verify: bool = True, progress: bool | Callable[[str], None] | None = None,
            max_listed: int = 5, cancel: Any = None, **options: Any) -> CompareReport:
    """Extract from every network, group them by equivalent program, report; see the module doc.

    `verify` runs each extraction's own checks (Z3 against its reference, Hypothesis, speed);
    `progress` is True (a line on stderr per network) or a callable receiving that line;
    `max_listed` caps the points listed per disagreement (the counts cover every point);
    `cancel` (a threading.Event) stops the searches: each keeps its best program so far.
    """
    from dsl.errors import SpecError
    from netsynth.compare_extract import extract
    from synth.options import SearchOptions

    began = time.monotonic()
    nets = _networks(networks, spec, models)
    if len(nets) < 2:
        raise SpecError(f"compare: expected at least two networks, got {len(nets)}")
    if not isinstance(max_listed, int) or isinstance(max_listed, bool) or max_listed < 0:
        raise SpecError(f"max_listed: expected an integer >= 0, got {max_listed!r}")
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise SpecError(f"progress: expected True, False or a callable, got {progress!r}")
    say = (lambda line: print(f"netsynth: {line}", file=sys.stderr)) if progress is True \
        else (progress or None)
    options.setdefault("workers", 1)
    from netsynth.api import family_defaults

    checked = SearchOptions.from_mapping({**family_defaults(nets[0].spec), **options})
    ranges = _shared_ranges(nets)
    oracles = [_open(n) for n in nets]
    training = [getattr(n.model, "training", None) if hasattr(n.model, "parameters") else None
                for n in nets]
    try:
        reports, execution = extract(nets, checked, verify=verify, say=say, cancel=cancel)
    finally:
        for n, mode in zip(nets, training):
            if mode is not None:
                n.model.train(mode)
    return _judge(nets, oracles, reports, ranges, checked, execution, max_listed, began)


# ---- the networks ------------------------------------------------------------------------------

def _networks(items: Sequence[Any], spec: Any, models: Sequence[Any] | None) -> list[Network]:
    """(name, spec, model) for each network the caller named, every spec loaded and checked."""
    from dsl.errors import SpecError
    from netsynth import _describe, _is_spec

    if models is not None:
        if isinstance(models, (str, Path, bytes)):
            raise SpecError(f"models: expected a list of models, got {_describe(models)}")
        if spec is None and len(items) == 1:
            spec, items = items[0], ()
        if spec is None or items:
            raise SpecError(f"compare: with models=[...], give exactly one spec for them all "
                            f"(spec=... or one argument), got {len(items) + (spec is not None)}")
        base = _load(spec)
        pairs = [(m, base) for m in models]
    elif spec is not None:
        raise SpecError("compare: spec=... goes with models=[...]; to compare specs that each "
                        "name their model, pass them as arguments")
    else:
        pairs = []
        for k, item in enumerate(items):
            if isinstance(item, tuple) and len(item) == 2:
                a, b = item
                model, sp = (b, a) if _is_spec(a) and not _is_spec(b) else (a, b)
                pairs.append((model, _load(sp)))
            elif _is_spec(item):
                pairs.append((None, _load(item)))
            else:
                raise SpecError(f"compare: network {k + 1}: expected a spec that names its model "
                                f"(a .json or .toml path, JSON text, a dict or a Spec) or a "
                                f"(model, spec) pair, got {_describe(item)}")
    return _named([(_model_of(m, s), s) for m, s in pairs])


def check_alike(specs: Sequence[Any]) -> None:
    """SpecError unless networks of these specs can be compared (the checks `compare` makes on
    its specs before any search): the job service runs it on a submission."""
    _shared_ranges(_named([(b"", _load(s)) for s in specs]))


def _load(spec: Any) -> Any:
    from dsl.errors import SpecError
    from netsynth.api import load_spec

    try:
        return load_spec(spec)
    except SpecError as e:
        where = f"{spec}: " if isinstance(spec, (str, Path)) and not str(spec).lstrip().startswith("{") else ""
        raise SpecError(f"{where}{e}") from None


def _model_of(model: Any, spec: Any) -> Any:
    from dsl.errors import ModelError

    model = spec.model if model is None else model
    if model is None:
        raise ModelError(f"{spec.name}: the spec names no model and none was given")
    if isinstance(model, (str, Path)):
        model = Path(model)
        if not model.is_file():
            raise ModelError(f"{spec.name}: model: no such file {str(model)!r}")
    return model


def _named(pairs: list[tuple[Any, Any]]) -> list[Network]:
    """Each network's name: its spec's, or where its model came from when specs share a name."""
    def origin(k: int, model: Any) -> str:
        if isinstance(model, Path):
            return model.parent.name if model.stem == "model" and model.parent.name else model.stem
        return f"model {k + 1}" if isinstance(model, (bytes, bytearray)) else type(model).__name__

    names = [s.name for _, s in pairs]
    if len(set(names)) < len(names):
        names = [origin(k, m) for k, (m, _) in enumerate(pairs)]
    taken = [n if names.count(n) == 1 else f"{n}#{k + 1}" for k, n in enumerate(names)]
    return [Network(name, s, m, str(m) if isinstance(m, Path) else origin(k, m))
            for k, (name, (m, s)) in enumerate(zip(taken, pairs))]


def _shared_ranges(nets: list[Network]) -> dict[str, tuple[int, int]]:
    """The ranges every network was trained on, after checking that the specs are alike."""
    from dsl.errors import SpecError

    first = nets[0]
    for n in nets[1:]:
        a, b = first.spec, n.spec
        if a.family != b.family:
            raise SpecError(f"{n.name}: family is {b.family!r}, but {first.name}'s is "
                            f"{a.family!r}; compare needs one kind of network (the same family)")
        if (a.sequence is None) != (b.sequence is None) or (
                a.sequence is not None and a.sequence.output != b.sequence.output):
            shown = lambda s: "no sequence section" if s is None else f"sequence.output {s.output!r}"  # noqa: E731
            raise SpecError(f"{n.name}: {shown(b.sequence)}, but {first.name}'s has "
                            f"{shown(a.sequence)}; compare needs networks that read and answer "
                            f"alike")
        if a.input_names != b.input_names:
            raise SpecError(f"{n.name}: inputs are {list(b.input_names)}, but {first.name}'s are "
                            f"{list(a.input_names)}; compare needs the same input names in the "
                            f"same order")
        for i, j in zip(a.inputs, b.inputs):
            if i.type != j.type:
                raise SpecError(f"{n.name}: input {j.name!r} is {j.type}, but {first.name}'s is "
                                f"{i.type}; compare needs the same input types")
        if a.output.type != b.output.type:
            raise SpecError(f"{n.name}: output type is {b.output.type}, but {first.name}'s is "
                            f"{a.output.type}; compare needs the same output type")
        if a.dsl != b.dsl:
            raise SpecError(f"{n.name}: DSL is {b.dsl!r}, but {first.name}'s is {a.dsl!r}; "
                            f"compare needs one DSL for every program")
    ranges = {}
    for k, name in enumerate(first.spec.input_names):
        lo = max(n.spec.inputs[k].lo for n in nets)
        hi = min(n.spec.inputs[k].hi for n in nets)
        if lo > hi:
            each = ", ".join(f"{n.name} [{n.spec.inputs[k].lo}, {n.spec.inputs[k].hi}]" for n in nets)
            raise SpecError(f"inputs.{name}: the networks' training ranges do not overlap ({each})")
        ranges[name] = (lo, hi)
    if first.spec.sequence is not None:
        for n in nets[1:]:
            if n.spec.ranges() != first.spec.ranges():
                raise SpecError(f"{n.name}: steps range over {_shown_ranges(n.spec)}, but "
                                f"{first.name}'s over {_shown_ranges(first.spec)}; compare needs "
                                f"sequence networks with the same steps")
        lo = max(n.spec.sequence.min_len for n in nets)
        hi = min(n.spec.sequence.max_len for n in nets)
        if lo > hi:
            each = ", ".join(f"{n.name} [{n.spec.sequence.min_len}, {n.spec.sequence.max_len}]"
                             for n in nets)
            raise SpecError(f"sequence.length: the networks' training lengths do not overlap "
                            f"({each})")
    return ranges


def _shown_ranges(spec: Any) -> str:
    return ", ".join(f"{name} in [{lo}, {hi}]" for name, (lo, hi) in spec.ranges().items())


def _open(net: Network) -> Any:
    import oracle
    from dsl.errors import ModelError, SpecError

    try:
        return oracle.load(net.spec, net.model)
    except (ModelError, SpecError) as e:
        raise ModelError(f"{net.name}: {e}") from None


# ---- judgement ---------------------------------------------------------------------------------

def _judge(nets, oracles, reports, ranges, options, execution, listed, began):
    """Group the programs and measure every network against its group's program."""
    from oracle import sampling
    from netsynth.compare_group import departures, group, outcome, pairs
    from netsynth.compare_result import CompareReport, Member
    from netsynth.report import Status
    from verifier import speed

    if nets[0].spec.family != "function":
        return _judge_kind(nets, oracles, reports, ranges, options, execution, listed, began)
    names = [n.name for n in nets]
    groups, relations, index = group([r.program for r in reports], names, ranges=ranges)
    members, notes = [], []
    for n, o, r, g in zip(nets, oracles, reports, index):
        shared = groups[g].program
        if shared is None:
            members.append(Member(n.name, n.shown, n.spec, r, g, None, None,
                                  "no program was extracted", None, None))
            continue
        inside, beyond, note = departures(shared, o, listed=listed, seed=options.seed)
        members.append(Member(n.name, n.shown, n.spec, r, g, inside, beyond, note,
                              speed.measure(shared.node, o, seed=options.seed, dsl=shared.dsl),
                              speed.sizes(shared.node, o, dsl=shared.dsl)))
        if r.status is not Status.SOLVED:
            notes.append(f"{n.name}: its extraction ended {r.status}, so it is grouped by the "
                         f"best program found, which does not do all the network does")
    if any(n.spec.ranges() != nets[0].spec.ranges() for n in nets):
        notes.append("the training ranges differ: programs are proved equal on the shared "
                     "ranges, and each network's fidelity is measured on its own domain")
    first = nets[0].spec
    common = replace(first, inputs=tuple(replace(i, lo=ranges[i.name][0], hi=ranges[i.name][1])
                                         for i in first.inputs))
    columns = sampling.domain(common)
    exhaustive = columns is not None
    if columns is None:
        columns = sampling.sample(common, SHARED_SAMPLE, seed=options.seed)
    between = pairs(names, [o.query(columns) for o in oracles], columns, exhaustive=exhaustive,
                    listed=listed)
    execution = replace(execution, total=time.monotonic() - began)
    return CompareReport(outcome(groups, relations), groups, relations, tuple(members), between,
                         tuple(ranges.items()), len(next(iter(columns.values()))), exhaustive,
                         execution, options.to_dict(), tuple(notes))


def _judge_kind(nets, oracles, reports, ranges, options, execution, listed, began):
    """`_judge` for real formulas, rules, programs with state and automata
    (netsynth/compare_kinds.py): each kind's relation groups the programs, its verifier measures
    every network against its group's program; real groups also get their skeleton and each
    member's fitted constants."""
    from netsynth import compare_kinds as kinds
    from netsynth.compare_group import group, outcome
    from netsynth.compare_real import constants
    from netsynth.compare_result import CompareReport, Member
    from netsynth.report import Status

    family, names = nets[0].spec.family, [n.name for n in nets]
    common = kinds.common_spec(nets, ranges)
    prove = kinds.relation(family, common, names, reports, seed=options.seed)
    groups, relations, index = group([r.program for r in reports], names, prove=prove)
    if family == "real":
        own = {n: r.program for n, r in zip(names, reports)}
        opened = dict(zip(names, oracles))
        groups = tuple(replace(g, skeleton=shape, constants=rows) for g in groups
                       for shape, rows in [constants(g.program, g.members, own, opened,
                                                     seed=options.seed)])
    members, notes = [], []
    for n, o, r, g in zip(nets, oracles, reports, index):
        shared = groups[g].program
        if shared is None:
            members.append(Member(n.name, n.shown, n.spec, r, g, None, None,
                                  "no program was extracted", None, None))
            continue
        v = kinds.measure(family, shared, o, n.spec, seed=options.seed)
        members.append(Member(n.name, n.shown, n.spec, r, g, v.fidelity, None,
                              v.follows.note if v.follows is not None else None, v.speed, v.size,
                              follows=v.follows))
        if r.status is not Status.SOLVED:
            notes.append(f"{n.name}: its extraction ended {r.status}, so it is grouped by the "
                         f"best program found, which does not do all the network does")
    if any(n.spec.ranges() != nets[0].spec.ranges() or n.spec.sequence != nets[0].spec.sequence
           for n in nets):
        notes.append("the training domains differ: programs are related on the shared domain, "
                     "and each network's fidelity is measured on its own domain")
    between, points, exhaustive = kinds.between(family, names, oracles, common,
                                                seed=options.seed, listed=listed)
    lengths = None if common.sequence is None else (common.sequence.min_len,
                                                    common.sequence.max_len)
    execution = replace(execution, total=time.monotonic() - began)
    return CompareReport(outcome(groups, relations), groups, relations, tuple(members), between,
                         tuple(ranges.items()), points, exhaustive, execution, options.to_dict(),
                         tuple(notes), family=family, lengths=lengths)
