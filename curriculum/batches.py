"""Batches of indices for the engine: endless iid epochs, as the ensemble members and the `standard` arm draw them."""

from __future__ import annotations

from typing import Iterator

import torch

from .errors import UserError


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator, start: int = 0) -> Iterator[torch.Tensor]:
    """Endless iid epochs: a fresh permutation of range(n) each epoch, cut into full batches. `start` continues at
    that step: with a generator seeded as the run's was, the earlier epochs' permutations are drawn and dropped, so
    the batches are exactly those an uninterrupted run draws from step `start` on."""
    device = generator.device
    epoch, skip = divmod(start, max(1, n // batch_size))  # whole epochs before `start`, batches into its epoch
    for _ in range(epoch):
        torch.randperm(n, generator=generator, device=device)
    while True:
        perm = torch.randperm(n, generator=generator, device=device)
        for begin in range(skip * batch_size, n - batch_size + 1, batch_size):
            yield perm[begin:begin + batch_size]
        skip = 0


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches per epoch; the commands call it before any MLflow run, so a batch larger than the data is
    one line for the user."""
    if batch_size > n:
        raise UserError(f"batch_size={batch_size} is larger than the {n} training examples; lower batch_size")
    return n // batch_size
