"""Which examples a gallery shows: per given label, the easiest and the hardest by the `rank` column (consensus,
ties by margin) and the most likely mislabelled by the lowest margin (the score docs/label_noise.md recommends for
finding label errors). Pure selection; plots.gallery draws them."""

from __future__ import annotations

import numpy as np
import pandas as pd

KINDS = {"easiest": ("rank", True), "hardest": ("rank", False), "likely mislabelled": ("margin", True)}
SHOWN_SCORE = {"easiest": "consensus", "hardest": "consensus", "likely mislabelled": "margin"}


def gallery_picks(scores: pd.DataFrame, label: int, per_kind: int = 8) -> dict[str, np.ndarray]:
    """Row positions in `scores` of the examples given `label`: for each kind, the first `per_kind` by its column
    (ascending for the easiest and the likely mislabelled, descending for the hardest; ties by row order)."""
    rows = np.flatnonzero(scores["label"].to_numpy() == label)
    picks = {}
    for kind, (column, ascending) in KINDS.items():
        values = scores[column].to_numpy()[rows]
        order = np.argsort(values if ascending else -values, kind="stable")
        picks[kind] = rows[order[:per_kind]]
    return picks
