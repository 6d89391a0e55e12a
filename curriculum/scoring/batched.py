"""Training an ensemble's members together as one batched computation (ensemble.batched=true).

Why: on a GPU, small members leave the device mostly idle; stacking K members' weights and running them with
`torch.func.vmap` turns K small kernels into one wide one. Each member keeps its own initialisation, data order and
learning-rate schedule, and SGD (momentum, weight decay) is elementwise, so plain SGD over the stacked weights is K
independent SGDs: the result equals training the members one by one up to floating-point summation order
(tests/test_batched.py). Models with BatchNorm are refused (their running statistics are not vmap-safe here)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ..batches import shuffled_batches, steps_per_epoch
from ..data.datasets import Data
from ..engine import Batches, Hooks, Inputs, OptimConfig, Schedule, StepStats, train
from ..errors import UserError
from ..progress import Progress
from ..seeding import torch_generator
from ..statistics import concat, example_stats
from .dynamics import MemberDynamics, Recorder, checkpoint_steps
from .ensemble import done_line, history_row, member_augment, member_identity, member_model


class StackedMembers:
    """K same-architecture models as one functional model over stacked parameters (leading dim K)."""

    def __init__(self, models: list[nn.Module]):
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in models[0].modules()):
            raise UserError("ensemble.batched=true does not support models with BatchNorm (e.g. cnn_gap, resnet18); "
                            "use ensemble.batched=false")
        self.params, self.buffers = stack_module_state(models)     # each (K, *shape of one member's tensor)
        for weight in self.params.values():
            weight.requires_grad_(True)
        self.base = copy.deepcopy(models[0]).to("meta")

        def one(params, buffers, x):
            return functional_call(self.base, (params, buffers), (x,))

        # randomness="different": each member draws its own dropout masks, as members trained one by one do
        self.each_own_batch = vmap(one, randomness="different")                            # x: (K, B, ...)
        self.all_same_batch = vmap(one, in_dims=(0, 0, None), randomness="different")      # x: (B, ...) shared

    def __call__(self, x: torch.Tensor, shared: bool = False) -> torch.Tensor:
        return (self.all_same_batch if shared else self.each_own_batch)(self.params, self.buffers, x)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def train(self, mode: bool = True) -> "StackedMembers":
        """Train or eval mode for every member (dropout and the like), as nn.Module.train does."""
        self.base.train(mode)
        return self


@torch.inference_mode()
def predict_stacked(stacked: StackedMembers, x, y, inputs: Inputs, batch_size: int = 256):
    """predict() for all members at once: every statistic, name -> (K, N) tensor on the device."""
    parts, was_training = [], stacked.base.training
    stacked.train(False)   # a clean eval-mode pass, as predict() makes for one member
    for start in range(0, len(y), batch_size):
        with inputs.autocast():
            logits = stacked(inputs(x[start:start + batch_size]), shared=True)          # (K, B, classes)
        k, b = logits.shape[:2]
        stats = example_stats(logits.flatten(0, 1), y[start:start + batch_size].repeat(k))   # each (K * B,)
        parts.append({name: values.view(k, b) for name, values in stats.items()})
    stacked.train(was_training)
    return concat(parts, dim=1)


def train_members_batched(members, data: Data, rec, optim: OptimConfig, model_kwargs: dict | None = None,
                          label: str = "[batched]") -> list[tuple[MemberDynamics, list[dict]]]:
    """Train `members` (same architecture) together with clean-pass recording; returns each member's
    (dynamics, history) as train_member would. No per-epoch resume: a killed batched run starts again."""
    if len({m.arch for m in members}) != 1:
        raise UserError("ensemble.batched=true needs one architecture for all members (ensemble.models)")
    if rec.source != "eval":
        raise UserError("ensemble.batched=true records with clean passes only; set recording.source=eval")
    device = data.train.x.device
    n = len(data.train)
    per_epoch = steps_per_epoch(n, rec.batch_size)
    total = rec.epochs * per_epoch
    steps, epochs = checkpoint_steps(rec.epochs, per_epoch, rec.within_first_epoch)
    stacked = StackedMembers([member_model(m, data, model_kwargs).to(device) for m in members])
    inputs = Inputs(data.mean, data.std, device, rec.precision)
    recorders = [Recorder(epochs, data, m.arch, m.seed, rec.eval_batch, rec.test) for m in members]
    for m, recorder in zip(members, recorders):
        recorder.dynamics.identity = member_identity(m, data, rec, optim, model_kwargs, epochs)
    histories = [[] for _ in members]
    row_of_step = {int(s): i for i, s in enumerate(steps)}

    def at_checkpoint(stats: StepStats):
        row = row_of_step[stats.step]
        record_stacked(recorders, row, stacked, inputs, rec.eval_batch)
        for j, (recorder, history) in enumerate(zip(recorders, histories)):
            history.append(history_row(stats.step, stats.loss[j], stats.acc[j], recorder.dynamics, row))

    orders = [shuffled_batches(n, rec.batch_size, torch_generator(m.seed, "order", device)) for m in members]
    augments = [member_augment(m, data, rec) for m in members]
    batches = Batches(data.train.x, data.train.y, inputs, (torch.stack(idx) for idx in zip(*orders)),  # (K, B)
                      None if augments[0] is None else per_member(augments))
    progress = Progress(label, total, per_epoch)
    train(stacked, batches, Schedule(optim, total), Hooks(steps, at_checkpoint, progress=progress))
    progress.close(done_line(histories))
    for j, recorder in enumerate(recorders):   # member j's own slice of the stacked weights, as its state_dict
        recorder.dynamics.weights = {name: t[j].detach().cpu()
                                     for name, t in (stacked.params | stacked.buffers).items()}
    return [(r.dynamics, h) for r, h in zip(recorders, histories)]


def per_member(augments: list):
    """One augment hook for stacked members' (K, B, C, H, W) batches: member k's batch through its own hook, so
    each member sees what it would when trained alone."""
    def augment(images: torch.Tensor, step: int) -> torch.Tensor:
        return torch.stack([hook(member_images, step) for hook, member_images in zip(augments, images)])
    return augment


def record_stacked(recorders: list[Recorder], row: int, stacked: StackedMembers, inputs: Inputs, eval_batch: int):
    """Recorder.record for every member at once: one stacked clean pass per split."""
    for name in recorders[0].splits:
        split = getattr(recorders[0].data, name)
        stats = predict_stacked(stacked, split.x, split.y, inputs, eval_batch)          # each (K, N)
        for j, recorder in enumerate(recorders):
            recorder.store(row, name, {statistic: values[j] for statistic, values in stats.items()})
    for name, split in recorders[0].data.ood.items():
        predicted = predicted_stacked(stacked, split.x, inputs, eval_batch).cpu().numpy()     # (K, N)
        for j, recorder in enumerate(recorders):
            recorder.dynamics.ood[name][row] = predicted[j]


@torch.inference_mode()
def predicted_stacked(stacked: StackedMembers, x, inputs: Inputs, batch_size: int = 256) -> torch.Tensor:
    """Every member's predicted class of each image, (K, N), in a clean eval-mode pass."""
    was_training = stacked.base.training
    stacked.train(False)
    parts = []
    for start in range(0, len(x), batch_size):
        with inputs.autocast():
            parts.append(stacked(inputs(x[start:start + batch_size]), shared=True).argmax(-1))   # (K, B)
    stacked.train(was_training)
    return torch.cat(parts, dim=1)
