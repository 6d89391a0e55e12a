"""Dynamic pruning (`sampler=infobatch`): each epoch skips a random share of the examples that are already well
learned and scales the loss of the kept ones up to keep the expected gradient, with every example in the last
epochs. InfoBatch (Qin et al., ICLR 2024, arXiv 2303.04947) calls an example well learned when its loss in the
target's own last training pass is below the mean; `sampler.well_learned=consensus` asks the score run instead
(the members learned it within their first epoch and never forgot it: learned_epoch <= 1), and `both` asks for
both.

Pruned epochs are shorter, so a run takes fewer steps than `standard`: that is the saving (`cost/example_passes`).
The learning rate follows the epochs, not the steps: step j of an epoch of S steps takes the rate the full-data run
has at the same point of training (epoch + j / S), so pruning shortens each epoch and keeps the schedule's shape.
Runs are not resumed: a killed run starts anew."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..batches import steps_per_epoch
from ..data.augment import batch_transform
from ..data.datasets import Data
from ..engine import Batches, Hooks, Inputs, OptimConfig, StepStats, lr_factor, make_optimizer, train
from ..errors import UserError
from ..progress import Progress
from ..seeding import numpy_rng, stream_seed, torch_generator
from .sampler import SamplerConfig
from .target import TargetConfig, TrainedTarget, _marking, accuracies, summarize, target_model


def well_learned(losses: np.ndarray, learned: np.ndarray | None, rule: str) -> np.ndarray:
    """(N,) bool: the examples an epoch may skip. `losses` (N,) each example's loss in its last training pass, NaN
    before its first; `learned` (N,) the score run's learned examples (None unless rule reads it). loss: below the
    mean of the examples seen so far (InfoBatch; none seen, none below); consensus: `learned`; both: the two."""
    seen = ~np.isnan(losses)
    below = np.zeros(len(losses), dtype=bool)
    if seen.any():
        below[seen] = losses[seen] < losses[seen].mean()
    if rule == "loss":
        return below
    return learned.copy() if rule == "consensus" else learned & below


def epoch_selection(prunable: np.ndarray, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(ascending positions an epoch trains on, (N,) float32 loss weights): round(share x |prunable|) of the
    prunable examples, drawn at random, are skipped; the prunable ones kept weigh 1 / (1 - share), so the
    epoch's expected gradient is that of all of them; every other example weighs 1."""
    candidates = np.flatnonzero(prunable)
    skipped = rng.choice(candidates, size=round(share * len(candidates)), replace=False)
    kept = np.ones(len(prunable), dtype=bool)
    kept[skipped] = False
    weights = np.where(prunable & kept, 1 / (1 - share), 1.0).astype(np.float32)
    return np.flatnonzero(kept), weights


def pruned_epochs(epochs: int, anneal: float) -> int:
    """Epochs 0 .. floor(anneal x epochs) - 1 are pruned; from there on every example trains (InfoBatch's
    annealing: 0.875 of 200 epochs prunes the first 175)."""
    return math.floor(anneal * epochs)


def epoch_steps(kept: int, batch_size: int, epoch: int) -> int:
    """Full batches of an epoch's kept examples; one line when not one batch is left."""
    if kept < batch_size:
        raise UserError(f"sampler.prune leaves {kept} examples in epoch {epoch}, fewer than one batch "
                        f"(batch_size={batch_size}); lower sampler.prune or batch_size")
    return kept // batch_size


@dataclass(frozen=True)
class EpochSchedule:
    """The engine's Schedule for one pruned epoch: steps start..total-1, each at the learning rate the full-data run
    (full_per_epoch steps an epoch) has at the same fraction of training."""
    optim: OptimConfig
    start: int
    total: int
    epoch: int
    epochs: int
    full_per_epoch: int

    def lr(self, step: int) -> float:
        full = self.epochs * self.full_per_epoch
        at = (self.epoch + (step - self.start) / max(1, self.total - self.start)) * self.full_per_epoch
        return self.optim.lr * lr_factor(min(int(at), full - 1), full, self.optim.schedule, self.optim.warmup)


def train_skipping(data: Data, cfg: TargetConfig, optim: OptimConfig, sampler: SamplerConfig,
                   learned: np.ndarray | None = None, label: str = "[infobatch]") -> TrainedTarget:
    """Train one target for cfg.epochs over all its training examples, each epoch skipping what `sampler`'s
    prune, anneal and well_learned say (module docstring); evaluated cfg.eval.per_epoch times an epoch."""
    device, n = data.train.x.device, len(data.train)
    full_per_epoch = steps_per_epoch(n, cfg.batch_size)
    net = target_model(cfg, data).to(device)
    opt = make_optimizer(net.parameters(), optim)
    losses = torch.full((n,), float("nan"), device=device)   # (N,) last training loss of each example
    seen = torch.zeros(n, dtype=torch.bool, device=device)
    rng, gen = numpy_rng(cfg.seed, "skipping"), torch_generator(cfg.seed, "target_batches", device)
    inputs = Inputs(data.mean, data.std, device, cfg.precision)
    augment = batch_transform(cfg.augment.resolved(data.name), stream_seed(cfg.seed, "target_augment"))
    progress = Progress(label, cfg.epochs * full_per_epoch, full_per_epoch)
    history, step = [], 0

    def observe(_, idx, logits):
        losses[idx] = F.cross_entropy(logits.float(), data.train.y[idx], reduction="none")

    for epoch in range(cfg.epochs):
        prunable = (well_learned(losses.cpu().numpy(), learned, sampler.well_learned)
                    if epoch < pruned_epochs(cfg.epochs, sampler.anneal) else np.zeros(n, dtype=bool))
        kept, weights = epoch_selection(prunable, sampler.prune, rng)
        steps = epoch_steps(len(kept), cfg.batch_size, epoch)
        order = torch.as_tensor(kept, device=device)[torch.randperm(len(kept), generator=gen, device=device)]
        batches = Batches(data.train.x, data.train.y, inputs, _marking(order[:steps * cfg.batch_size].view(
            steps, cfg.batch_size), seen), augment, torch.as_tensor(weights, device=device))

        def evaluate(stats: StepStats, epoch=epoch, start=step, steps=steps, kept=len(kept)):
            history.append({"step": stats.step, "epoch": epoch + (stats.step - start) / steps,
                            "train/loss": stats.loss, "train/acc": stats.acc,
                            **accuracies(net, data, inputs, cfg.eval.batch),
                            "curriculum/data_fraction": kept / n,
                            "curriculum/seen_fraction": seen.float().mean().item()})

        every = max(1, round(steps / cfg.eval.per_epoch))
        hooks = Hooks(sorted(set(range(step + every, step + steps + 1, every)) | {step + steps}), evaluate, observe,
                      progress)
        train(net, batches, EpochSchedule(optim, step, step + steps, epoch, cfg.epochs, full_per_epoch), hooks, opt)
        step += steps
    progress.close(f"done: test acc {history[-1].get('test/acc', float('nan')):.4f} in {step} steps "
                   f"({step / (cfg.epochs * full_per_epoch):.3f} of standard's)")
    return TrainedTarget(history, summarize(history, int(seen.sum()), step, cfg.batch_size), net)
