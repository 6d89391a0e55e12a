"""Subsets and splits that keep the class proportions."""

from __future__ import annotations

import numpy as np


def stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation of positions whose every prefix holds the classes in (near) their overall proportion:
    each class is shuffled, then the classes are interleaved by relative rank."""
    key = np.empty(len(labels))
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        key[rng.permutation(members)] = (np.arange(len(members)) + rng.uniform(size=len(members))) / len(members)
    return np.argsort(key, kind="stable")
