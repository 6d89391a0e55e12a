"""Per-example statistics: what a member records for every example at every checkpoint. One registry, STATISTICS:
how each is computed from a batch's logits and labels (a pure torch function), and how it is held in memory and
stored in the member file. Everything that computes, records, stacks, saves, loads, resumes or accumulates
statistics loops over this registry, so a new statistic is one entry here (and the scores that use it name it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Storage:
    """How a (C, N) array of one statistic is held in memory (dtype) and written to a member file."""
    dtype: type
    encode: Callable[[np.ndarray], np.ndarray]        # (C, N) in memory -> what the member file holds
    decode: Callable[[np.ndarray, int], np.ndarray]   # what the member file holds, N -> (C, N) in memory


BITS = Storage(bool, lambda values: np.packbits(values, axis=1),                 # (C, ceil(N/8)) uint8
               lambda stored, n: np.unpackbits(stored, axis=1, count=n).astype(bool))
HALF = Storage(np.float16, lambda values: values.astype(np.float16), lambda stored, n: stored)


@dataclass(frozen=True)
class Statistic:
    compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]   # float logits (B, classes), labels (B,) -> (B,)
    storage: Storage
    meaning: str


def correct(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return logits.argmax(1) == y


def margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """True-class logit minus the largest other (Pleiss et al. 2020, area under the margin)."""
    true = logits.gather(1, y[:, None])[:, 0]
    return true - logits.scatter(1, y[:, None], float("-inf")).amax(1)


def prob(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits, 1).gather(1, y[:, None])[:, 0]


def el2n(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L2 norm of softmax(logits) minus the one-hot label, in [0, sqrt(2)] (Paul, Ganguli & Dziugaite 2021)."""
    probs = torch.softmax(logits, 1)                                                      # (B, classes)
    return torch.linalg.vector_norm(probs - F.one_hot(y, probs.shape[1]).to(probs.dtype), dim=1)


def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the label, -log softmax(logits)[label], in nats: what training minimises, per example."""
    return F.cross_entropy(logits, y, reduction="none")


STATISTICS = {
    "correct": Statistic(correct, BITS, "the predicted class is the label"),
    "margin": Statistic(margin, HALF, "true-class logit minus the largest other"),
    "prob": Statistic(prob, HALF, "softmax probability of the label"),
    "el2n": Statistic(el2n, HALF, "L2 norm of softmax minus the one-hot label"),
    "loss": Statistic(loss, HALF, "cross-entropy of the label (nats)"),
}


def example_stats(logits: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every statistic of every example of a batch: logits (B, classes), labels (B,) -> name -> (B,) tensor."""
    logits = logits.float()
    return {name: statistic.compute(logits, y) for name, statistic in STATISTICS.items()}


def concat(parts: list[dict[str, torch.Tensor]], dim: int = 0) -> dict[str, torch.Tensor]:
    """The statistics of consecutive batches as one: each name's tensors concatenated along `dim`."""
    return {name: torch.cat([part[name] for part in parts], dim=dim) for name in STATISTICS}


def as_rows(stats: dict[str, torch.Tensor]) -> torch.Tensor:
    """name -> (N,) tensors as one (statistics, N) float tensor in registry order: one host transfer for all."""
    return torch.stack([stats[name].float() for name in STATISTICS])


def from_rows(rows) -> dict:
    """Inverse of as_rows: a (statistics, N) array or tensor -> name -> (N,) row (bools as 0/1 floats)."""
    return dict(zip(STATISTICS, rows))


def empty(checkpoints: int, n: int) -> dict[str, np.ndarray]:
    """name -> zeroed (C, N) array of each statistic's dtype, to be filled one checkpoint at a time."""
    return {name: np.zeros((checkpoints, n), statistic.storage.dtype) for name, statistic in STATISTICS.items()}
