"""Per-example scores from ensemble learning dynamics. Pure functions over arrays, and an accumulator
that folds in one member at a time, so memory grows with checkpoints x examples, never with members."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from ..errors import UserError

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


@dataclass(frozen=True)
class Totals:
    """What the members of an ensemble add up to, all a score function reads: memory grows with checkpoints x
    examples, never with members."""
    members: int
    checkpoints: np.ndarray                  # (C,) epochs
    quorum: float                            # share of members that must be right for learned_epoch
    sums: dict[str, np.ndarray]              # statistic -> (N,) float64 sum over members and checkpoints
    per_checkpoint: dict[str, np.ndarray]    # statistic -> (C, N) float32 sum over members (only where needed)
    folds: dict[str, np.ndarray]             # score -> (N,) float64 sum over members of its per_member value

    def mean(self, statistic: str) -> np.ndarray:
        """(C, N) mean over members; of `correct`, the agreement (share of members right)."""
        return self.per_checkpoint[statistic].astype(np.float64) / self.members

    def overall(self, statistic: str) -> np.ndarray:
        """(N,) mean over members and checkpoints."""
        return self.sums[statistic] / (self.members * len(self.checkpoints))


def variability(totals: Totals) -> np.ndarray:
    """Std over members and checkpoints of the label's probability (dataset cartography)."""
    samples = totals.members * len(totals.checkpoints)
    return np.sqrt(np.maximum(totals.folds["variability"] / samples - totals.overall("prob") ** 2, 0.0))


def squares(values: np.ndarray) -> np.ndarray:
    """(C, N) of one member -> (N,) sum over checkpoints of the squares, float32 temporaries, float64 sum."""
    return np.square(values.astype(np.float32)).sum(axis=0, dtype=np.float64)


@dataclass(frozen=True)
class Score:
    direction: int        # +1: higher is easier; -1: lower is easier; 0: no easy-to-hard direction (not an ordering)
    meaning: str
    compute: Callable[[Totals], np.ndarray] | None = None   # (N,) from the totals; None: imported, never derived
    needs: tuple[str, ...] = ()                              # statistics (curriculum.statistics) it reads
    per_member: Callable[[dict], np.ndarray] | None = None   # one member's statistics -> (N,), summed into folds
    per_checkpoint: tuple[str, ...] = ()                     # of `needs`, those it reads per checkpoint: (C, N) each


# The one registry of scores: the only place a score's direction is written down. `score` derives every entry
# with a `compute`, in this order; the others are columns that a folds score run adds (oof_confidence, written from
# the out-of-fold probabilities by scoring/confident.py) or that imported score files hold (io/importers.py).
SCORES = {
    "consensus": Score(+1, "mean over checkpoints of the share of members right",
                       lambda t: consensus(t.mean("correct")), ("correct",), per_checkpoint=("correct",)),
    "learned_epoch": Score(-1, "first checkpoint from which a quorum stays right; NaN (never learned) = hardest",
                           lambda t: learned_epoch(t.mean("correct"), t.checkpoints, t.quorum), ("correct",),
                           per_checkpoint=("correct",)),
    "forgetting": Score(-1, "mean number of right-to-wrong transitions per member; inf (never learned) = hardest",
                        lambda t: t.folds["forgetting"] / t.members, ("correct",),
                        lambda stats: forgetting_events(stats["correct"])),
    "confidence": Score(+1, "mean probability of the label", lambda t: t.overall("prob"), ("prob",)),
    "variability": Score(0, "std of that probability: low for always-right (easy) AND never-right (hard) examples",
                         variability, ("prob",), lambda stats: squares(stats["prob"])),
    "margin": Score(+1, "mean true-class margin (area under the margin)", lambda t: t.overall("margin"), ("margin",)),
    "el2n": Score(-1, "mean L2 norm of softmax minus one-hot label over the early checkpoints: higher = harder",
                  lambda t: el2n_score(t.mean("el2n"), t.checkpoints), ("el2n",), per_checkpoint=("el2n",)),
    "rank": Score(-1, "0 = easiest by consensus, ties broken by the larger margin",
                  lambda t: rank(consensus(t.mean("correct")), t.overall("margin")), ("correct", "margin"),
                  per_checkpoint=("correct",)),
    "loss": Score(-1, "mean cross-entropy of the label over members and checkpoints: higher = harder",
                  lambda t: t.overall("loss"), ("loss",)),
    "oof_confidence": Score(+1, "probability of the given label from the members that never trained on the example "
                                "(ensemble.folds; cleanlab's self-confidence): higher = easier"),
    "score": Score(+1, "an imported score (C-score, cartography confidence, a CSV column): higher = easier"),
    "cscore": Score(+1, "C-score (Jiang et al. 2021): higher = more regular"),
}
DERIVED = tuple(name for name, score in SCORES.items() if score.compute is not None)   # the columns `score` writes


class ScoreAccumulator:
    """Fold in members one by one: add(stats) with name -> (C, N) arrays, then finalize() to every derived score.
    Kept per example: an (N,) sum of each statistic a score needs, a (C, N) one only where a score reads it per
    checkpoint, and each score's per-member fold."""

    NEEDED = tuple(sorted({name for score in SCORES.values() for name in score.needs}))
    PER_CHECKPOINT = tuple(sorted({name for score in SCORES.values() for name in score.per_checkpoint}))

    def __init__(self):
        self.members, self.shape = 0, None
        self.sums, self.per_checkpoint, self.folds = {}, {}, {}   # as Totals holds them

    def add(self, stats: dict[str, np.ndarray]) -> None:
        missing = [name for name in self.NEEDED if name not in stats]
        if missing:
            raise ValueError(f"member dynamics lack {', '.join(missing)}; the scores need {', '.join(self.NEEDED)}")
        if self.shape is None:
            c, n = self.shape = stats[self.NEEDED[0]].shape
            self.sums = {name: np.zeros(n) for name in self.NEEDED}
            self.per_checkpoint = {name: np.zeros((c, n), np.float32) for name in self.PER_CHECKPOINT}
            self.folds = {name: np.zeros(n) for name, score in SCORES.items() if score.per_member}
        shapes = {stats[name].shape for name in self.NEEDED}
        if shapes != {self.shape}:
            raise ValueError(f"member dynamics of shape {' and '.join(map(str, shapes))} do not match {self.shape}; "
                             f"all members must share checkpoints and examples")
        self.members += 1
        for name, sums in self.sums.items():
            sums += stats[name].sum(axis=0, dtype=np.float64)
        for name, sums in self.per_checkpoint.items():
            sums += stats[name]
        for name, folded in self.folds.items():
            folded += SCORES[name].per_member(stats)

    def finalize(self, checkpoints: np.ndarray, quorum: float = 1.0) -> dict[str, np.ndarray]:
        assert self.members > 0, "no member added"
        totals = Totals(self.members, np.asarray(checkpoints, dtype=np.float64), quorum, self.sums,
                        self.per_checkpoint, self.folds)
        return {name: SCORES[name].compute(totals) for name in DERIVED}


def derive_scores(members: Iterable[dict[str, np.ndarray]], checkpoints: np.ndarray,
                  quorum: float = 1.0) -> dict[str, np.ndarray]:
    """Scores from an iterable of per-member statistics (name -> (C, N) array); members are consumed one at a time,
    so a generator that loads them from disk keeps memory flat."""
    acc = ScoreAccumulator()
    for member in members:
        acc.add(member)
    return acc.finalize(checkpoints, quorum)


def orientation(values: np.ndarray, column: str) -> np.ndarray:
    """`values` of score `column` turned so that higher = easier, NaN (never learned) as hardest."""
    if column not in SCORES:
        raise UserError(f"sampler.score={column!r} has no known direction; choose one of "
                        f"{', '.join(c for c, s in SCORES.items() if s.direction)} "
                        f"(an imported file's first score column is available as 'score', higher = easier)")
    if SCORES[column].direction == 0:
        raise UserError(f"sampler.score={column!r} has no easy-to-hard direction (low values are both always-right "
                        f"and never-right examples); order by confidence, margin or consensus instead")
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    if missing.any() and column != "learned_epoch":   # NaN learned_epoch means never learned: the hardest
        raise UserError(f"sampler.score={column!r} has {int(missing.sum())} of {len(values)} values missing (NaN), "
                        f"first at position {int(np.argmax(missing))}; the ordering would be partly random. "
                        f"Fix the scores file or choose another sampler.score")
    oriented = SCORES[column].direction * values
    return np.where(missing, -np.inf, oriented)
