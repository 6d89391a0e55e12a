"""Confident learning on out-of-fold probabilities: how many labels are wrong, which ones, and what they should be.
Based on: Northcutt, Jiang & Chuang (2021), "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 70
(arXiv 1911.00068); the steps of cleanlab 2.x's count.compute_confident_joint, count.estimate_joint and
filter.find_label_issues (filter_by="prune_by_noise_rate", its default), written here in numpy. One difference: an
example that reaches the thresholds of two or more classes counts for the most probable of those (the paper's
rule), where cleanlab 2.9 takes its most probable class overall, even one below its threshold.

Why it holds where the consensus histogram does not: the thresholds are per class, so a class that the members
confuse with its look-alike (class-conditional noise) or ambiguous images (instance-dependent noise) is judged
against its own typical confidence, and the joint counts each (given, true) pair of classes on its own.
`probs` are (N, K) predicted probabilities of examples from models that never trained on them (ensemble.folds);
`labels` the (N,) given labels in 0..K-1. Pure functions, no state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError

TOLERANCE = 1e-6            # p_k within this of t_k counts as reaching it (cleanlab's; float sums of equal values)
MIN_EXAMPLES_PER_CLASS = 5  # below this a class's threshold is the mean of a few examples' own probabilities
CHANCE_MARGIN = 0.1         # warn when accuracy gets less than this share of the way from chance to 1
AGREEMENT_MARGIN = 0.02     # warn when the training labels agree with the models this much more than the test's


@dataclass(frozen=True)
class LabelIssues:
    """Everything confident learning finds in one set of out-of-fold probabilities."""
    thresholds: np.ndarray     # (K,) t_j = mean p_j over the examples labelled j
    joint: np.ndarray          # (K, K) int: C[i][j] examples labelled i whose confident class is j
    estimate: np.ndarray       # (K, K) float: estimated joint distribution Q of (given, true) labels; sums to 1
    share: float               # estimated share of wrong labels: the off-diagonal mass of Q
    flags: np.ndarray          # (N,) bool: likely label errors (prune_by_noise_rate)
    suggested: np.ndarray      # (N,) int: the label a relabelling arm trains on
    confidence: np.ndarray     # (N,) p of the given label (self-confidence): higher = more likely right


def class_thresholds(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(K,) t_j = mean p_j over the examples labelled j: the confidence a class's own examples typically get.
    A class nobody is labelled with gets inf, so no example is confidently in it."""
    k = probs.shape[1]
    counts = np.bincount(labels, minlength=k)
    sums = np.zeros((k, k))
    np.add.at(sums, labels, probs)                            # sums[i] = sum of the rows labelled i
    own = np.diagonal(sums)
    return np.divide(own, counts, out=np.full(k, np.inf), where=counts > 0)


def confident_class(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(N,) the most probable class among those whose p_k reaches t_k (the paper's rule; cleanlab 2.9 takes the overall
    argmax when two or more reach theirs), or -1 where no class reaches its threshold (the example is confidently in
    no class and counts nowhere)."""
    above = probs >= thresholds - TOLERANCE
    best = np.where(above, probs, -np.inf).argmax(axis=1)
    return np.where(above.any(axis=1), best, -1)


def confident_joint(labels: np.ndarray, confident: np.ndarray, classes: int) -> np.ndarray:
    """(K, K) int counts C[i][j]: examples labelled i whose confident class is j (those with none left out)."""
    some = confident >= 0
    return np.bincount(labels[some] * classes + confident[some], minlength=classes * classes).reshape(classes, classes)


def calibrated_joint(joint: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(K, K) estimated joint distribution of (given, true) labels: each row of the confident joint scaled so that it
    holds the share of examples labelled i (the confident counts are a sample of each class, of unknown size), the
    whole summing to 1. A class none of whose examples is confident gets a diagonal of 1 (taken as clean) first, as
    cleanlab does, so every row can be scaled."""
    joint = joint.astype(np.float64)
    np.fill_diagonal(joint, np.maximum(np.diagonal(joint), 1.0))
    counts = np.bincount(labels, minlength=len(joint)).astype(np.float64)
    return joint / joint.sum(axis=1, keepdims=True) * (counts / counts.sum())[:, None]


def off_diagonal_share(estimate: np.ndarray) -> float:
    """The estimated share of wrong labels: the mass of the joint off its diagonal (given != true)."""
    return float(1.0 - np.trace(estimate))


def issue_counts(estimate: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(K, K) int: how many examples labelled i are estimated to be truly j, N * Q rounded per row so that each row
    still adds up to the number labelled i (largest remainders get the leftover units)."""
    counts = np.bincount(labels, minlength=len(estimate))
    expected = estimate * len(labels)                                 # row i sums to counts[i]
    rounded = np.floor(expected).astype(np.int64)          # a row's floors never exceed its total
    for i in range(len(estimate)):
        leftover = counts[i] - rounded[i].sum()
        rounded[i, np.argsort(-(expected[i] - rounded[i]), kind="stable")[:leftover]] += 1
    return rounded


def prune_by_noise_rate(probs: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(N,) bool flags: for each pair i != j, the counts[i][j] examples labelled i with the largest margin p_j - p_i,
    except examples whose most probable class is their label (cleanlab's default filter). Why this one and not the
    confident joint's off-diagonal: it flags as many examples as the calibrated estimate says are wrong, so the flags
    and the estimate agree, and within each pair it takes the examples the out-of-fold models most prefer j for."""
    flags = np.zeros(len(labels), dtype=bool)
    for i in range(probs.shape[1]):
        rows = np.flatnonzero(labels == i)
        for j in np.flatnonzero(counts[i]):
            if j != i:
                margin = probs[rows, j] - probs[rows, i]
                flags[rows[np.argsort(-margin, kind="stable")[:counts[i, j]]]] = True
    return flags & ~predicts_label(probs, labels)


def predicts_label(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N,) bool: the given label is the most probable class (ties go to the label)."""
    own = probs[np.arange(len(labels)), labels]
    return own >= probs.max(axis=1) - TOLERANCE


def suggested_labels(labels: np.ndarray, flags: np.ndarray, confident: np.ndarray) -> np.ndarray:
    """(N,) the label to train on when relabelling: a flagged example whose confident class exists and differs from
    its label takes that class; every other example (unflagged, or confidently in no class or in its own) keeps its
    label. Only a class the example reaches the threshold of is suggested, never a mere argmax."""
    return np.where(flags & (confident >= 0) & (confident != labels), confident, labels)


def self_confidence(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N,) the probability of the given label (cleanlab's default label quality): higher = more likely right."""
    return probs[np.arange(len(labels)), labels]


def confident_learning(probs, labels) -> LabelIssues:
    """Thresholds -> confident joint -> calibrated estimate -> flags and suggested labels, on (N, K) out-of-fold
    probabilities and (N,) given labels (checked: shapes, labels in range, probabilities finite in [0, 1])."""
    probs, labels = checked(probs, labels)
    thresholds = class_thresholds(probs, labels)
    confident = confident_class(probs, thresholds)
    joint = confident_joint(labels, confident, probs.shape[1])
    estimate = calibrated_joint(joint, labels)
    flags = prune_by_noise_rate(probs, labels, issue_counts(estimate, labels))
    return LabelIssues(thresholds, joint, estimate, off_diagonal_share(estimate), flags,
                       suggested_labels(labels, flags, confident), self_confidence(probs, labels))


def checked(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    """The inputs as float64 (N, K) and int64 (N,), or one line naming what is wrong."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    if probs.ndim != 2 or labels.shape != probs.shape[:1]:
        raise UserError(f"confident learning needs (N, K) probabilities and N labels, got shapes {probs.shape} and "
                        f"{labels.shape}")
    if not np.all(np.isfinite(probs) & (probs >= 0) & (probs <= 1)):
        raise UserError("confident learning needs probabilities in [0, 1]; these hold other or missing values")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise UserError(f"confident learning needs integer labels in 0..{probs.shape[1] - 1} (one per column of "
                        f"the probabilities)")
    return probs, labels.astype(np.int64)


def check_class_sizes(labels, classes: int) -> None:
    """Refuse (one line) when a class has fewer than MIN_EXAMPLES_PER_CLASS examples labelled with it: its threshold
    would be the mean of a few examples' own probabilities and the estimate no estimate. A score run can call this
    before it trains. (A class with examples always has one that reaches its threshold, as a mean never exceeds the
    largest value, so "no example above the threshold" needs no check of its own.)"""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=classes)
    small = np.flatnonzero(counts < MIN_EXAMPLES_PER_CLASS)
    if len(small):
        raise UserError(f"confident learning needs at least {MIN_EXAMPLES_PER_CLASS} examples of every class, but "
                        f"class {int(small[0])} has {int(counts[small[0]])} ({len(small)} such classes); it gives no "
                        f"reliable estimate here: merge or drop the rare classes, or set the kept share by hand")


def chance_warning(probs: np.ndarray, labels: np.ndarray) -> str | None:
    """A line when the out-of-fold models barely beat chance on the given labels (accuracy less than CHANCE_MARGIN
    of the way from always answering the most common label to 1): their probabilities then say little about which
    labels are wrong, and the estimate is unreliable. None otherwise."""
    accuracy = float(np.mean(probs.argmax(axis=1) == labels))
    chance = float(np.bincount(labels).max() / len(labels))
    if accuracy - chance >= CHANCE_MARGIN * (1 - chance):
        return None
    return (f"the out-of-fold accuracy on the given labels is {accuracy:.3f}, barely above chance ({chance:.3f}): "
            f"the confident-learning estimate is unreliable; train the members longer or set the kept share by hand")


def agreement_warning(oof_accuracy: float, test_accuracy: float | None) -> str | None:
    """A line when the out-of-fold models agree with the training labels more than the same members agree with the
    test labels (by more than AGREEMENT_MARGIN): labels made the way a model predicts (instance-dependent noise:
    annotators who take an ambiguous image for its look-alike) look right to the models, so confident learning
    cannot see them and its estimate is far too low. Only a clean test split shows it. None otherwise or without
    a test split."""
    if test_accuracy is None or oof_accuracy <= test_accuracy + AGREEMENT_MARGIN:
        return None
    return (f"the out-of-fold models agree with the training labels more than with the test labels "
            f"({oof_accuracy:.3f} vs {test_accuracy:.3f}): if the test labels are the cleaner, some training labels "
            f"were made the way a model predicts (instance-dependent noise), which confident learning cannot see, "
            f"and the estimate is too low")


def label_issue_columns(oof_probs, labels, test_accuracy: float | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """The columns a folds score run adds to scores.parquet, and its meta entry `label_issues`:
    oof_confidence (p of the given label from the members that never trained on the example: a score, higher =
    easier), label_issue (1 = flagged), cl_keep (1 - label_issue: `sampler.keep=cl_keep`) and suggested_label (the
    relabelling arm's label). Refuses a class with too few examples; the meta carries a warning (chance_warning, or
    agreement_warning with `test_accuracy`, the members' mean accuracy on the test split, None when not recorded)."""
    probs, labels = checked(oof_probs, labels)
    check_class_sizes(labels, probs.shape[1])
    found = confident_learning(probs, labels)
    flagged = found.flags.astype(np.int8)
    columns = {"oof_confidence": found.confidence, "label_issue": flagged, "cl_keep": (1 - flagged).astype(np.int8),
               "suggested_label": found.suggested.astype(np.int64)}
    accuracy = float(np.mean(probs.argmax(axis=1) == labels))
    meta = {"method": "confident learning", "probabilities": "out-of-fold", "filter": "prune_by_noise_rate",
            "estimated_share": found.share, "flagged": int(flagged.sum()),
            "relabelled": int(np.sum(found.suggested != labels)), "thresholds": found.thresholds.tolist(),
            "estimated_joint": found.estimate.tolist(), "oof_accuracy": accuracy, "test_accuracy": test_accuracy,
            "warning": chance_warning(probs, labels) or agreement_warning(accuracy, test_accuracy)}
    return columns, {"label_issues": meta}
