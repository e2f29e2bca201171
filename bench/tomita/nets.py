"""Small sequence classifiers and their ONNX export (float32 (batch, T, D) in, (batch, K) out).

- `Recurrent(kind, width, hidden, classes, per_step=False)`: a GRU or LSTM read to the end, a
  linear head on the last hidden state ((batch, K)), or on every step's ((batch, T, K)).
- `Encoder(width, d_model, heads, layers, classes)`: a transformer encoder over the steps with
  sinusoidal positions and a learned [CLS] step in front; the head reads the [CLS] position.

`export_sequence_onnx(module, width, path)` writes a self-contained ONNX file with dynamic batch and
time dimensions (the TorchScript exporter for recurrent networks, which keeps GRU and LSTM as ONNX's
own GRU/LSTM nodes; torch.export for the encoder, which follows the symbolic time through attention),
clears the stale static time dimension the exporter leaves in value_info, and checks with ONNX
Runtime that the file agrees with the module on several lengths (`ValueError` if not).
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn


class Recurrent(nn.Module):
    def __init__(self, kind: str, width: int, hidden: int, classes: int, per_step: bool = False) -> None:
        super().__init__()
        self.per_step = per_step
        cell = {"gru": nn.GRU, "lstm": nn.LSTM}[kind]
        self.rnn = cell(width, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out if self.per_step else out[:, -1])


class Encoder(nn.Module):
    def __init__(self, width: int, d_model: int, heads: int, layers: int, classes: int) -> None:
        super().__init__()
        self.embed = nn.Linear(width, d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, classes)
        self.d_model = d_model

    def positions(self, t: int | torch.Tensor) -> torch.Tensor:
        pos = torch.arange(t, dtype=torch.float32).unsqueeze(1) + 1.0
        freq = torch.exp(torch.arange(0, self.d_model, 2, dtype=torch.float32) * (-math.log(100.0) / self.d_model))
        angle = pos * freq
        return torch.stack([angle.sin(), angle.cos()], dim=2).reshape(-1, self.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x) + self.positions(x.shape[1])
        h = torch.cat([self.cls.expand(x.shape[0], 1, self.d_model), h], dim=1)
        return self.head(self.encoder(h)[:, 0])


def export_sequence_onnx(module: nn.Module, width: int, path: str | Path, *,
                         lengths: tuple[int, ...] = (1, 3, 17, 40), atol: float = 1e-4) -> bytes:
    """Export `module` ((batch, T, width) -> (batch, K)) with dynamic batch and T; return the bytes."""
    import onnx
    import onnxruntime as ort

    module = module.eval()
    probe = torch.rand(3, 5, width)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if isinstance(module, Recurrent):  # TorchScript keeps ONNX's own GRU/LSTM nodes
            torch.onnx.export(module, (probe,), buffer, dynamo=False, external_data=False, input_names=["x"],
                              output_names=["y"], dynamic_axes={"x": {0: "batch", 1: "time"},
                                                                  "y": {0: "batch", 1: "time"} if module.per_step
                                                                  else {0: "batch"}},
                              opset_version=17)
        else:  # torch.export follows the symbolic time dimension through attention
            dims = {0: torch.export.Dim("batch", min=1), 1: torch.export.Dim("time", min=1, max=4096)}
            program = torch.onnx.export(module, (probe,), dynamo=True, external_data=False, input_names=["x"],
                                        output_names=["y"], dynamic_shapes=(dims,), verbose=False)
            program.save(buffer, external_data=False)
    model = onnx.load_from_string(buffer.getvalue())
    del model.graph.value_info[:]  # the exporter's value_info keeps the probe's time dimension
    data = model.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for t in lengths:
        x = rng.integers(0, 2, (4, t, width)).astype(np.float32)
        got = session.run(None, {"x": x})[0]
        with torch.no_grad():
            want = module(torch.from_numpy(x)).numpy()
        if got.shape != want.shape or not np.allclose(got, want, atol=atol):
            raise ValueError(f"export: ONNX Runtime differs from the module at length {t}: {got.shape} vs {want.shape}")
    Path(path).write_bytes(data)
    return data
