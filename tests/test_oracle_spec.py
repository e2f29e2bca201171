"""Unit tests of spec loading and validation (no model, no torch, no ONNX Runtime)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dsl.errors import NetsynthError, SpecError
from dsl.types import BOOL, INT
from oracle.spec import load_spec

GOOD = {
    "name": "mod_add_113",
    "model": "model.onnx",
    "inputs": [
        {"name": "x", "type": "int", "range": [0, 112], "encoding": "one_hot"},
        {"name": "y", "type": "int", "range": [0, 112], "encoding": "one_hot"},
    ],
    "output": {"type": "int", "range": [0, 112], "decoding": "argmax"},
    "dsl": "int",
    "reference": "(x + y) % 113",
    "constants": [113],
}


def mutated(change) -> dict:
    spec = copy.deepcopy(GOOD)
    change(spec)
    return spec


def test_good_spec_fields(tmp_path: Path) -> None:
    spec = load_spec(GOOD, base_dir=tmp_path)
    assert spec.name == "mod_add_113"
    assert spec.input_names == ("x", "y")
    assert spec.ranges() == {"x": (0, 112), "y": (0, 112)}
    assert spec.domain_size() == 113 * 113
    assert spec.variables() == {"x": INT, "y": INT}
    assert spec.model == tmp_path / "model.onnx"
    assert spec.reference == "(x + y) % 113" and spec.constants == (113,)
    assert spec.output.lo == 0 and spec.output.hi == 112 and spec.output.decoding == "argmax"


def test_defaults_and_round_trip(tmp_path: Path) -> None:
    raw = {"inputs": [{"name": "a", "range": [-3, 4]}, {"name": "b", "type": "bool"}],
           "output": {"type": "bool"}}
    path = tmp_path / "my_spec.json"
    path.write_text(json.dumps(raw))
    spec = load_spec(path)
    assert spec.name == "my_spec" and spec.dsl == "int" and spec.model is None
    assert spec.reference is None and spec.constants == ()
    assert [i.encoding for i in spec.inputs] == ["raw", "raw"]
    assert dict(spec.inputs[0].params) == {"offset": 0, "scale": 1}
    assert spec.output.decoding == "threshold"
    assert spec.variables() == {"a": INT, "b": BOOL}
    assert spec.domain_size() == 8 * 2
    assert load_spec(spec.to_dict()) == spec
    assert load_spec(json.dumps(spec.to_dict())) == spec


def test_toml_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "spec.toml").write_text(
        'model = "net.onnx"\ndsl = "../my.lark"\n'
        '[[inputs]]\nname = "x"\nrange = [0, 9]\nencoding = "bits"\nwidth = 6\n'
        '[output]\nrange = [0, 9]\ndecoding = "round"\nscale = 2.5\n')
    spec = load_spec(tmp_path / "sub" / "spec.toml")
    assert spec.model == tmp_path / "sub" / "net.onnx"
    assert spec.dsl == str(tmp_path / "my.lark")
    assert spec.inputs[0].params["width"] == 6
    assert dict(spec.output.params) == {"offset": 0, "scale": 2.5}
    assert spec.source == tmp_path / "sub" / "spec.toml"


def test_bits_default_width_is_bit_length_of_hi() -> None:
    spec = load_spec({"inputs": [{"name": "x", "range": [0, 100], "encoding": "bits"}],
                      "output": {"range": [0, 100], "decoding": "bits"}})
    assert spec.inputs[0].params["width"] == 7 and spec.output.params["width"] == 7


BAD = [
    (lambda s: s.update(colour="red"), "spec: unknown key 'colour'"),
    (lambda s: s.pop("inputs"), "inputs: missing required field"),
    (lambda s: s.pop("output"), "output: missing required field"),
    (lambda s: s.update(inputs=[]), "inputs: expected a non-empty list, got []"),
    (lambda s: s["inputs"][1].update(range=[5, 2]), "inputs[1].range: expected [lo, hi] with lo <= hi, got [5, 2]"),
    (lambda s: s["inputs"][0].update(range=[0, 1.5]), "inputs[0].range: expected [lo, hi] with lo <= hi, got [0, 1.5]"),
    (lambda s: s["inputs"][0].pop("range"), "inputs[0].range: missing required field"),
    (lambda s: s["inputs"][0].update(type="float"), "inputs[0].type: expected 'int', 'bool' or 'real', got 'float'"),
    (lambda s: s["inputs"][1].update(encoding="onehot"),
     "inputs[1].encoding: expected one of ['bits', 'one_hot', 'raw'] for type int, got 'onehot'"),
    (lambda s: s["output"].update(decoding="softmax"),
     "output.decoding: expected one of ['argmax', 'bits', 'round'] for type int, got 'softmax'"),
    (lambda s: s["output"].update(type="bool", decoding="argmax", range=[0, 1]),
     "output.decoding: expected one of ['threshold'] for type bool, got 'argmax'"),
    (lambda s: s["inputs"][0].update(encoding="bits", range=[-1, 7]), "inputs[0].range: bits needs lo >= 0, got [-1, 7]"),
    (lambda s: s["inputs"][0].update(encoding="bits", width=3),
     "inputs[0].width: expected an int in [7, 62] (bit_length(112) = 7), got 3"),
    (lambda s: s["inputs"][0].update(encoding="bits", width=8.0), "inputs[0].width: expected an int for bits, got 8.0"),
    (lambda s: s["inputs"][0].update(encoding="raw", scale=0), "inputs[0].scale: expected a finite number with 1e-12 <= |scale| <= 1e+12, got 0"),
    (lambda s: s["inputs"][0].update(encoding="raw", offset="1"), "inputs[0].offset: expected a number for raw, got '1'"),
    (lambda s: s["inputs"][0].update(width=8), "inputs[0]: unknown key 'width'"),
    (lambda s: s["output"].update(scale=2), "output: unknown key 'scale'"),
    (lambda s: s["inputs"][1].update(name="x"), "inputs[1].name: duplicate name 'x' (also inputs[0])"),
    (lambda s: s["inputs"][0].update(name="lambda"), "inputs[0].name: expected an ASCII Python identifier"),
    (lambda s: s["inputs"][0].update(name="max"), "got 'max'"),
    (lambda s: s["inputs"][0].update(name="True"), "got 'True'"),
    (lambda s: s["inputs"][0].update(name="2x"), "inputs[0].name: expected an ASCII Python identifier"),
    (lambda s: s["inputs"][0].pop("name"), "inputs[0].name: missing required field"),
    (lambda s: s["inputs"].append(3), "inputs[2]: expected an object, got 3"),
    (lambda s: s["inputs"][0].update(type="bool", range=[0, 5]), "inputs[0].range: a bool has range [0, 1], got [0, 5]"),
    (lambda s: s.update(constants=[1, "two"]), "constants: expected a list of ints, got [1, 'two']"),
    (lambda s: s.update(constants=[True]), "constants: expected a list of ints, got [True]"),
    (lambda s: s.update(reference=3), "reference: expected a non-empty string, got 3"),
    (lambda s: s.update(model=""), "model: expected a non-empty string, got ''"),
    (lambda s: s.update(output=[0, 1]), "output: expected an object, got [0, 1]"),
    (lambda s: s["output"].update(range=[0, 2**70]), "output.range: expected bounds below 2^62"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_spec_names_field_and_value(change, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(mutated(change))
    assert message in str(info.value)
    assert isinstance(info.value, (NetsynthError, ValueError))


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="spec: no such file"):
        load_spec(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(SpecError, match="cannot parse"):
        load_spec(tmp_path / "broken.json")
    with pytest.raises(SpecError, match="invalid JSON"):
        load_spec('{"inputs": ')
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(SpecError, match="expected an object at the top level, got list"):
        load_spec(tmp_path / "list.json")


def test_import_oracle_is_cheap() -> None:
    code = "import sys, oracle, oracle.spec, oracle.sampling; print('torch' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split() == ["False", "False"]
