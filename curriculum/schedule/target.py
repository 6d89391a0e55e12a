"""Training the target network: the shared engine fed by a paced sampler (or iid batches for `standard`),
with validation and test accuracy at regular evaluation points."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, NamedTuple

import numpy as np
import torch

from ..batches import shuffled_batches, steps_per_epoch
from ..cost import training_passes
from ..data.augment import AugmentConfig, batch_transform
from ..data.datasets import Data
from ..distributed import Ranks, mean_over_ranks, parallel, shares
from ..engine import Batches, Hooks, Inputs, OptimConfig, Schedule, StepStats, make_optimizer, predict_classes, train
from ..errors import UserError
from ..models import create_model
from ..progress import Progress
from ..seeding import stream_seed, torch_generator
from .pacing import PacedSampler, kept_count
from .resume import Resume, restore, save_state


EPOCHS_OF = ("all", "kept")


@dataclass(frozen=True)
class EvalConfig:
    """train's `eval` group: when and how the target is evaluated on the validation and test splits."""
    per_epoch: float = 2          # validation and test evaluations per epoch (0.5: every other epoch)
    batch: int = 256              # examples per evaluation forward pass

    def __post_init__(self):
        if self.batch < 1:
            raise UserError(f"eval.batch={self.batch} must be at least 1")
        if not self.per_epoch > 0:
            raise UserError(f"eval.per_epoch={self.per_epoch:g} must be positive (0.5: every other epoch)")


@dataclass(frozen=True)
class TargetConfig:
    arch: str = "cnn"
    model_kwargs: dict = field(default_factory=dict)
    epochs: int = 6               # training length in epochs, of all the training examples unless epochs_of=kept
    epochs_of: str = "all"        # all: epochs count passes over all training examples (every arm takes the same
                                  # steps) | kept: over those the run can ever draw (pruning at equal epochs)
    batch_size: int = 128
    eval: EvalConfig = EvalConfig()
    seed: int = 0                 # initialisation and sampling; the data split has its own seed
    precision: str = "fp32"       # resolved numeric precision of forward passes: fp32 | bf16 (GPU autocast)
    augment: AugmentConfig = AugmentConfig()  # of the training batches (auto: the dataset's default)

    def __post_init__(self):
        for key, value in (("epochs", self.epochs), ("batch_size", self.batch_size)):
            if value < 1:
                raise UserError(f"{key}={value} must be at least 1")
        if self.seed < 0:
            raise UserError(f"seed={self.seed} must be a non-negative integer")
        if self.epochs_of not in EPOCHS_OF:
            raise UserError(f"epochs_of={self.epochs_of!r} must be all (epochs of every training example, the same "
                            f"steps for every arm) or kept (epochs of the examples the run can draw)")


def target_model(cfg: TargetConfig, data: Data) -> torch.nn.Module:
    """The target's freshly initialised network, from the `target_init` stream: never a scoring member's
    weights, whatever the seeds of the score and train runs."""
    return create_model(cfg.arch, data.input_shape, data.num_classes, stream_seed(cfg.seed, "target_init"),
                        **cfg.model_kwargs)


def _marking(batches, seen: torch.Tensor) -> Iterator[torch.Tensor]:
    for idx in batches:
        seen[idx] = True
        yield idx


class TrainedTarget(NamedTuple):
    history: list[dict]      # one row per evaluation
    summary: dict            # final, best and test-at-best-validation accuracy, examples seen, steps
    model: torch.nn.Module   # the network after the last step


def train_target(data: Data, cfg: TargetConfig, optim: OptimConfig, ordering: np.ndarray | None = None,
                 pacing=None, end: float = 1.0, label: str = "[train]", resume: Resume | None = None,
                 kept: np.ndarray | None = None, ranks: Ranks = Ranks()) -> TrainedTarget:
    """Train one target network for cfg.epochs over all its training examples (or over those it can ever draw,
    epochs_of=kept: training_size()). ordering=None is plain iid training
    (`standard`) over all of them, or over the positions `kept` (sampler.keep; a paced ordering comes restricted
    already). With `resume`, the state is saved at the start and at every evaluation, and a run given a saved state
    continues from it to the same result. With several `ranks` (distributed.py), each trains on its share of every
    batch; the lead alone evaluates and saves, and the other ranks return an empty history and summary."""
    device = data.train.x.device
    n = len(data.train)
    per_epoch = steps_per_epoch(training_size(cfg, n, ordering, end, kept), cfg.batch_size)
    total = cfg.epochs * per_epoch
    net = target_model(cfg, data).to(device)
    opt = make_optimizer(net.parameters(), optim)
    seen = torch.zeros(n, dtype=torch.bool, device=device)   # marked on every rank for the whole batch
    history = []
    start = restore(resume, net, opt, seen, history) if resume and resume.state else 0
    gen = torch_generator(cfg.seed, "target_batches", device)
    if ordering is None:
        sampler, batches = None, iid_batches(n, kept, cfg.batch_size, gen, start)
    else:
        sampler = PacedSampler(ordering, pacing, total, cfg.batch_size, end, start, seed=cfg.seed,
                               device=device)   # the public API's sampler: draws as torch_generator(seed, ...) would
        batches = iter(sampler)
    inputs = Inputs(data.mean, data.std, device, cfg.precision)
    every = max(1, round(per_epoch / cfg.eval.per_epoch))
    eval_steps = sorted(set(range(every, total + 1, every)) | {total})

    def evaluate(stats: StepStats):
        loss, acc = mean_over_ranks([stats.loss, stats.acc], ranks)   # every rank, at the same steps
        if not ranks.lead:
            return
        history.append({"step": stats.step, "epoch": stats.step / per_epoch, "train/loss": loss,
                        "train/acc": acc, **accuracies(net, data, inputs, cfg.eval.batch),
                        "curriculum/data_fraction": (sampler.prefix_size(stats.step - 1) if sampler else
                                                     n if kept is None else len(kept)) / n,
                        "curriculum/seen_fraction": seen.float().mean().item()})
        if resume:
            save_state(resume, stats.step, net, opt, seen, history)

    if resume and start == 0 and ranks.lead:  # the MLflow run exists: from here on, a killed run continues it
        save_state(resume, 0, net, opt, seen, history)
    progress = Progress(label, total, per_epoch)
    augment = batch_transform(cfg.augment.resolved(data.name), stream_seed(cfg.seed, "target_augment"), ranks)
    batches = Batches(data.train.x, data.train.y, inputs, shares(_marking(batches, seen), ranks), augment)
    hooks = Hooks([s for s in eval_steps if s > start], evaluate, progress=progress)
    train(parallel(net, ranks), batches, Schedule(optim, total, start), hooks, opt)
    if not ranks.lead:
        return TrainedTarget([], {}, net)
    progress.close(f"done: test acc {history[-1].get('test/acc', float('nan')):.4f}"
                   + (f" (resumed at step {start})" if start else ""))
    return TrainedTarget(history, summarize(history, int(seen.sum()), total, cfg.batch_size), net)


def accuracies(net: torch.nn.Module, data: Data, inputs: Inputs, batch: int) -> dict:
    """Validation (when there is a validation split) and test accuracy of `net`."""
    return {f"{name}/acc": (predict_classes(net, s.x, inputs, batch) == s.y).float().mean().item()
            for name, s in (("val", data.val), ("test", data.test)) if len(s)}


def training_size(cfg: TargetConfig, n: int, ordering: np.ndarray | None, end: float,
                  kept: np.ndarray | None) -> int:
    """The examples an epoch passes over: all n (epochs_of=all), or those the run can ever draw (kept): the first
    pacing.end of a paced ordering, the `kept` positions of iid training over some, else all n."""
    if cfg.epochs_of == "all":
        return n
    if ordering is not None:
        return kept_count(end, len(ordering))
    return n if kept is None else len(kept)


def iid_batches(n: int, kept: np.ndarray | None, batch_size: int, generator: torch.Generator,
                start: int) -> Iterator[torch.Tensor]:
    """`standard`'s batches: shuffled epochs over all n positions, or over the `kept` ones only."""
    if kept is None:
        return shuffled_batches(n, batch_size, generator, start)
    positions = torch.as_tensor(kept, dtype=torch.int64, device=generator.device)
    return (positions[batch] for batch in shuffled_batches(len(kept), batch_size, generator, start))


def summarize(history: list[dict], distinct_seen: int, total_steps: int, batch_size: int) -> dict:
    """Final, best, and test-at-best-validation accuracy (model selection never looks at the test set), and the
    run's example-passes (cost.py)."""
    test = np.array([h["test/acc"] for h in history])
    summary = {"test/acc_final": float(test[-1]), "test/acc_best": float(test.max()),
               "curriculum/distinct_seen": distinct_seen, "steps": total_steps,
               "cost/example_passes": training_passes(total_steps, batch_size)}
    if "val/acc" in history[0]:
        val = np.array([h["val/acc"] for h in history])
        best = int(np.argmax(val))  # first best: ties go to the earlier evaluation
        summary |= {"val/acc_best": float(val[best]), "test/acc_at_best_val": float(test[best]),
                    "val/best_step": history[best]["step"]}
    return summary
