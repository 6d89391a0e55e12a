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


def member_outputs(paths: list[Path], data: Data, device, batch: int = 256) -> tuple[list, list, list[str]]:
    """From each member's final weights: its penultimate representation of data.test and its predicted class of
    every training example (None for a member whose weights are missing or belong to another run), and a line per
    member left out saying why."""
    inputs = Inputs(data.mean, data.std, device, "fp32")
    features, predicted, notes = [], [], []
    for path in paths:
        spec, why = load_weights(path, load_member(path))
        if spec is None:
            features.append(None)
            predicted.append(None)
            notes.append(why)
            continue
        model = create_model(spec["arch"], data.input_shape, data.num_classes, 0, **spec["kwargs"]).to(device)
        model.load_state_dict(spec["state_dict"])
        features.append(penultimate(model, data.test.x.to(device), inputs, batch))
        predicted.append(predicted_classes(model, data.train.x.to(device), inputs, batch))
    return features, predicted, notes


def predicted_classes(model: nn.Module, x: torch.Tensor, inputs: Inputs, batch: int = 256) -> np.ndarray:
    """(N,) int64: the model's predicted class of each uint8 image, in eval mode."""
    model.eval()
    with torch.inference_mode():
        return torch.cat([model(inputs(x[start:start + batch])).argmax(1).cpu()
                          for start in range(0, len(x), batch)]).numpy()


def majority_vote(predicted: list[np.ndarray], num_classes: int) -> np.ndarray:
    """(N,) the class most members predict (ties: the smallest class)."""
    votes = np.zeros((len(predicted[0]), num_classes), dtype=np.int64)
    for p in predicted:
        votes[np.arange(len(p)), p] += 1
    return votes.argmax(axis=1)
