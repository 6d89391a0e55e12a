"""Seeded label noise; the mask of flipped labels is kept."""

from __future__ import annotations

import numpy as np


def flip_labels(labels: np.ndarray, fraction: float, num_classes: int, rng: np.random.Generator):
    """Flip exactly round(fraction * N) labels, each to a uniformly drawn *other* class.
    Returns (new labels, bool mask of flipped examples)."""
    n_flip = int(round(fraction * len(labels)))
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[rng.choice(len(labels), size=n_flip, replace=False)] = True
    shift = rng.integers(1, num_classes, size=n_flip)
    noisy = labels.copy()
    noisy[flipped] = (labels[flipped] + shift) % num_classes
    return noisy, flipped
