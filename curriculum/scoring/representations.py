"""What analyze compares inside the members, from the final weights saved beside their dynamics: the penultimate
representation (what the last linear layer reads) of a split, for linear CKA (analysis/cka.py), and every neuron
layer's activation samples, for the subspace match (analysis/subspace_match.py)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.datasets import Data
from ..engine import Inputs, predict_classes
from ..errors import UserError
from ..models import create_model
from .dynamics import load_weights, weights_path

# a neuron layer is the output of one call of one of these modules: (N, C, H, W) conv channels or (N, D) units
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish, nn.Tanh)


@dataclass(frozen=True)
class NeuronLayer:
    """One layer of one network as its neurons' activation vectors, over samples that are the same for every network
    whose layer has the same name and grid (what analysis/subspace_match.py compares)."""
    activations: np.ndarray      # (d, width) float32: rows the samples, columns the neurons
    grid: tuple[int, ...]        # (H, W) positions of a conv layer's channels; () for hidden units
    available: int               # the samples there were to draw from (test images x positions)


def penultimate(model: nn.Module, x: torch.Tensor, inputs: Inputs, batch: int = 256) -> np.ndarray:
    """(N, D) float32: the input of the model's last nn.Linear for the uint8 images x, in eval mode."""
    return representations(model, x, inputs, 0, batch)[0]


def representations(model: nn.Module, x: torch.Tensor, inputs: Inputs, samples: int,
                    batch: int = 256) -> tuple[np.ndarray | None, dict[str, NeuronLayer]]:
    """One eval-mode pass over the uint8 images x: the penultimate representation ((N, D) float32, the input of
    the last nn.Linear; None without one) and, with `samples`, each neuron layer (the output of each call of an
    ACTIVATIONS module) as at most `samples` activation rows (sample_rows: images for units, (image, position)
    pairs for conv channels). Layers are named conv1, conv2, ... and fc1, fc2, ... in the order they run; the
    layer the last nn.Linear reads as it is becomes `penultimate`, drawn from the penultimate representation."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    state = {"start": 0, "call": 0, "out": None, "read": None}   # this batch's first image, activation calls so far
    captured, grids, reads = {}, {}, []

    def on_activation(module, args, out):
        call, state["call"], state["out"] = state["call"], state["call"] + 1, out
        if samples and out.dim() in (2, 4):
            grids[call] = tuple(out.shape[2:])
            captured.setdefault(call, []).append(take_rows(out, sample_rows(len(x), grids[call], samples),
                                                           state["start"]))

    def on_last_linear(module, args, out):
        last = state["out"]
        if last is not None and last.dim() == 2 and args[0].data_ptr() == last.data_ptr():
            state["read"] = state["call"] - 1       # the last activation's output itself: the penultimate layer
        reads.append(args[0].float().flatten(1).cpu())

    hooks = [m.register_forward_hook(on_activation) for m in model.modules() if isinstance(m, ACTIVATIONS)]
    hooks += [linears[-1].register_forward_hook(on_last_linear)] if linears else []
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(x), batch):
                state.update(start=start, call=0, out=None)
                with inputs.autocast():
                    model(inputs(x[start:start + batch]))
    finally:
        for hook in hooks:
            hook.remove()
    features = torch.cat(reads).numpy() if reads else None
    return features, neuron_layers(captured, grids, state["read"], features, len(x), samples)


def neuron_layers(captured: dict, grids: dict, read: int | None, features: np.ndarray | None, n: int,
                  samples: int) -> dict[str, NeuronLayer]:
    """The captured activation calls (call -> batches of rows) named in order, the penultimate last."""
    layers, counts = {}, {"conv": 0, "fc": 0}
    for call in sorted(captured):
        if call == read:
            continue
        kind = "conv" if grids[call] else "fc"
        counts[kind] += 1
        layers[f"{kind}{counts[kind]}"] = NeuronLayer(torch.cat(captured[call]).numpy(), grids[call],
                                                      n * int(np.prod(grids[call], dtype=np.int64)))
    if samples and features is not None:
        layers["penultimate"] = NeuronLayer(features[sample_rows(n, (), samples)], (), n)
    return layers


@functools.lru_cache(maxsize=16)
def sample_rows(n: int, grid: tuple[int, ...], samples: int) -> np.ndarray:
    """The sorted rows, of the n * prod(grid) (image, position) pairs, image-major, that a layer with positions
    `grid` keeps: all of them up to `samples`, else `samples` drawn without replacement from a fixed seed, so every
    member keeps the same ones."""
    total = n * int(np.prod(grid, dtype=np.int64))
    rows = np.arange(total) if total <= samples else np.sort(np.random.default_rng(0).choice(total, samples,
                                                                                              replace=False))
    rows.setflags(write=False)                                              # shared by every caller (the cache)
    return rows


def take_rows(out: torch.Tensor, rows: np.ndarray, start: int) -> torch.Tensor:
    """The kept rows of one batch's activations (B, C, H, W) or (B, D) whose first image is image `start`: (rows in
    this batch, C) float32 on the CPU, a copy (an in-place layer after this one cannot change it)."""
    per_image = int(np.prod(out.shape[2:], dtype=np.int64))
    lo, hi = np.searchsorted(rows, [start * per_image, (start + len(out)) * per_image])
    flat = out.movedim(1, -1).reshape(-1, out.shape[1])                   # (B * H * W, C), image-major
    index = torch.as_tensor(rows[lo:hi] - start * per_image, device=out.device)
    return flat[index].float().cpu()


def member_outputs(paths: list[Path], identities: list[dict], data: Data, device, x_predict: torch.Tensor,
                   samples: int = 0, batch: int = 256) -> tuple[list, list, list, list[str]]:
    """From each member's final weights (beside `paths`, checked against the `identities` of those dynamics files):
    its penultimate representation of data.test, its neuron layers' activation samples of data.test (at most
    `samples` rows each; none without `samples`) and its predicted class of each image of `x_predict` (None for a
    member whose weights are missing or belong to another run), and a line per member left out saying why."""
    inputs = Inputs(data.mean, data.std, device, "fp32")
    test, x_predict = data.test.x.to(device), x_predict.to(device)
    features, layers, predicted, notes = [], [], [], []
    for path, identity in zip(paths, identities):
        spec, why = load_weights(path, identity)
        try:
            model = None if spec is None else network(spec, data)
        except UserError as err:   # e.g. a custom model not importable here
            model, why = None, f"{path.name}: {err}"
        if model is None:
            features.append(None)
            layers.append(None)
            predicted.append(None)
            notes.append(why or f"{weights_path(path).name} does not fit its architecture's network any more")
            continue
        model = model.to(device)
        penultimate_of, neurons = representations(model, test, inputs, samples, batch)
        features.append(penultimate_of)
        layers.append(neurons)
        if penultimate_of is None:
            notes.append(f"{path.name}: {spec['arch']} has no nn.Linear layer, whose input is the representation "
                         f"(CKA): left out of it, kept in the predictions and the subspace match of its other layers")
        predicted.append(predict_classes(model, x_predict, inputs, batch).cpu().numpy())
    return features, layers, predicted, notes


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
