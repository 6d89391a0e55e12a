"""How well each score finds the labels flipped on purpose (data.label_noise)."""

from __future__ import annotations

import pandas as pd

from ..scoring.scores import DIRECTIONS, SCORE_COLUMNS, orientation
from .stats import auroc


def noise_auroc(scores: pd.DataFrame) -> pd.DataFrame | None:
    """AUROC of each score (turned to hardness) for finding the flipped labels; None without noise."""
    if "noisy" not in scores or not scores["noisy"].any():
        return None
    return pd.DataFrame([{"score": c, "auroc": auroc(-orientation(scores[c].to_numpy(), c), scores["noisy"].to_numpy())}
                         for c in SCORE_COLUMNS if c in scores and DIRECTIONS[c]])
