"""The alignment check that every dynamics and scores file goes through, and the atomic writes they use
(curriculum/atomic.py, re-exported here for the stages)."""

from __future__ import annotations

import numpy as np

from ..atomic import atomic_write as atomic_write  # re-exported: the stages write through io.files
from ..errors import UserError


def check_alignment(source: str, file_index: np.ndarray, file_labels: np.ndarray,
                    index: np.ndarray, labels: np.ndarray, made_for: str = "") -> None:
    """Fail with one line saying how the file's examples and labels differ from the data's."""
    origin = f" (made for {made_for})" if made_for else ""
    if len(file_index) != len(index):
        raise UserError(f"{source}{origin} has {len(file_index)} examples but the training data has {len(index)}; "
                        f"use scores made with the same data config (data.name, train_size, val_size, seed)")
    if not np.array_equal(file_index, index):
        n = int((file_index != index).sum())
        raise UserError(f"{source}{origin} covers other examples: {n} of {len(index)} indices differ; "
                        f"use scores made with the same data config (data.train_size, data.val_size, data.seed)")
    bad = np.flatnonzero(file_labels != labels)
    if len(bad):
        raise UserError(f"{source}{origin} was made for other labels: {len(bad)} of {len(labels)} labels disagree "
                        f"(first at index {int(index[bad[0]])}); check data.label_noise and data.seed")
