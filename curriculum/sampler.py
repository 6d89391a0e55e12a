"""Which examples each step draws: iid epochs for the ensemble and `standard`, a paced prefix of an
ordering for the curriculum arms. Samplers yield index tensors; the engine does the rest."""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless iid epochs: a fresh permutation of range(n) each epoch, cut into full batches."""
    device = generator.device
    while True:
        perm = torch.randperm(n, generator=generator, device=device)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start:start + batch_size]


def steps_per_epoch(n: int, batch_size: int) -> int:
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} is larger than the {n} training examples; lower batch_size")
    return n // batch_size


class PacedSampler:
    """Each step draws a batch uniformly (without replacement) from the prefix of `ordering` that the
    pacing makes available: ceil(end * g(t, T) * N) examples, never fewer than one batch."""

    def __init__(self, ordering: np.ndarray, pacing, total_steps: int, batch_size: int, end: float,
                 generator: torch.Generator):
        n = len(ordering)
        if not 0 < end <= 1:
            raise ValueError(f"pacing.end={end} must be a fraction in (0, 1]")
        if end * n < batch_size:
            raise ValueError(f"pacing.end={end} keeps {int(end * n)} examples, fewer than batch_size={batch_size}")
        self.ordering = torch.as_tensor(ordering, dtype=torch.int64, device=generator.device)
        self.pacing, self.total, self.batch, self.end, self.gen = pacing, total_steps, batch_size, end, generator

    def prefix_size(self, t: int) -> int:
        n = len(self.ordering)
        return min(math.ceil(self.end * n), max(self.batch, math.ceil(self.end * self.pacing(t, self.total) * n)))

    def __iter__(self) -> Iterator[torch.Tensor]:
        for t in range(self.total):
            size = self.prefix_size(t)
            pick = torch.randperm(size, generator=self.gen, device=self.gen.device)[: self.batch]
            yield self.ordering[pick]
