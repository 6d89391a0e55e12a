"""Linear centred kernel alignment (Kornblith et al. 2019) between two networks' representations of the same
examples: 1 for representations equal up to a rotation and an isotropic scale, 0 for uncorrelated ones. Pure math."""

from __future__ import annotations

from itertools import combinations

import numpy as np


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """x: (N, D1), y: (N, D2), rows the same examples. ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on column-centred
    features (the feature-space form: cheap for N much larger than D)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"representations of {x.shape[0]} and {y.shape[0]} examples: CKA needs the same examples")
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    cross = np.linalg.norm(y.T @ x) ** 2
    scale = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / scale) if scale > 0 else float("nan")


def cka_matrix(features: list[np.ndarray | None]) -> np.ndarray:
    """(K, K) linear CKA between every pair of members' representations; NaN where a member has none."""
    k = len(features)
    matrix = np.full((k, k), np.nan)
    for i, j in combinations(range(k), 2):
        if features[i] is not None and features[j] is not None:
            matrix[i, j] = matrix[j, i] = linear_cka(features[i], features[j])
    return matrix
