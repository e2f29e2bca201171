"""Export a torch module to a self-contained ONNX file the oracle accepts.

`export_onnx(module, width, path)` writes one file with the weights inside (no external data), one
float32 input `x` of shape (batch, width) with a dynamic batch dimension, and one output `y`. It
then checks that ONNX Runtime can open the file from its bytes and that it agrees with the module on
a probe batch; `ModelError` is raised if not. Imports torch and onnxruntime when called.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from dsl.errors import ModelError


def export_onnx(module: "torch.nn.Module", width: int, path: str | Path, *, atol: float = 1e-4) -> bytes:  # noqa: F821
    """Export `module` (taking float32 (batch, width)) to `path`; return the file's bytes."""
    import torch

    module = module.eval()
    probe = torch.rand(4, width, dtype=torch.float32)
    batch = torch.export.Dim("batch", min=1)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module, (probe,), dynamo=True, external_data=False,
            input_names=["x"], output_names=["y"], dynamic_shapes=({0: batch},), verbose=False,
        )
        buffer = io.BytesIO()
        program.save(buffer, external_data=False)
        expected = module(probe).numpy()
    data = buffer.getvalue()
    _check_with_onnxruntime(data, probe.numpy(), expected, atol=atol)
    Path(path).write_bytes(data)
    return data


def _check_with_onnxruntime(data: bytes, probe: np.ndarray, expected: np.ndarray, *, atol: float) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for rows in (probe, probe[:1]):  # the batch dimension must really be dynamic
        got = session.run(None, {session.get_inputs()[0].name: rows})[0]
        want = expected[: len(rows)]
        if got.shape != want.shape:
            raise ModelError(f"export: ONNX Runtime output has shape {got.shape}, the module's {want.shape}")
        if not np.allclose(got, want, atol=atol):
            raise ModelError(f"export: ONNX Runtime output differs from the torch module by up to "
                             f"{np.max(np.abs(got - want)):.3g}, expected at most {atol}")
