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

SCHEDULES = ("cosine", "linear", "constant")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 0.05            # SGD learning rate (per batch, not scaled by batch size)
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
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
        x = (x_uint8.float() - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last)

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.precision == "bf16")


def example_stats(logits: torch.Tensor, y: torch.Tensor):
    """Per example of a batch: (correct bool, true-class margin, true-class probability)."""
    logits = logits.float()
    true = logits.gather(1, y[:, None])[:, 0]
    other = logits.scatter(1, y[:, None], float("-inf")).amax(1)
    return logits.argmax(1) == y, true - other, torch.softmax(logits, 1).gather(1, y[:, None])[:, 0]


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor, y: torch.Tensor, inputs: Inputs, batch_size: int = 256):
    """Clean eval-mode pass: per example (correct bool, true-class margin, true-class probability),
    as tensors on the device; no host sync here."""
    tune_allocator()
    was_training = model.training
    model.eval()
    parts = []
    for start in range(0, len(y), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        with inputs.autocast():
            parts.append(example_stats(model(inputs(xb)), yb))
    model.train(was_training)
    return tuple(torch.cat(column) for column in zip(*parts))


@dataclass
class StepStats:
    """Mean training loss and accuracy over the steps since the previous callback."""
    step: int          # steps completed so far
    loss: float
    acc: float


class NonFiniteLoss(UserError):
    pass


def make_optimizer(params, optim: OptimConfig) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=optim.lr, momentum=optim.momentum,
                           nesterov=optim.nesterov, weight_decay=optim.weight_decay)


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, inputs: Inputs,
          batches: Iterable[torch.Tensor], total_steps: int, optim: OptimConfig,
          callback_steps: Iterable[int] = (), callback: Callable[[StepStats], None] | None = None,
          progress: Progress | None = None, opt: torch.optim.Optimizer | None = None, start_step: int = 0,
          observe: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None) -> None:
    """Run SGD steps start_step..total_steps-1 on x[idx], y[idx] for idx from `batches` (index tensors on x's
    device). After each step s in `callback_steps` (counted from 1), `callback` gets the stats since the last
    one. Pass `opt` (and `start_step`) to continue from a checkpoint. `observe(step, idx, logits)` sees each
    batch's detached training logits (recording from the training pass)."""
    tune_allocator()
    device = x.device
    opt = opt or make_optimizer(model.parameters(), optim)
    pending = set(int(s) for s in callback_steps)
    losses = torch.zeros(total_steps, device=device)      # (steps,) per-step loss, read back only at callbacks
    hits = torch.zeros(total_steps, device=device)        # (steps,) per-step batch accuracy
    last, done, model = start_step, start_step, model.train()
    for step, idx in zip(range(start_step, total_steps), batches):
        for group in opt.param_groups:
            group["lr"] = optim.lr * lr_factor(step, total_steps, optim.schedule, optim.warmup)
        with inputs.autocast():
            logits = model(inputs(x[idx]))
            loss = F.cross_entropy(logits.float(), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        reach("step")
        if observe is not None:
            observe(step + 1, idx, logits.detach())
        losses[step] = loss.detach()
        hits[step] = (logits.argmax(1) == y[idx]).float().mean()
        done = step + 1
        if done in pending or done == total_steps or (progress and progress.due()):
            window = losses[last:done]
            if not torch.isfinite(window).all():
                bad = last + int(torch.nonzero(~torch.isfinite(window))[0, 0]) + 1
                raise NonFiniteLoss(f"training loss became {window[bad - last - 1].item()} at step {bad} of "
                                    f"{total_steps}; lower the learning rate (lr={optim.lr})")
            if progress:
                progress.update(done, losses[max(0, done - 50):done].mean().item(),
                                hits[max(0, done - 50):done].mean().item())
        if done in pending and callback is not None:
            callback(StepStats(done, losses[last:done].mean().item(), hits[last:done].mean().item()))
            last = done
    assert done == total_steps, f"batches ran out after {done} of {total_steps} steps"
