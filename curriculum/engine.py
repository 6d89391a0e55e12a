"""The one training engine behind both stages: batches of indices into in-memory uint8 tensors,
SGD with momentum and a learning-rate schedule, and callbacks at chosen steps.
What differs between stages is only which indices each step draws and what a callback does."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from .errors import UserError
from .faults import reach
from .progress import Progress
from .runtime import tune_allocator
from .statistics import concat, example_stats

SCHEDULES = ("cosine", "linear", "constant")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 0.05            # SGD learning rate (per batch, not scaled by batch size)
    momentum: float = 0.9       # SGD momentum, in [0, 1)
    nesterov: bool = True       # Nesterov momentum (needs momentum > 0)
    weight_decay: float = 5e-4  # L2 penalty on every parameter, per step
    schedule: str = "cosine"    # decay after warm-up: cosine | linear | constant
    warmup: float = 0.03        # fraction of all steps with a linear warm-up from 0

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise UserError(f"unknown lr schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if not self.lr > 0:
            raise UserError(f"lr={self.lr} must be positive")
        if not 0 <= self.warmup < 1:
            raise UserError(f"warmup={self.warmup} must be a fraction in [0, 1)")
        # torch.optim.SGD would reject these only once the run exists
        if not 0 <= self.momentum < 1:
            raise UserError(f"optim.momentum={self.momentum:g} must be in [0, 1)")
        if not self.weight_decay >= 0:
            raise UserError(f"optim.weight_decay={self.weight_decay:g} must be at least 0")
        if self.nesterov and self.momentum == 0:
            raise UserError("optim.nesterov=true needs optim.momentum > 0; set optim.nesterov=false for plain SGD")


def lr_factor(step: int, total: int, schedule: str, warmup: float) -> float:
    """Multiplier of the base learning rate for `step` in [0, total): linear warm-up, then decay to 0."""
    warm = int(warmup * total)
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)  # 0 at the end of warm-up, -> 1 at the last step
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "linear":
        return 1 - progress
    return 1.0


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"device={name!r} is not one of auto, cpu, cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device={name} but no CUDA GPU is visible; use device=cpu or device=auto")
    return torch.device(name)


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(name: str, device: torch.device) -> str:
    """`auto` is bf16 autocast on a GPU and fp32 on CPU (where autocast would only add casts)."""
    if name not in PRECISIONS:
        raise UserError(f"precision={name!r} must be one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    if name == "bf16" and device.type != "cuda":
        raise UserError(f"precision=bf16 needs a GPU but device is {device}; use precision=fp32 or auto on CPU")
    return name


class Inputs:
    """uint8 images -> normalised float batches on the data's device (channels-last: faster convs on CPU),
    and the numeric precision the forward passes run in."""

    def __init__(self, mean, std, device, precision: str = "fp32"):
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1) * 255
        self.precision = precision

    def __call__(self, x_uint8: torch.Tensor) -> torch.Tensor:
        """(..., C, H, W) uint8 -> float of the same shape; stacked members' (K, B, C, H, W) batches too."""
        images = x_uint8.flatten(0, -4)                                   # (N, C, H, W)
        x = ((images.float() - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        return x.unflatten(0, x_uint8.shape[:-3])

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.precision == "bf16")


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor, y: torch.Tensor, inputs: Inputs, batch_size: int = 256):
    """Clean eval-mode pass: every statistic of curriculum.statistics per example, name -> (N,) tensor on the
    device; no host sync here."""
    tune_allocator()
    was_training = model.training
    model.eval()
    parts = []
    for start in range(0, len(y), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        with inputs.autocast():
            parts.append(example_stats(model(inputs(xb)), yb))
    model.train(was_training)
    return concat(parts)


@torch.inference_mode()
def predict_classes(model: nn.Module, x: torch.Tensor, inputs: Inputs, batch_size: int = 256) -> torch.Tensor:
    """Clean eval-mode pass: each image's predicted class, (N,) int64 on the device."""
    was_training = model.training
    model.eval()
    parts = []
    for start in range(0, len(x), batch_size):
        with inputs.autocast():
            parts.append(model(inputs(x[start:start + batch_size])).argmax(1))
    model.train(was_training)
    return torch.cat(parts)


@dataclass
class StepStats:
    """Mean training loss and accuracy over the steps since the previous callback: floats for one model, a list
    with one value per member for stacked members."""
    step: int                    # steps completed so far
    loss: float | list[float]
    acc: float | list[float]


class NonFiniteLoss(UserError):
    pass


def make_optimizer(params, optim: OptimConfig) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=optim.lr, momentum=optim.momentum,
                           nesterov=optim.nesterov, weight_decay=optim.weight_decay)


@dataclass(frozen=True)
class Schedule:
    """Steps start..total-1 of a run of `total` steps, and the learning rate at each (start > 0 continues a run)."""
    optim: OptimConfig
    total: int
    start: int = 0

    def lr(self, step: int) -> float:
        return self.optim.lr * lr_factor(step, self.total, self.optim.schedule, self.optim.warmup)


@dataclass
class Batches:
    """What each step trains on: x[idx], y[idx] for idx from `indices`, index tensors on x's device shaped (B,)
    for one model or (K, B) for K stacked members; `augment(images, step)` transforms the uint8 batch on its
    device before normalisation (data.augment), for training only."""
    x: torch.Tensor
    y: torch.Tensor
    inputs: Inputs
    indices: Iterable[torch.Tensor]
    augment: Callable[[torch.Tensor, int], torch.Tensor] | None = None
    weights: torch.Tensor | None = None   # (N,) float on x's device: each example's loss weight (dynamic pruning's
                                          # rescaling, schedule/dynamic.py); None: every example weighs 1

    def images(self, idx: torch.Tensor, step: int) -> torch.Tensor:
        """The (augmented) uint8 images that step `step` trains on."""
        images = self.x[idx]
        return images if self.augment is None else self.augment(images, step)

    def weight(self, idx: torch.Tensor) -> torch.Tensor | None:
        return None if self.weights is None else self.weights[idx]


@dataclass
class Hooks:
    """Everything besides SGD: `at_step(stats)` after each step in `steps` (counted from 1); `observe(step, idx,
    logits)` on every batch's detached training logits (recording from the training pass); a progress line."""
    steps: Iterable[int] = ()
    at_step: Callable[[StepStats], None] | None = None
    observe: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None
    progress: Progress | None = None


def mean_loss(logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy averaged over each model's batch: logits (..., B, classes), y (..., B) -> shape (...); with
    `weight` (..., B), each example's loss times its weight before the mean."""
    per_example = F.cross_entropy(logits.float().flatten(0, -2), y.flatten(), reduction="none").view(y.shape)
    return (per_example if weight is None else per_example * weight).mean(-1)


def train(model, batches: Batches, schedule: Schedule, hooks: Hooks | None = None,
          opt: torch.optim.Optimizer | None = None) -> None:
    """Run SGD over `schedule` on `batches`. `model` is an nn.Module or stacked members (StackedMembers): anything
    with parameters(), train() and a forward giving (..., B, classes) logits; stacked members each get exactly the
    gradient of their own mean loss. Pass `opt` (with schedule.start) to continue from a checkpoint."""
    tune_allocator()
    hooks = hooks or Hooks()
    opt = opt or make_optimizer(model.parameters(), schedule.optim)
    pending = set(int(s) for s in hooks.steps)
    losses = hits = None     # (total, *models) per-step loss and batch accuracy, read back only at hooks
    last = done = schedule.start
    model.train()
    for step, idx in zip(range(schedule.start, schedule.total), batches.indices):
        for group in opt.param_groups:
            group["lr"] = schedule.lr(step)
        y = batches.y[idx]
        with batches.inputs.autocast():
            logits = model(batches.inputs(batches.images(idx, step)))
            loss = mean_loss(logits, y, batches.weight(idx))
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        reach("step")
        if hooks.observe is not None:
            hooks.observe(step + 1, idx, logits.detach())
        if losses is None:
            losses, hits = (loss.new_zeros((schedule.total, *loss.shape)) for _ in range(2))
        losses[step] = loss.detach()
        hits[step] = (logits.argmax(-1) == y).float().mean(-1)
        done = step + 1
        if done in pending or done == schedule.total or (hooks.progress and hooks.progress.due()):
            check_finite(losses, last, done, schedule)
            if hooks.progress:
                recent = slice(max(schedule.start, done - 50), done)  # steps of this process only
                hooks.progress.update(done, losses[recent].mean().item(), hits[recent].mean().item())
        if done in pending and hooks.at_step is not None:
            hooks.at_step(StepStats(done, losses[last:done].mean(0).tolist(), hits[last:done].mean(0).tolist()))
            last = done
    assert done == schedule.total, f"batches ran out after {done} of {schedule.total} steps"


def check_finite(losses: torch.Tensor, last: int, done: int, schedule: Schedule) -> None:
    """Stop with one line at the first step since `last` whose loss (any member's) is not finite."""
    window = losses[last:done].reshape(done - last, -1)          # (steps, models)
    finite = torch.isfinite(window).all(1)
    if not finite.all():
        row = int(torch.nonzero(~finite)[0, 0])
        value = window[row][~torch.isfinite(window[row])][0].item()
        raise NonFiniteLoss(f"training loss became non-finite ({value}) at step {last + row + 1} of {schedule.total}; "
                            f"lower the learning rate (lr={schedule.optim.lr})")
