"""How well each score finds the labels flipped on purpose (data.label_noise)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..scoring.scores import DIRECTIONS, SCORE_COLUMNS, orientation
from .stats import auroc, average_precision


def flip_evidence(scores: pd.DataFrame, column: str) -> np.ndarray:
    """Score `column` turned so that higher = more likely flipped (harder), never-learned examples highest."""
    return -orientation(scores[column].to_numpy(), column)


def detection(scores: pd.DataFrame, columns, noisy: np.ndarray) -> pd.DataFrame:
    """AUROC and average precision (AUPRC) of each score column for finding the `noisy` (flipped) examples."""
    return pd.DataFrame([{"score": c, "auroc": auroc(flip_evidence(scores, c), noisy),
                          "auprc": average_precision(flip_evidence(scores, c), noisy)} for c in columns])


def noise_auroc(scores: pd.DataFrame) -> pd.DataFrame | None:
    """AUROC of each score (turned to hardness) for finding the flipped labels; None without noise."""
    if "noisy" not in scores or not scores["noisy"].any():
        return None
    return pd.DataFrame([{"score": c, "auroc": auroc(flip_evidence(scores, c), scores["noisy"].to_numpy())}
                         for c in SCORE_COLUMNS if c in scores and DIRECTIONS[c]])
