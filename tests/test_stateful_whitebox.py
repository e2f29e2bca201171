"""White-box help (synth/stateful/whitebox.py, bench/mips/hidden.py): registers from hidden states.

The truths: hidden states built by hand with a known structure (a constant state, a few
well-separated states of a finite machine with small noise, a two-dimensional integer lattice
embedded linearly in 16 dimensions), and a real MIPS network whose hidden states are read from
its own ONNX file (the recurrent node's per-step output made a second graph output) and checked
against the hidden states torch-free ONNX Runtime computes step by step from the GRU's weights.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench_kit import bench_module
from synth.stateful.whitebox import estimate_registers, white_box_registers

pytestmark = pytest.mark.integration          # opens a trained network


def test_a_constant_state_needs_no_register() -> None:
    e = estimate_registers(np.full((50, 10, 8), 0.3))
    assert e.registers == 0 and e.clusters == 1 and e.rank == 0


@settings(max_examples=25, deadline=None)
@given(k=st.integers(2, 12), seed=st.integers(0, 10**6))
def test_a_few_separated_states_are_a_finite_machine(k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, 16))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)    # on a sphere: at least apart
    while True:                                                   # pairwise distances >= 0.5
        d = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(k) * 9
        if d.min() >= 0.5:
            break
        centres = rng.normal(size=(k, 16))
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    which = rng.integers(0, k, size=(200, 12))
    which[0, :k] = np.arange(k)                                   # every state is visited
    states = centres[which] + rng.normal(scale=1e-4, size=(200, 12, 16))
    e = estimate_registers(states)
    assert e.clusters == k and e.registers == 1


def test_a_two_dimensional_integer_lattice_needs_two_registers() -> None:
    rng = np.random.default_rng(1)
    counts = np.cumsum(rng.integers(0, 2, size=(300, 12, 2)), axis=1)      # two counters
    embed = rng.normal(size=(2, 16))
    e = estimate_registers(counts @ embed)
    assert e.clusters is None and e.rank == 2 and e.registers == 2


def test_bad_states_are_refused_naming_the_shape() -> None:
    with pytest.raises(ValueError, match=r"hidden states: .*\(3,\)"):
        estimate_registers(np.zeros(3))


def test_a_real_gru_s_hidden_states_and_the_search_reads_the_estimate() -> None:
    hidden = bench_module("mips", "hidden")
    tasks = bench_module("mips", "tasks")
    task = tasks.BY_NAME["Parity_All"]
    oracle = hidden.HiddenOracle(task)
    x = task.sample(64, 7, np.random.default_rng(2))
    h = oracle.hidden_states(x)
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(hidden.MODELS / task.name / "model.onnx"))
    gru = next(n for n in model.graph.node if n.op_type == "GRU")
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    w, r, b = (init[name][0] for name in gru.input[1:4])        # ONNX gate order z, r, h
    size = r.shape[1]
    enc = np.eye(2)[x[..., 0]]
    state = np.zeros((len(x), size))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    linear = any(a.name == "linear_before_reset" and a.i for a in gru.attribute)
    for t in range(x.shape[1]):
        gx = enc[:, t] @ w.T + b[:3 * size]
        gh = state @ r.T + b[3 * size:]
        z = sig(gx[:, :size] + gh[:, :size])
        rr = sig(gx[:, size:2 * size] + gh[:, size:2 * size])
        if linear:
            cand = np.tanh(gx[:, 2 * size:] + rr * gh[:, 2 * size:])
        else:
            cand = np.tanh(gx[:, 2 * size:] + (rr * state) @ r[2 * size:].T + b[5 * size:])
        state = (1 - z) * cand + z * state
        assert np.allclose(h[:, t], state, atol=1e-4)
    figures: dict = {}
    registers = white_box_registers(oracle, task.sample(500, task.seq_len, np.random.default_rng(3)), figures)
    assert registers == figures["register_estimate"]["registers"] in (0, 1, 2)
    assert figures["register_estimate"]["width"] == size
    assert white_box_registers(object(), x, {}) is None                # a black box: no estimate


def _with_hidden(path) -> bytes:
    """A trained recurrent model's bytes with its recurrent node's Y as a second graph output."""
    import onnx

    model = onnx.load(str(path))
    (node,) = [n for n in model.graph.node if n.op_type in ("GRU", "LSTM", "RNN")]
    model.graph.output.append(onnx.helper.make_tensor_value_info(node.output[0],
                                                                 onnx.TensorProto.FLOAT, None))
    return model.SerializeToString()


def test_a_model_with_its_hidden_states_as_second_output_reaches_the_search() -> None:
    """Through the product's own loader (no bench code): a sequence model may expose its hidden
    states as a second output; the oracle answers as the one-output model does, its states are
    causal (a prefix's states are the first steps of the whole sequence's), and `extract` reports
    the estimate (Div_3's running remainder: one register) beside the program."""
    from pathlib import Path

    import netsynth
    import oracle
    from dsl.errors import ModelError
    from oracle.spec import load_spec

    folder = Path(__file__).resolve().parents[1] / "examples" / "mips_div_3"
    spec = load_spec(folder / "spec.json")
    data = _with_hidden(folder / "model.onnx")
    plain, both = oracle.load(spec, folder / "model.onnx"), oracle.load(spec, data)
    assert not hasattr(plain, "hidden_states") and callable(both.hidden_states)
    x = np.random.default_rng(3).integers(0, 2, (64, 9, 1))
    assert np.array_equal(both.query(x), plain.query(x))
    h = both.hidden_states(x)
    assert h.shape == (64, 9, 32)
    assert np.allclose(both.hidden_states(x[:, :4]), h[:, :4], atol=1e-5)
    assert not np.allclose(h[:, 0], h[:, 8])
    report = netsynth.extract(data, folder / "spec.json", timeout=60)
    assert report.search.figures["register_estimate"]["registers"] == 1
    assert report.search.figures["register_estimate"]["width"] == 32
    import onnx

    three = onnx.load_from_string(data)
    three.graph.output.append(onnx.helper.make_tensor_value_info(
        three.graph.node[-1].output[0], onnx.TensorProto.FLOAT, None))
    with pytest.raises(ModelError, match=r"one or two outputs .*3 outputs"):
        oracle.load(spec, three.SerializeToString())
