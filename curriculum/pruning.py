"""How much of the ranking to keep: the share of examples whose scores look like correctly labelled ones."""

from __future__ import annotations

import numpy as np


def estimate_clean_fraction(consensus: np.ndarray, iterations: int = 200) -> float:
    """Weight of the upper component of a two-component Gaussian mixture fitted (EM) to consensus scores.
    Mislabelled examples are learned late or never, so they gather in the lower component."""
    x = np.asarray(consensus, dtype=np.float64)
    mu, var, w = np.array([0.1, 0.9]), np.array([0.05, 0.05]), np.array([0.5, 0.5])
    for _ in range(iterations):
        dens = w * np.exp(-(x[:, None] - mu) ** 2 / (2 * var)) / np.sqrt(2 * np.pi * var)  # (N, 2)
        resp = dens / np.maximum(dens.sum(axis=1, keepdims=True), 1e-300)
        w = resp.mean(axis=0)
        mu = (resp * x[:, None]).sum(axis=0) / np.maximum(resp.sum(axis=0), 1e-12)
        var = np.maximum((resp * (x[:, None] - mu) ** 2).sum(axis=0) / np.maximum(resp.sum(axis=0), 1e-12), 1e-4)
    return float(w[np.argmax(mu)])
