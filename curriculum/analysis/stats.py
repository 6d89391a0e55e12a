"""Small statistics used across commands: rank-based AUROC and Spearman correlation, Student-t quantiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import t as student_t


def t975(df: int) -> float:
    """Two-sided 95% Student-t quantile with df degrees of freedom, exact: the normal 1.96 that replaced it
    beyond a table is 3% too narrow at df=40."""
    return float(student_t.ppf(0.975, df))


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a random positive scores higher than a random negative (ties count half)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(np.asarray(scores, dtype=np.float64)).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = pd.Series(np.asarray(a, dtype=np.float64)).rank().to_numpy()
    rb = pd.Series(np.asarray(b, dtype=np.float64)).rank().to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1])
