"""Which examples each curriculum step draws: a paced prefix of an ordering (iid epochs for the ensemble and
`standard` are in curriculum/batches.py). Samplers yield index tensors; the engine does the rest."""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch


class PacedSampler:
    """Each step draws a batch uniformly (without replacement) from the prefix of `ordering` that the
    pacing makes available: step s (0-based) uses ceil(end * g(s + 1, T) * N) examples, never fewer than one
    batch. g(s + 1, T) is the fraction reached once step s is done, so the last step sees g(T, T)."""

    def __init__(self, ordering: np.ndarray, pacing, total_steps: int, batch_size: int, end: float,
                 generator: torch.Generator):
        n = len(ordering)
        if not 0 < end <= 1:
            raise ValueError(f"pacing.end={end} must be a fraction in (0, 1]")
        if end * n < batch_size:
            raise ValueError(f"pacing.end={end} keeps {int(end * n)} examples, fewer than batch_size={batch_size}")
        self.ordering = torch.as_tensor(ordering, dtype=torch.int64, device=generator.device)
        self.pacing, self.total, self.batch, self.end, self.gen = pacing, total_steps, batch_size, end, generator

    def prefix_size(self, step: int) -> int:
        """Examples the batch of `step` (0-based) is drawn from. round(, 6) before ceil drops float dust:
        0.36000000000000004 x 1000 is 360 examples, not 361."""
        n = len(self.ordering)
        wanted = math.ceil(round(self.end * self.pacing(step + 1, self.total) * n, 6))
        return min(math.ceil(round(self.end * n, 6)), max(self.batch, wanted))

    def __iter__(self) -> Iterator[torch.Tensor]:
        for step in range(self.total):
            size = self.prefix_size(step)
            pick = torch.randperm(size, generator=self.gen, device=self.gen.device)[: self.batch]
            yield self.ordering[pick]
