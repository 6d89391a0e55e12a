"""The members' penultimate-layer representations (what their last linear layer reads) of a split, from the final
weights saved beside their dynamics: what analyze compares with linear CKA (analysis/cka.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.datasets import Data
from ..engine import Inputs
from ..models import create_model
from .dynamics import load_member, load_weights


def penultimate(model: nn.Module, x: torch.Tensor, inputs: Inputs, batch: int = 256) -> np.ndarray:
    """(N, D) float32: the input of the model's last nn.Linear for the uint8 images x, in eval mode."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    captured = []
    hook = last.register_forward_hook(lambda module, args, out: captured.append(args[0].float().flatten(1).cpu()))
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(x), batch):
                with inputs.autocast():
                    model(inputs(x[start:start + batch]))
    finally:
        hook.remove()
    return torch.cat(captured).numpy()


def member_representations(paths: list[Path], data: Data, device, batch: int = 256) -> tuple[list, list[str]]:
    """Each member's penultimate representation of data.test (None where its weights are missing or belong to
    another run), and a line per member left out saying why."""
    inputs = Inputs(data.mean, data.std, device, "fp32")
    features, notes = [], []
    for path in paths:
        spec, why = load_weights(path, load_member(path))
        if spec is None:
            features.append(None)
            notes.append(why)
            continue
        model = create_model(spec["arch"], data.input_shape, data.num_classes, 0, **spec["kwargs"])
        model.load_state_dict(spec["state_dict"])
        features.append(penultimate(model.to(device), data.test.x.to(device), inputs, batch))
    return features, notes
