"""The portfolio: strategies race as Ray tasks, the first acceptable answer wins, the rest stop.

The network is a lookup table exported to ONNX here (raw inputs x, y in 0..15, `round` decoding),
so the truth of each test is the table's function, computed with numpy. Its target
`7 if x == y else x` is found by the conditional search in about a second, while plain
enumeration (no conditionals) has nothing small that fits and runs until stopped. One local Ray
instance (2 CPUs) serves the module; whether a cancelled task really stopped is read from Ray's
own resource accounting (CPUs free again), never from a sleep.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from dsl import evaluate, get_dsl
from dsl.errors import SpecError
from oracle import load_spec, sampling
from synth import portfolio as pf
from netsynth.api import synthesize
from synth.int_engine.engine import InProcess
from synth.outcome import StopReason
from synth.search import SearchOptions
from test_distributed import poll

ROOT = Path(__file__).resolve().parents[1]
DSL = get_dsl("int")
SPEC = {"name": "seven_on_diagonal",
        "inputs": [{"name": "x", "type": "int", "range": [0, 15]},
                   {"name": "y", "type": "int", "range": [0, 15]}],
        "output": {"type": "int", "range": [0, 15], "decoding": "round"}}
PLAIN = pf.Strategy.of("plain", conditionals=False)
CONDITIONAL = pf.Strategy.of("conditional")


def truth(env: dict[str, np.ndarray]) -> np.ndarray:
    return np.where(env["x"] == env["y"], 7, env["x"])


def table_model() -> bytes:
    """ONNX: out[i] = table[16 x + y] (indices clipped to the table), one float column."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    xs, ys = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    table = truth({"x": xs.ravel(), "y": ys.ravel()}).astype(np.float32)[:, None]
    nodes = [helper.make_node("MatMul", ["X", "radix"], ["flat"]),
             helper.make_node("Round", ["flat"], ["rounded"]),
             helper.make_node("Cast", ["rounded"], ["index2"], to=TensorProto.INT64),
             helper.make_node("Reshape", ["index2", "shape"], ["index"]),
             helper.make_node("Clip", ["index", "lo", "hi"], ["clipped"]),
             helper.make_node("Gather", ["table", "clipped"], ["Y"], axis=0)]
    weights = [numpy_helper.from_array(np.array([[16.0], [1.0]], np.float32), "radix"),
               numpy_helper.from_array(np.array([-1], np.int64), "shape"),
               numpy_helper.from_array(np.array(0, np.int64), "lo"),
               numpy_helper.from_array(np.array(255, np.int64), "hi"),
               numpy_helper.from_array(table, "table")]
    graph = helper.make_graph(nodes, "table", [helper.make_tensor_value_info(
        "X", TensorProto.FLOAT, [None, 2])], [helper.make_tensor_value_info(
            "Y", TensorProto.FLOAT, [None, 1])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture(scope="module")
def problem():
    return load_spec(SPEC), table_model()


# ---- unit: strategies and bad portfolios, no Ray ----------------------------------------------

def test_a_strategy_changes_only_the_fields_it_names():
    base = SearchOptions(timeout=9, max_size=7, workers=4, seed=3)
    options = pf.Strategy.of("wide", sample_size=512).options(base)
    assert (options.sample_size, options.max_size, options.seed, options.timeout) == \
        (512, 7, 3, 9)
    assert options.workers == 1 and options.ray_address is None   # each runs in-process
    assert [s.name for s in pf.DEFAULT] == ["conditional", "plain", "wide-sample"]


@pytest.mark.parametrize("make, fragment", [
    (lambda: pf.Strategy.of("s", workers=3), "cannot set 'workers'"),
    (lambda: pf.Strategy.of("s", min_agreement=0.5), "cannot set 'min_agreement'"),
    (lambda: pf.Strategy.of("s", sample=3), "cannot set 'sample'"),
    (lambda: pf.run(load_spec(SPEC), b"", strategies=[PLAIN], options=SearchOptions(workers=1)),
     "needs workers >= 2, got 1"),
    (lambda: pf.run(load_spec(SPEC), b"", strategies=[PLAIN, PLAIN],
                    options=SearchOptions(workers=2)), "got ['plain'] more than once"),
    (lambda: pf.run(load_spec(SPEC), b"", strategies=[pf.Strategy.of("d", dsl="/no/such.lark")],
                    options=SearchOptions(workers=2)), "does not exist"),
    (lambda: synthesize(SPEC, table_model(), executor=InProcess(), portfolio=pf.DEFAULT),
     "either `executor` or `portfolio`"),
])
def test_bad_portfolios_are_refused_before_ray_starts(make, fragment):
    with pytest.raises(ValueError) as caught:           # SpecError and DSLError both are
        make()
    assert fragment in str(caught.value)
    if "cannot set" in fragment or "workers" in fragment or "once" in fragment:
        assert isinstance(caught.value, SpecError)


# ---- integration: real Ray tasks ----------------------------------------------------------------

@pytest.mark.integration
def test_the_first_acceptable_answer_wins_and_the_others_are_cancelled(ray_instance, problem):
    spec, model = problem
    race = pf.run(spec, model, strategies=[PLAIN, CONDITIONAL],
                  options=SearchOptions(timeout=300, workers=2))
    assert race.winner == CONDITIONAL
    assert race.result.accepted and race.result.stop_reason is StopReason.SOLVED
    domain = sampling.domain(spec)
    assert np.array_equal(evaluate(race.result.program, domain, dsl=DSL).values, truth(domain))
    states = {o.strategy.name: o.state for o in race.outcomes}
    assert states == {"conditional": "won", "plain": "cancelled"}
    won = race.outcomes[1]
    assert won.program == DSL.show(race.result.program)
    assert race.result.backend["kind"] == "ray" and race.result.backend["tasks"] == 2
    # plain had 300 s left: only a real cancel gives its CPU back.
    assert _cpus_free(ray_instance), "the cancelled strategy still holds a CPU"
    assert ray_instance.is_initialized()          # a Ray it did not start is left running


@pytest.mark.integration
def test_without_an_acceptable_answer_the_best_is_reported_honestly(ray_instance, problem):
    spec, model = problem
    small = [pf.Strategy.of("plain-4", conditionals=False, max_size=4),
             pf.Strategy.of("conditional-4", max_size=4),     # the answer has 5 nodes
             pf.Strategy.of("plain-2", conditionals=False, max_size=2)]
    race = pf.run(spec, model, strategies=small, options=SearchOptions(timeout=300, workers=2))
    assert not race.result.accepted
    assert race.result.stop_reason is StopReason.EXHAUSTED
    assert sorted(o.state for o in race.outcomes) == ["best", "finished", "finished"]
    domain = sampling.domain(spec)
    agreement = np.mean(evaluate(race.result.program, domain, dsl=DSL).values == truth(domain))
    assert race.result.agreement == pytest.approx(agreement) and agreement < 1.0
    best = max(o.result.agreement for o in race.outcomes)
    assert race.result.agreement == best
    reported = next(o for o in race.outcomes if o.state == "best")
    assert reported.strategy == race.winner and reported.result.agreement == best


@pytest.mark.integration
def test_cancel_stops_every_task(ray_instance, problem):
    spec, model = problem
    hopeless = [PLAIN, pf.Strategy.of("plain-seed-1", conditionals=False, seed=1),
                pf.Strategy.of("queued", conditionals=False, seed=2)]
    cancel, out = threading.Event(), {}
    race = threading.Thread(target=lambda: out.update(race=pf.run(
        spec, model, strategies=hopeless, options=SearchOptions(timeout=300, workers=2),
        cancel=cancel)))
    race.start()
    try:
        assert poll(lambda: ray_instance.available_resources().get("CPU", 0) == 0), \
            "the two strategies were never seen running"
        cancel.set()
        race.join(60)
        assert not race.is_alive()
    finally:
        cancel.set()
        race.join(60)
    result = out["race"]
    assert result.winner is None and result.result.program is None
    assert result.result.stop_reason is StopReason.CANCELLED
    assert [o.state for o in result.outcomes] == ["cancelled", "cancelled", "not started"]
    assert result.result.backend["tasks"] == 2          # the third never got a worker
    assert _cpus_free(ray_instance), "cancelled strategies still hold CPUs"


@pytest.mark.integration
def test_extract_with_a_portfolio_names_the_winner(ray_instance, problem):
    import netsynth

    _, model = problem
    report = netsynth.extract(model, SPEC, portfolio=[PLAIN, CONDITIONAL], workers=2,
                              timeout=300, verify=False)
    assert report.solved and report.search.strategy == "conditional"
    assert [(o["name"], o["outcome"]) for o in report.search.portfolio] == \
        [("plain", "cancelled"), ("conditional", "won")]
    spec = load_spec(SPEC)
    domain = sampling.domain(spec)
    found = DSL.parse(report.text, spec.variables())
    assert np.array_equal(evaluate(found, domain).values, truth(domain))
    assert "portfolio plain cancelled; conditional won" in report.render()
    assert _cpus_free(ray_instance)


# ---- the command line ---------------------------------------------------------------------------

def netsynth_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netsynth.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT,
                          env={"RAY_USAGE_STATS_ENABLED": "0", "PATH": "/usr/bin:/bin"})


@pytest.mark.integration
def test_cli_portfolio_reports_the_winning_strategy(tmp_path):
    out = tmp_path / "report.json"
    spec_path = ROOT / "examples" / "abs_diff" / "spec.json"
    proc = netsynth_cli("run", str(spec_path), "--portfolio", "--workers", "2",
                        "--no-progress", "--no-verify", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["status"] == "solved"
    search = report["search"]
    assert set(search) >= {"seconds", "candidates", "distinct", "workers", "backend",
                           "strategy", "portfolio"}
    assert [o["name"] for o in search["portfolio"]] == [s.name for s in pf.DEFAULT]
    won = [o for o in search["portfolio"] if o["outcome"] == "won"]
    assert [o["name"] for o in won] == [search["strategy"]]
    assert won[0]["program"] == report["program"]
    assert {o["outcome"] for o in search["portfolio"]} <= {"won", "cancelled", "finished",
                                                          "not started"}
    assert search["backend"]["kind"] == "ray"
    # Independent truth: the spec's reference, evaluated over the whole domain.
    spec = load_spec(spec_path)
    domain = sampling.domain(spec)
    reference = DSL.parse(spec.reference, spec.variables())
    found = DSL.parse(report["program"], spec.variables())
    assert np.array_equal(evaluate(found, domain).values, evaluate(reference, domain).values)


def test_cli_portfolio_with_one_worker_is_bad_input():
    proc = netsynth_cli("run", "examples/abs_diff/spec.json", "--portfolio", "--workers", "1",
                        "--no-progress")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "--portfolio" in proc.stderr and "--workers >= 2, got 1" in proc.stderr
    assert "Traceback" not in proc.stderr


def _cpus_free(ray, attempts: int = 600) -> bool:
    total = ray.cluster_resources()["CPU"]
    return poll(lambda: ray.available_resources().get("CPU", 0) == total, attempts=attempts)


@pytest.mark.integration
def test_a_user_dsl_winner_is_verified_in_its_dsl_without_reopening_the_model(
        ray_instance, problem, monkeypatch):
    """The winner searched in a user DSL: the report shows and verifies its program in that DSL,
    on the network the driver already opened (one load, counted on the real loader)."""
    import netsynth
    import oracle.core

    fixture = ROOT / "tests" / "dsl_user" / "clamp.lark"
    loads = []
    real_load = oracle.core.load

    def counted(*args, **kwargs):
        loads.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(oracle.core, "load", counted)
    _, model = problem
    report = netsynth.extract(model, SPEC, portfolio=[pf.Strategy.of("clamp", dsl=str(fixture))],
                              workers=2, timeout=300)
    assert len(loads) == 1
    assert report.solved and report.search.strategy == "clamp"
    assert report.spec.dsl == str(fixture) and report.program.dsl is get_dsl(fixture)
    assert report.verification is not None and report.verification.holds
    spec = load_spec(SPEC)
    domain = sampling.domain(spec)
    assert np.array_equal(report.program.evaluate(domain).values, truth(domain))
