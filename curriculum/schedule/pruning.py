"""How much of the ranking to keep (pacing.end=auto): the share of mislabelled examples. Scores of a folds score
run (ensemble.folds) carry confident learning's estimate on out-of-fold probabilities (scoring/confident.py), which
holds on class-conditional and instance-dependent noise, and auto uses it; other scores get the estimate from the
consensus histogram alone, below, which holds on symmetric noise and underestimates the structured kinds.

Why this estimator: consensus takes L + 1 values (L = members x checkpoints). Hard but correctly labelled
examples spread thinly and evenly over the low levels (a flat floor: ~1% of examples per level on clean
Fashion-MNIST), while mislabelled ones pile up at the very bottom (the members learn the true class, never the
given one). So the mislabelled share is the excess mass over that floor in the lower half of the histogram.
A two-Gaussian mixture, tried first, collapses onto the spike at consensus 1 (scripts/bench_noise_estimate.py)."""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..scoring.confident import issue_counts


def consensus_levels(meta: dict) -> int:
    """L, the number of member-checkpoint pairs behind each consensus value (values are multiples of 1/L), from
    the metadata `score` writes into scores.parquet; scores from elsewhere have none and are refused."""
    if not (meta.get("ensemble") and meta.get("checkpoints")):
        raise UserError("pacing.end=auto needs consensus scores written by `python -m curriculum score` (their file "
                        "says how many members and checkpoints made them); set pacing.end to a fraction instead")
    return len(meta["ensemble"]) * len(meta["checkpoints"])


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
    consensus = np.asarray(consensus, dtype=np.float64)
    levels = consensus_levels(meta)
    if not np.all((consensus >= 0) & (consensus <= 1)):
        raise UserError("pacing.end=auto needs consensus scores in [0, 1]; these are not: set pacing.end to a fraction")
    clean = 1.0 - estimate_mislabelled_share(consensus, levels)
    if clean <= 0:
        raise UserError("pacing.end=auto found no floor of hard clean examples in the consensus histogram (it would "
                        "keep nothing); look at the score run's consensus_hist.png and set pacing.end to a fraction")
    return clean


# Said beside every histogram estimate: where it fails, and what to use there.
HISTOGRAM_CAVEAT = ("this estimate misses class-conditional and instance-dependent noise (look-alike classes, "
                    "ambiguous images); score with ensemble.folds=4 for the confident-learning one")


def confident_clean_fraction(issues: dict) -> float:
    """pacing.end for `auto` when the scores carry confident learning's estimate (the meta entry `label_issues` of a
    folds score run, scoring/confident.py): one minus its estimated share of wrong labels."""
    share = issues.get("estimated_share")
    if not isinstance(share, (int, float)) or not 0 <= share < 1:
        raise UserError(f"pacing.end=auto: the scores' confident-learning estimate is {share!r}, not a share in "
                        f"[0, 1); score again, or set pacing.end to a fraction")
    return 1.0 - float(share)

def class_quotas(issues: dict, labels: np.ndarray) -> np.ndarray:
    """(K,) how many examples of each given class look correctly labelled: N * Q[i][i] of confident learning's
    estimated joint (the meta entry `label_issues`), rounded per class as its flags are (issue_counts). Per class,
    because structured noise is not spread evenly: a class confused with its look-alike loses more than the rest."""
    joint = np.asarray(issues["estimated_joint"], dtype=np.float64)
    return np.diagonal(issue_counts(joint, np.asarray(labels))).copy()


def quotas_first(ordering: np.ndarray, labels: np.ndarray, quotas: np.ndarray) -> tuple[np.ndarray, float]:
    """The ordering with the first quotas[c] examples of each class c (in the ordering's order) moved ahead of the
    rest, and the share they are: pacing.end=auto under confident learning, whose prefix is then exactly the
    examples each class keeps."""
    classes = labels[ordering]
    rank = np.empty(len(ordering), dtype=np.int64)        # each position's rank among its class in the ordering
    for c in np.unique(classes):
        at = classes == c
        rank[at] = np.arange(at.sum())
    first = rank < quotas[classes]
    return np.concatenate([ordering[first], ordering[~first]]), int(first.sum()) / len(ordering)
