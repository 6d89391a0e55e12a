"""How well each score finds the labels flipped on purpose (data.label_noise)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..scoring.scores import DERIVED, SCORES, orientation
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
                         for c in DERIVED if c in scores and SCORES[c].direction])


def flag_row(side: str, method: str, flagged: np.ndarray, noisy: np.ndarray, timing: dict) -> dict:
    """Precision and recall of a set of flagged examples for finding the flipped ones (a row of the label-issues
    benchmark, with `timing`'s times)."""
    hits = int((flagged & noisy).sum())
    return {"side": side, "method": method, "flagged": int(flagged.sum()), **times(timing),
            "precision": hits / flagged.sum() if flagged.any() else float("nan"), "recall": hits / noisy.sum()}


def peer_rows(cleanlab, probs: np.ndarray, labels: np.ndarray, noisy: np.ndarray, cv: dict,
              side: str = "cleanlab") -> list[dict]:
    """cleanlab's label quality scores (lower = more likely an issue) and its flagged issues, both with defaults;
    each row's time is the cross-validation command's (`cv`: its times), which makes both calls."""
    quality = cleanlab.rank.get_label_quality_scores(labels, probs)
    issues = cleanlab.filter.find_label_issues(labels, probs)
    rank_row = {"side": side, "method": "get_label_quality_scores", "auroc": auroc(-quality, noisy),
                "auprc": average_precision(-quality, noisy), **times(cv)}
    return [rank_row, flag_row(side, "find_label_issues", issues, noisy, cv)]


def times(timing: dict) -> dict:
    return {k: timing[k] for k in ("wall_s", "cpu_s", "train_s")}
