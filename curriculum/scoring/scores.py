"""Per-example scores from ensemble learning dynamics. Pure functions over arrays, and an accumulator
that folds in one member at a time, so memory grows with checkpoints x examples, never with members."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..errors import UserError

# +1: higher is easier; -1: lower is easier; 0: no easy-to-hard direction (refused as an ordering).
# The only place the direction of a score is written down.
DIRECTIONS = {
    "consensus": +1,      # mean agreement over checkpoints
    "learned_epoch": -1,  # learned earlier = easier; NaN (never learned) counts as hardest
    "forgetting": -1,     # mean number of 1->0 transitions per member; inf (never learned by a member) = hardest
    "confidence": +1,     # mean probability of the label
    "variability": 0,     # std of that probability: low for always-right (easy) AND always-wrong (hard) examples
    "margin": +1,         # mean true-class margin (area under the margin)
    "el2n": -1,           # mean L2 norm of softmax minus one-hot label over the early checkpoints: higher = harder
    "rank": -1,           # 0 = easiest by consensus
    "score": +1,          # an imported score (C-score, cartography confidence, a CSV column): higher = easier
    "cscore": +1,         # C-score (Jiang et al. 2021): higher = more regular
}
SCORE_COLUMNS = ("consensus", "learned_epoch", "forgetting", "confidence", "variability", "margin", "el2n", "rank")

# EL2N is averaged over the checkpoints at or before this epoch (with the default recording: 1/8, 1/4, 1/2 and 1).
# Paul et al. (2021) score early in training (epoch 20 of 200 on CIFAR-10), while a network still errs on the examples
# it has not fitted and before it memorises the mislabelled ones; our members' first epoch is that phase (they reach
# most of their accuracy in it), and the checkpoints inside it carry most of the ranking's quality
# (docs/performance.md). Every run has at least the epoch-1 checkpoint, so the column is never empty.
EL2N_UNTIL = 1.0   # epochs


def consensus(agreement: np.ndarray) -> np.ndarray:
    """(C, N) share of members correct at each checkpoint -> (N,) mean over checkpoints, in [0, 1]."""
    return agreement.mean(axis=0)


def learned_epoch(agreement: np.ndarray, checkpoints: np.ndarray, quorum: float = 1.0) -> np.ndarray:
    """First checkpoint (in epochs) from which agreement >= quorum at every later checkpoint; NaN if never."""
    ok = agreement >= quorum - 1e-9                                   # (C, N)
    stays = np.logical_and.accumulate(ok[::-1], axis=0)[::-1]         # ok here and at every later checkpoint
    learned = stays.any(axis=0)
    first = stays.argmax(axis=0)
    return np.where(learned, np.asarray(checkpoints, dtype=np.float64)[first], np.nan)


def forgetting_events(correct: np.ndarray) -> np.ndarray:
    """(C, N) bool of one member -> (N,) number of correct-to-wrong transitions between checkpoints;
    inf for an example the member never classifies correctly (Toneva et al. 2019: never learned = most forgettable)."""
    events = (correct[:-1] & ~correct[1:]).sum(axis=0).astype(np.float64)
    return np.where(correct.any(axis=0), events, np.inf)


def el2n_score(el2n_mean: np.ndarray, checkpoints: np.ndarray, until: float = EL2N_UNTIL) -> np.ndarray:
    """(C, N) EL2N averaged over members at each checkpoint -> (N,) mean over the checkpoints at epochs <= until."""
    early = np.asarray(checkpoints, dtype=np.float64) <= until + 1e-9
    assert early.any(), f"no checkpoint at or before epoch {until}"
    return el2n_mean[early].mean(axis=0, dtype=np.float64)


def rank(consensus_score: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """0 for the easiest example by consensus, ties broken by the larger margin."""
    order = np.lexsort((-margin, -consensus_score))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order))
    return ranks


class ScoreAccumulator:
    """Fold in members one by one: add(correct, margin, prob, el2n) with (C, N) arrays, then finalize(). Members
    without el2n (files of format 1) give scores without the el2n column; all members must agree on having it."""

    def __init__(self):
        self.members = 0
        self.correct_sum = None  # (C, N) int32: members correct at each checkpoint

    def add(self, correct: np.ndarray, margin: np.ndarray, prob: np.ndarray, el2n: np.ndarray | None = None) -> None:
        if self.correct_sum is None:
            c, n = correct.shape
            self.correct_sum = np.zeros((c, n), np.int32)
            self.forgetting = np.zeros(n)                            # (N,) sum over members, inf if never right
            self.prob_sum, self.prob_sq, self.margin_sum = np.zeros(n), np.zeros(n), np.zeros(n)
            # (C, N) float32 sum over members: which checkpoints count is known only at finalize()
            self.el2n_sum = None if el2n is None else np.zeros((c, n), np.float32)
        if correct.shape != self.correct_sum.shape:
            raise ValueError(f"member dynamics of shape {correct.shape} do not match {self.correct_sum.shape}; "
                             f"all members must share checkpoints and examples")
        if (el2n is None) != (self.el2n_sum is None):
            raise ValueError("some members have el2n and some do not; all members must come from one format")
        if el2n is not None:
            self.el2n_sum += el2n
        self.members += 1
        self.correct_sum += correct
        self.forgetting += forgetting_events(correct)
        p = prob.astype(np.float32)  # (C, N); float32 temporaries, float64 accumulators
        self.prob_sum += p.sum(axis=0, dtype=np.float64)
        self.prob_sq += np.square(p).sum(axis=0, dtype=np.float64)
        self.margin_sum += margin.sum(axis=0, dtype=np.float64)

    def finalize(self, checkpoints: np.ndarray, quorum: float = 1.0) -> dict[str, np.ndarray]:
        assert self.members > 0, "no member added"
        a = self.correct_sum / self.members                              # (C, N) agreement
        samples = self.members * a.shape[0]                              # member-checkpoint pairs
        conf = self.prob_sum / samples
        mean_margin = self.margin_sum / samples
        cons = consensus(a)
        return {
            "consensus": cons,
            "learned_epoch": learned_epoch(a, checkpoints, quorum),
            "forgetting": self.forgetting / self.members,
            "confidence": conf,
            "variability": np.sqrt(np.maximum(self.prob_sq / samples - conf ** 2, 0.0)),
            "margin": mean_margin,
            **({} if self.el2n_sum is None else {"el2n": el2n_score(self.el2n_sum / self.members, checkpoints)}),
            "rank": rank(cons, mean_margin),
        }


def derive_scores(members: Iterable[tuple[np.ndarray, ...]], checkpoints: np.ndarray,
                  quorum: float = 1.0) -> dict[str, np.ndarray]:
    """Scores from an iterable of per-member (correct, margin, prob) or (correct, margin, prob, el2n), each (C, N);
    members are consumed one at a time, so a generator that loads them from disk keeps memory flat."""
    acc = ScoreAccumulator()
    for member in members:
        acc.add(*member)
    return acc.finalize(checkpoints, quorum)


def orientation(values: np.ndarray, column: str) -> np.ndarray:
    """`values` of score `column` turned so that higher = easier, NaN (never learned) as hardest."""
    if column not in DIRECTIONS:
        raise UserError(f"sampler.score={column!r} has no known direction; choose one of "
                        f"{', '.join(c for c, d in DIRECTIONS.items() if d)} "
                        f"(an imported file's first score column is available as 'score', higher = easier)")
    if DIRECTIONS[column] == 0:
        raise UserError(f"sampler.score={column!r} has no easy-to-hard direction (low values are both always-right "
                        f"and never-right examples); order by confidence, margin or consensus instead")
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    if missing.any() and column != "learned_epoch":   # NaN learned_epoch means never learned: the hardest
        raise UserError(f"sampler.score={column!r} has {int(missing.sum())} of {len(values)} values missing (NaN), "
                        f"first at position {int(np.argmax(missing))}; the ordering would be partly random. "
                        f"Fix the scores file or choose another sampler.score")
    oriented = DIRECTIONS[column] * values
    return np.where(missing, -np.inf, oriented)
