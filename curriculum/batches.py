"""Batches of indices for the engine: endless iid epochs, as the ensemble members and the `standard` arm draw them."""

from __future__ import annotations

from typing import Iterator

import torch

from .errors import UserError


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless iid epochs: a fresh permutation of range(n) each epoch, cut into full batches."""
    device = generator.device
    while True:
        perm = torch.randperm(n, generator=generator, device=device)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start:start + batch_size]


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches per epoch; the commands call it before any MLflow run, so a batch larger than the data is
    one line for the user."""
    if batch_size > n:
        raise UserError(f"batch_size={batch_size} is larger than the {n} training examples; lower batch_size")
    return n // batch_size
