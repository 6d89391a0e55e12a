"""The members' penultimate-layer representations (what their last linear layer reads) of a split, from the final
weights saved beside their dynamics: what analyze compares with linear CKA (analysis/cka.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.datasets import Data
from ..engine import Inputs, predict_classes
from ..errors import UserError
from ..models import create_model
from .dynamics import load_weights, weights_path


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


def member_outputs(paths: list[Path], identities: list[dict], data: Data, device, x_predict: torch.Tensor,
                   batch: int = 256) -> tuple[list, list, list[str]]:
    """From each member's final weights (beside `paths`, checked against the `identities` of those dynamics files):
    its penultimate representation of data.test and its predicted class of each image of `x_predict` (None for a
    member whose weights are missing or belong to another run), and a line per member left out saying why."""
    inputs = Inputs(data.mean, data.std, device, "fp32")
    test, x_predict = data.test.x.to(device), x_predict.to(device)
    features, predicted, notes = [], [], []
    for path, identity in zip(paths, identities):
        spec, why = load_weights(path, identity)
        try:
            model = None if spec is None else network(spec, data)
        except UserError as err:   # e.g. a custom model not importable here
            model, why = None, f"{path.name}: {err}"
        if model is None:
            features.append(None)
            predicted.append(None)
            notes.append(why or f"{weights_path(path).name} does not fit its architecture's network any more")
            continue
        model = model.to(device)
        has_linear = any(isinstance(m, nn.Linear) for m in model.modules())
        features.append(penultimate(model, test, inputs, batch) if has_linear else None)
        if not has_linear:
            notes.append(f"{path.name}: {spec['arch']} has no nn.Linear layer, whose input is the representation "
                         f"(CKA, subspaces): left out of those, kept in the predictions")
        predicted.append(predict_classes(model, x_predict, inputs, batch).cpu().numpy())
    return features, predicted, notes


def network(spec: dict, data: Data) -> nn.Module | None:
    """The saved network, or None when its weights no longer fit what create_model builds (a changed default)."""
    model = create_model(spec["arch"], data.input_shape, data.num_classes, 0, **spec["kwargs"])
    try:
        model.load_state_dict(spec["state_dict"])
    except RuntimeError:
        return None
    return model


def majority_vote(predicted: list[np.ndarray], num_classes: int) -> np.ndarray:
    """(N,) the class most members predict (ties: the smallest class)."""
    votes = np.zeros((len(predicted[0]), num_classes), dtype=np.int64)
    for p in predicted:
        votes[np.arange(len(p)), p] += 1
    return votes.argmax(axis=1)
