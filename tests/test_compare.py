"""`netsynth compare` and `netsynth.compare` on real trained networks.

Independent truths: the task's function written here in numpy over the whole domain, and each
ONNX model queried with ONNX Runtime directly (the encodings and decodings re-implemented here,
as examples/train.py does), never through netsynth's oracle. The grouping's unit tests use Python's
own integers. Integration tests run ONNX Runtime and Z3 (and one, a local Ray).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import netsynth
from dsl.errors import ModelError, SpecError
from dsl.program import Expression
from dsl.types import INT
from netsynth.compare_group import group, outcome
from netsynth.compare_result import Outcome
from verifier.equivalence import Verdict

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TRIO = {name: EXAMPLES / "trio" / name for name in ("wide_relu", "deep_tanh", "scaled_gelu")}
XOR = EXAMPLES / "other_task" / "xor_relu"
XY = {"x": INT, "y": INT}
RANGES = {"x": (0, 15), "y": (0, 15)}


def add(x, y):
    return (x + y) % 16


def xor(x, y):
    return x ^ y


def grid() -> tuple[np.ndarray, np.ndarray]:
    x, y = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    return x.ravel(), y.ravel()


def encode(spec: dict, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    cols = []
    for inp, v in zip(spec["inputs"], (x, y)):
        lo, hi = inp["range"]
        if inp["encoding"] == "one_hot":
            cols.append(np.eye(hi - lo + 1, dtype=np.float32)[v - lo])
        elif inp["encoding"] == "bits":
            cols.append(((v[:, None] >> np.arange(inp["width"])) & 1).astype(np.float32))
        else:
            cols.append(((v - inp["offset"]) / inp["scale"]).astype(np.float32)[:, None])
    return np.concatenate(cols, axis=1)


def decode(spec: dict, out: np.ndarray) -> np.ndarray:
    o = spec["output"]
    if o["decoding"] == "argmax":
        return o["range"][0] + out.argmax(1)
    return ((out > 0) * (1 << np.arange(out.shape[1]))).sum(1)


def onnx_outputs(folder: Path, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """What the network in `folder` answers at (x, y), asked through ONNX Runtime directly."""
    import onnxruntime as ort

    spec = json.loads((folder / "spec.json").read_text())
    session = ort.InferenceSession((folder / "model.onnx").read_bytes(),
                                   providers=["CPUExecutionProvider"])
    return decode(spec, session.run(None, {"x": encode(spec, x, y)})[0])


def agrees_everywhere(program, truth) -> bool:
    x, y = grid()
    f = program.function()
    return all(f(int(a), int(b)) == int(t) for a, b, t in zip(x, y, truth(x, y)))


def netsynth_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netsynth.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT,
                          env={"RAY_USAGE_STATS_ENABLED": "0", "PATH": "/usr/bin:/bin"})


# ---- the grouping, on programs (no model) --------------------------------------------------------

def p(text: str) -> Expression:
    return Expression.parse(text, XY)


def test_programs_proved_equal_share_a_group_and_a_counterexample_splits_them():
    programs = [p("(x + y) % 16"), p("(x + y) & 15"), p("x ^ y")]
    groups, relations, index = group(programs, ["a", "b", "c"], ranges=RANGES)
    assert index == (0, 0, 1) and [g.members for g in groups] == [("a", "b"), ("c",)]
    assert groups[0].program.show() == "(x + y) % 16"
    assert [e.verdict for e in groups[0].proofs] == [Verdict.EQUIVALENT] * 2
    (r,) = relations
    assert (r.a, r.b, r.verdict) == (0, 1, Verdict.COUNTEREXAMPLE)
    point = dict(r.equivalence.counterexample.inputs)
    assert r.equivalence.counterexample.reference == add(**point) != xor(**point)
    assert r.equivalence.counterexample.program == xor(**point)
    assert outcome(groups, relations) is Outcome.SEVERAL


def test_the_smallest_program_is_shared_and_groups_keep_the_networks_order():
    programs = [p("x ^ y"), p("((x + y) & 15) | 0"), p("(x + y) % 16")]
    groups, relations, index = group(programs, ["a", "b", "c"], ranges=RANGES)
    assert index == (0, 1, 1)
    assert groups[1].program.show() == "(x + y) % 16" and groups[1].members == ("b", "c")
    point = dict(relations[0].equivalence.counterexample.inputs)   # group 1 is a, x ^ y
    assert relations[0].equivalence.counterexample.reference == xor(**point)
    assert relations[0].equivalence.counterexample.program == add(**point)


def test_unknown_is_reported_as_unknown_never_as_equal():
    wide = {"x": (0, 15), "y": (0, 5000)}        # x << y needs more bits than Z3 is given
    groups, relations, index = group([p("x << y"), p("(x << y) | 0")], ["a", "b"], ranges=wide)
    assert index == (0, 1) and len(groups) == 2
    (r,) = relations
    assert r.verdict is Verdict.UNKNOWN and "bit" in r.equivalence.reason
    assert outcome(groups, relations) is Outcome.UNDECIDED


def test_a_network_without_a_program_is_undecided_against_the_others():
    groups, relations, _ = group([p("x ^ y"), None], ["a", "b"], ranges=RANGES)
    assert [g.program is None for g in groups] == [False, True]
    assert relations[0].verdict is Verdict.UNKNOWN and "b" in relations[0].equivalence.reason
    assert outcome(groups, relations) is Outcome.UNDECIDED


def test_compare_is_the_function_even_after_its_module_is_imported():
    import netsynth.compare_result  # noqa: F401
    from netsynth.compare import compare

    assert netsynth.compare is compare and callable(netsynth.compare)


# ---- bad input, in Python and on the command line ------------------------------------------------

@pytest.fixture(scope="module")
def bad_specs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("specs")
    base = json.loads((TRIO["wide_relu"] / "spec.json").read_text())
    base["model"] = str(TRIO["wide_relu"] / "model.onnx")
    variants = {
        "renamed": {"inputs": [dict(i, name=n) for i, n in zip(base["inputs"], "ab")]},
        "misfit": {"model": str(TRIO["deep_tanh"] / "model.onnx")},
        "boolean": {"output": {"type": "bool"}},
        "apart": {"inputs": [dict(i, range=[20, 30]) for i in base["inputs"]]},
    }
    out = {}
    for name, change in variants.items():
        out[name] = folder / f"{name}.json"
        out[name].write_text(json.dumps({**base, "name": name, **change}))
    return out


WIDE = str(TRIO["wide_relu"] / "spec.json")


@pytest.mark.parametrize("case, error, fragment", [
    ("renamed", SpecError, r"renamed: inputs are \['a', 'b'\], but wide_relu's are \['x', 'y'\]"),
    ("boolean", SpecError, "output type is bool, but wide_relu's is int"),
    ("apart", SpecError, r"training ranges do not overlap \(wide_relu \[0, 15\], apart \[20, 30\]\)"),
    pytest.param("misfit", ModelError, "misfit: model: input width is 16 but the spec's "
                 "encodings give 32", marks=pytest.mark.integration),     # opens the models
])
def test_specs_that_differ_or_a_model_that_does_not_fit_are_refused(bad_specs, case, error,
                                                                     fragment):
    with pytest.raises(error, match=fragment):
        netsynth.compare(WIDE, bad_specs[case])


def test_fewer_than_two_networks_or_a_muddled_call_are_refused():
    with pytest.raises(SpecError, match="at least two networks, got 1"):
        netsynth.compare(WIDE)
    with pytest.raises(SpecError, match="at least two networks, got 1"):
        netsynth.compare(WIDE, models=[TRIO["wide_relu"] / "model.onnx"])
    with pytest.raises(SpecError, match="network 2: expected a spec"):
        netsynth.compare(WIDE, str(TRIO["wide_relu"] / "model.onnx"))
    with pytest.raises(SpecError, match="spec=... goes with models"):
        netsynth.compare(WIDE, spec=WIDE)
    with pytest.raises(SpecError, match="max_sise"):
        netsynth.compare(WIDE, WIDE, max_sise=3)


@pytest.mark.integration
@pytest.mark.parametrize("case, fragment", [
    ("renamed", "compare needs the same input names"),
    ("misfit", "input width is 16"),
    ("one", "at least two networks, got 1"),
])
def test_the_cli_refuses_bad_input_with_exit_2_and_no_traceback(bad_specs, case, fragment):
    args = [WIDE] if case == "one" else [WIDE, str(bad_specs[case])]
    proc = netsynth_cli("compare", *args, "--no-progress")
    assert proc.returncode == 2, proc.stderr
    assert fragment in proc.stderr and "netsynth: error:" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.integration
def test_the_trio_and_the_other_task_are_small_and_right_as_examples_readme_says():
    import re

    rows = {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(
        r"\| `((?:trio|other_task)/\w+)` \|.*?\| (\d+) / (\d+) \|",
        (EXAMPLES / "README.md").read_text())}
    x, y = grid()
    folders = {**{f"trio/{n}": (f, add) for n, f in TRIO.items()}, "other_task/xor_relu": (XOR, xor)}
    assert set(rows) == set(folders)
    for name, (folder, truth) in folders.items():
        assert (folder / "model.onnx").stat().st_size < 200_000
        assert rows[name] == (int((onnx_outputs(folder, x, y) == truth(x, y)).sum()), 256) \
            == (256, 256)


# ---- the trio: one task, three networks ----------------------------------------------------------

@pytest.fixture(scope="module")
def trio():
    return netsynth.compare(*(TRIO[n] / "spec.json" for n in TRIO))


@pytest.mark.integration
def test_the_trio_shares_one_program_that_is_the_task(trio):
    assert trio.outcome is Outcome.ONE and len(trio.groups) == 1 and trio.relations == ()
    (g,) = trio.groups
    assert g.members == tuple(TRIO) and agrees_everywhere(g.program, add)
    assert all(e.verdict is Verdict.EQUIVALENT for e in g.proofs)
    assert all(m.report.solved and m.group == 0 for m in trio.members)


@pytest.mark.integration
def test_each_networks_fidelity_to_the_shared_program_is_its_accuracy_on_the_task(trio):
    x, y = grid()
    outputs = {}
    for name, folder in TRIO.items():
        outputs[name] = onnx_outputs(folder, x, y)
        f = trio.member(name).fidelity
        assert f.exhaustive and f.total == 256
        assert f.agree == int((outputs[name] == add(x, y)).sum())
    for pair in trio.pairs:                      # the networks against each other
        assert pair.checked == 256 and pair.exhaustive
        assert pair.differ == int((outputs[pair.a] != outputs[pair.b]).sum())


@pytest.mark.integration
def test_departures_beyond_the_training_range_are_what_the_networks_answer_there(trio):
    from oracle import load_spec, sampling

    wide = trio.member("wide_relu")
    assert wide.beyond is None and "one_hot" in wide.beyond_note
    for name in ("deep_tanh", "scaled_gelu"):
        m = trio.member(name)
        assert m.beyond is not None and not m.beyond.exhaustive
        columns = sampling.beyond_range(load_spec(TRIO[name] / "spec.json"), 4096, seed=0)
        bx, by = columns["x"], columns["y"]
        assert ((bx < 0) | (bx > 15) | (by < 0) | (by > 15)).all()
        truth = onnx_outputs(TRIO[name], bx, by)
        assert m.beyond.total == len(bx)
        assert m.beyond.total - m.beyond.agree == int((truth != add(bx, by)).sum())
        assert m.beyond.disagreements
        for d in m.beyond.disagreements:
            point = dict(d.inputs)
            assert d.program == add(**point) != d.network
            assert d.network == onnx_outputs(TRIO[name], np.array([point["x"]]),
                                             np.array([point["y"]]))[0]


@pytest.mark.integration
def test_speed_and_size_set_each_network_against_the_shared_program(trio):
    import onnx

    for name, folder in TRIO.items():
        m = trio.member(name)
        model = onnx.load_from_string((folder / "model.onnx").read_bytes())
        params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
        assert m.size.network_parameters == params
        assert m.size.network_bytes == (folder / "model.onnx").stat().st_size
        assert m.size.program_nodes == 5
        assert m.speed.network_us_per_query > 0 and m.speed.program_us_per_query > 0


@pytest.mark.integration
def test_the_result_is_immutable_json_and_one_page_of_text_and_html(trio):
    with pytest.raises(dataclasses.FrozenInstanceError):
        trio.outcome = Outcome.SEVERAL
    data = json.loads(json.dumps(trio.to_dict()))
    assert data["outcome"] == "one program" and data["groups"][0]["program"] == "(x + y) % 16"
    assert [n["name"] for n in data["networks"]] == list(TRIO)
    assert data["ranges"] == {"x": [0, 15], "y": [0, 15]} and data["points"] == 256
    text = str(trio)
    assert text.startswith("netsynth compare: 3 networks, one program")
    assert "group 1   (x + y) % 16   shared by wide_relu, deep_tanh, scaled_gelu" in text
    for name in TRIO:
        assert name in text
    assert "agree on all 256" in text and "not measurable" in text and "256/256 (100%)" in text
    page = trio._repr_html_()
    assert page.count("<table>") == 4 and "<script" not in page and "(x + y) % 16" in page


@pytest.mark.integration
def test_a_network_that_learnt_the_task_imperfectly_departs_where_it_errs():
    noisy = EXAMPLES / "noisy_add"              # the same task, 5 labels wrong on purpose
    result = netsynth.compare(TRIO["wide_relu"] / "spec.json", noisy / "spec.json",
                              verify=False, min_agreement=0.95)
    assert result.outcome is Outcome.ONE and agrees_everywhere(result.groups[0].program, add)
    x, y = grid()
    answers = onnx_outputs(noisy, x, y)
    wrong = np.flatnonzero(answers != add(x, y))
    f = result.member("noisy_add").fidelity
    assert f.agree == 256 - len(wrong) == 251
    assert [(dict(d.inputs)["x"], dict(d.inputs)["y"], d.network, d.program)
            for d in f.disagreements] == [(x[k], y[k], answers[k], add(x[k], y[k])) for k in wrong]
    (pair,) = result.pairs
    assert pair.differ == len(wrong)
    assert "251/256 (98.05%)" in str(result)


# ---- another task swapped in: two groups ---------------------------------------------------------

@pytest.mark.integration
def test_swapping_in_a_network_of_another_task_gives_two_groups():
    result = netsynth.compare(TRIO["wide_relu"] / "spec.json", TRIO["deep_tanh"] / "spec.json",
                              XOR / "spec.json", verify=False)
    assert result.outcome is Outcome.SEVERAL
    assert [g.members for g in result.groups] == [("wide_relu", "deep_tanh"), ("xor_relu",)]
    assert agrees_everywhere(result.groups[0].program, add)
    assert agrees_everywhere(result.groups[1].program, xor)
    (r,) = result.relations
    assert r.verdict is Verdict.COUNTEREXAMPLE
    c = r.equivalence.counterexample
    point = dict(c.inputs)
    assert c.reference == add(**point) and c.program == xor(**point) and c.reference != c.program
    x, y = grid()
    wide, other = onnx_outputs(TRIO["wide_relu"], x, y), onnx_outputs(XOR, x, y)
    pair = next(q for q in result.pairs if (q.a, q.b) == ("wide_relu", "xor_relu"))
    assert pair.differ == int((wide != other).sum()) > 0 and len(pair.points) == 5
    for q in pair.points:
        k = dict(q.inputs)["x"] * 16 + dict(q.inputs)["y"]
        assert (q.a, q.b) == (wide[k], other[k])
    assert result.member("xor_relu").fidelity.agree == int((other == xor(x, y)).sum())
    assert "2 groups, proved different" in str(result)


@pytest.mark.integration
def test_the_cli_compares_several_models_under_one_spec(tmp_path):
    out = tmp_path / "compare.json"
    proc = netsynth_cli("compare", WIDE, "--model", str(TRIO["wide_relu"] / "model.onnx"),
                        "--model", str(XOR / "model.onnx"), "--no-verify", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["outcome"] == "several programs"
    assert [(g["program"], g["members"]) for g in data["groups"]] == [
        ("(x + y) % 16", ["wide_relu"]), ("x ^ y", ["xor_relu"])]
    assert "2 groups, proved different" in proc.stdout and "group 2   x ^ y" in proc.stdout
    assert "netsynth: xor_relu: solved, x ^ y" in proc.stderr


@pytest.mark.integration
def test_ray_tasks_give_the_same_groups_as_in_process():
    import ray

    was_up = ray.is_initialized()
    result = netsynth.compare(TRIO["wide_relu"] / "spec.json", XOR / "spec.json", verify=False,
                              workers=2)
    assert ray.is_initialized() == was_up        # an embedded Ray it started is shut down
    assert result.execution.mode == "ray tasks" and result.execution.workers == 2
    assert [(g.program.show(), g.members) for g in result.groups] == [
        ("(x + y) % 16", ("wide_relu",)), ("x ^ y", ("xor_relu",))]
    assert result.member("xor_relu").report.search.workers == 1
