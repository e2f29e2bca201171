"""The committed example networks reproduce their references on their whole domains.

The references are written here in plain numpy, independently of the dsl package and of the spec's
`reference` text; the accuracy table in examples/README.md must match what the networks do.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from oracle.sampling import domain
from oracle.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

TRUTH = {
    "mod_add_113": lambda x, y: (x + y) % 113,
    "bitwise_8": lambda x, y: (x ^ y) & 240,
    "abs_diff": lambda x, y: np.abs(x - y),
    "max_raw": np.maximum,
    "noisy_add": lambda x, y: (x + y) % 16,
}
IMPERFECT = {"noisy_add"}


def readme_counts() -> dict[str, tuple[int, int]]:
    text = (EXAMPLES / "README.md").read_text()
    return {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(r"\| `(\w+)` \|.*?\| (\d+) / (\d+) \|", text)}


def test_every_example_is_committed_and_small() -> None:
    assert {p.parent.name for p in EXAMPLES.glob("*/spec.json")} >= set(TRUTH)
    total = sum((EXAMPLES / name / "model.onnx").stat().st_size for name in TRUTH)
    assert total < 5 * 2**20
    for name in TRUTH:
        spec = load_spec(EXAMPLES / name / "spec.json")
        assert spec.name == name and spec.model == EXAMPLES / name / "model.onnx" and spec.reference


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(TRUTH))
def test_example_matches_reference_on_whole_domain(name: str) -> None:
    import oracle

    o = oracle.load(EXAMPLES / name / "spec.json")
    cols = domain(o.spec)
    assert cols is not None
    got = o.query(cols)
    right = int((got == TRUTH[name](cols["x"], cols["y"])).sum())
    points = o.spec.domain_size()
    assert readme_counts()[name] == (right, points)
    if name in IMPERFECT:
        assert 0.97 * points <= right < points
    else:
        assert right == points
