"""How much of the ranking to keep (pacing.end=auto): the share of mislabelled examples, estimated from the
consensus scores alone.

Why this estimator: consensus takes L + 1 values (L = members x checkpoints). Hard but correctly labelled
examples spread thinly and evenly over the low levels (a flat floor: ~1% of examples per level on clean
Fashion-MNIST), while mislabelled ones pile up at the very bottom (the members learn the true class, never the
given one). So the mislabelled share is the excess mass over that floor in the lower half of the histogram.
A two-Gaussian mixture, tried first, collapses onto the spike at consensus 1 (scripts/bench_noise_estimate.py)."""

from __future__ import annotations

import numpy as np

from .errors import UserError


def consensus_levels(consensus: np.ndarray, meta: dict) -> int:
    """L, the number of member-checkpoint pairs behind each consensus value (values are multiples of 1/L):
    from the scores file's metadata when it has it, else the smallest L <= 1000 that fits every value."""
    if meta.get("ensemble") and meta.get("checkpoints"):
        return len(meta["ensemble"]) * len(meta["checkpoints"])
    values = np.unique(np.asarray(consensus, dtype=np.float64))
    for levels in range(1, 1001):
        if np.allclose(values * levels, np.round(values * levels), rtol=0, atol=1e-6):
            return levels
    raise UserError("pacing.end=auto needs consensus scores on a grid of members x checkpoints (as `score` writes "
                    "them); these are not: set pacing.end to a fraction instead")


def estimate_mislabelled_share(consensus: np.ndarray, levels: int) -> float:
    """Share of examples above a flat floor in the lower half of the consensus histogram.
    The floor is the median share per level over levels L/4 .. L/2, where hard clean examples dominate."""
    if levels < 4:
        raise UserError(f"pacing.end=auto needs at least 4 consensus levels (members x checkpoints), got {levels}; "
                        f"score with more members or checkpoints, or set pacing.end to a fraction")
    counts = np.bincount(np.round(np.asarray(consensus) * levels).astype(np.int64), minlength=levels + 1)
    share = counts / counts.sum()                                   # (L + 1,) share of examples per level
    floor = float(np.median(share[levels // 4: levels // 2 + 1]))
    return float(np.maximum(share[: (levels + 1) // 2] - floor, 0).sum())


def estimate_clean_fraction(consensus: np.ndarray, meta: dict) -> float:
    """pacing.end for `auto`: the share of examples that look correctly labelled."""
    return 1.0 - estimate_mislabelled_share(consensus, consensus_levels(consensus, meta))
