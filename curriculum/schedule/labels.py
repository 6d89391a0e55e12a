"""Which labels a target run trains on (`sampler.labels`): the given ones, or a scores column of class numbers, e.g.
`suggested_label` of a score run with ensemble.folds (confident learning's corrections: scoring/confident.py). The
relabel arm of a label-noise study trains on corrected labels instead of dropping the suspect examples; validation
and test labels are never touched, and a class-balanced ordering stays balanced by the given labels (the ordering
comes from the scores, which were made with them). A pure function of the scores frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import UserError
from ..scoring.scores import SCORES

GIVEN = "given"
NOT_LABELS = ("index", "fold", "noisy", "label_issue", "cl_keep", "path")   # columns of a score run that hold no class


def trained_labels(labels: str, frame: pd.DataFrame | None, num_classes: int) -> np.ndarray | None:
    """(N,) int64 labels from the scores column `labels`, or None for the given labels. The column must hold a
    class number in [0, num_classes) for every example; anything else stops in one line."""
    if labels == GIVEN:
        return None
    if labels in NOT_LABELS or labels in SCORES:
        raise UserError(f"sampler.labels={labels!r} is a column of scores or bookkeeping, not of labels; give `given`, "
                        f"suggested_label (a score run with ensemble.folds), true_label (the relabelling oracle) or "
                        f"a column of class numbers you made")
    if frame is None or labels not in frame:
        have = ", ".join(c for c in (frame if frame is not None else []) if c not in ("index", "path"))
        raise UserError(f"sampler.labels={labels!r} is neither `given` nor a column of the scores"
                        + (f" (they have {have})" if have else "")
                        + "; a score run with ensemble.folds writes suggested_label")
    values = pd.to_numeric(frame[labels], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) | (values != np.round(values)) | (values < 0) | (values >= num_classes)
    if bad.any():
        first = frame[labels].iloc[int(np.flatnonzero(bad)[0])]
        first = first.item() if hasattr(first, "item") else first
        raise UserError(f"sampler.labels={labels!r}: {int(bad.sum())} values are not class numbers in "
                        f"[0, {num_classes}) (e.g. {first!r}); the column must give every example a class")
    return values.astype(np.int64)
