"""Samplers (the `sampler` config group): orderings of the training examples, easiest first, as pure functions of
(scores, labels, seed). The paced sampler that draws batches from an ordering is in pacing.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..seeding import numpy_rng
from .pacing import kept_count

SAMPLERS = ("consensus", "anti", "random", "stratified", "standard", "infobatch")
UNORDERED = ("standard", "infobatch")          # iid batches: no ordering, no pacing
WELL_LEARNED = ("loss", "consensus", "both")   # infobatch: which examples it may skip (schedule/dynamic.py)
SCORED = ("consensus", "anti", "stratified")   # the samplers whose ordering reads a scores column
TIES = ("margin", "random")
STRATA, DROP_HARDEST = 50, 0.1   # Zheng et al.'s (2023) k; the hardest share left to the end (ours, not tuned)


def check_sampler(name: str) -> None:
    if name not in SAMPLERS:
        raise UserError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")


@dataclass(frozen=True)
class SamplerConfig:
    """The `sampler` group's schema: conf/sampler/*.yaml name the ordering."""
    name: str                  # consensus: easy first | anti: hard first | random | stratified: even across score
                               # strata (Zheng et al. 2023) | standard: iid, no curriculum
    score: str = "consensus"   # scores.parquet column that orders the examples (its direction is handled by the code)
    balanced: bool = True      # interleave classes so every prefix holds them in proportion
    ties: str = "margin"       # ties of the score broken by the larger margin (as the rank column) | random (seeded)
    keep: str = "all"          # examples the run may draw: all | clean (oracle: labels not flipped) | auto (what
                               # pacing.end=auto keeps) | a scores column of 0 and 1 (1 = kept, e.g. cleanlab's verdicts
                               # from a CSV); the steps stay those of all the examples
    labels: str = "given"      # the labels trained on: given | a scores column of class numbers (e.g. suggested_label
                               # of a score run with ensemble.folds: the relabel arm; schedule/labels.py)
    strata: int = STRATA       # stratified: equal-width score strata, sampled evenly (empty ones are skipped)
    drop_hardest: float = DROP_HARDEST  # stratified: share of the hardest examples put last, after every stratum
    prune: float = 0.5         # infobatch: share of the well-learned examples skipped each epoch (their kept
                               # fellows' loss is scaled by 1 / (1 - prune)); Qin et al.'s r
    anneal: float = 0.875      # infobatch: epochs from floor(anneal x epochs) on use every example; their delta
    well_learned: str = "loss"  # infobatch: the examples it may skip: loss (below the mean of the target's own
                               # last training losses: InfoBatch) | consensus (the score run's members learned them
                               # within their first epoch, for good: learned_epoch <= 1) | both (the two at once)

    def __post_init__(self):
        check_sampler(self.name)
        check_strata(self.strata, self.drop_hardest)
        if not self.keep:
            raise UserError("sampler.keep is empty; give all, clean or a column of the scores")
        if not self.labels:
            raise UserError("sampler.labels is empty; give `given` or a column of the scores")
        if self.ties not in TIES:
            raise UserError(f"sampler.ties={self.ties!r} must be margin or random")
        if not 0 < self.prune < 1:
            raise UserError(f"sampler.prune={self.prune} must be a fraction in (0, 1) (0.5: InfoBatch's default)")
        if not 0 <= self.anneal <= 1:
            raise UserError(f"sampler.anneal={self.anneal} must be a fraction in [0, 1] (0.875: InfoBatch's default)")
        if self.well_learned not in WELL_LEARNED:
            raise UserError(f"sampler.well_learned={self.well_learned!r} must be one of {', '.join(WELL_LEARNED)}")


def check_strata(strata: int, drop_hardest: float, prefix: str = "sampler.") -> None:
    """`prefix`: how the caller names the keys (train's sampler.strata, export's and the API's strata)."""
    if isinstance(strata, bool) or not isinstance(strata, (int, np.integer)) or strata < 1:
        raise UserError(f"{prefix}strata={strata} must be a whole number, at least 1")
    if not 0 <= drop_hardest < 1:
        raise UserError(f"{prefix}drop_hardest={drop_hardest} must be a fraction in [0, 1)")


def ordering_column(frame, column: str, setting: str, where: str) -> str:
    """The scores column (of `frame`, a scores frame) that orders the examples: `column`, except that imported files
    order by their own `score` when consensus, the default, is not theirs. `setting` and `where` name the choice and
    the file in the one line an unknown column gets."""
    if column == "consensus" and column not in frame and "score" in frame:
        column = "score"
    if column not in frame:
        raise UserError(f"{setting}={column!r} is not a column of {where}; "
                        f"choose one of {', '.join(c for c in frame if c not in ('index', 'label', 'path'))}")
    return column


def margin_tie_break(frame, column: str, ties: str) -> np.ndarray | None:
    """The margin that breaks ties of `column` (ties=margin, as the `rank` column does), or None for a seeded
    shuffle: ties=random, an ordering by the margin itself, or scores without a margin column."""
    if ties == "random" or column == "margin" or "margin" not in frame:
        return None
    return frame["margin"].to_numpy()


def easy_first(oriented: np.ndarray, seed: int, tie_break: np.ndarray | None = None) -> np.ndarray:
    """Positions sorted by `oriented` score (higher = easier) descending; ties broken by the larger `tie_break`
    (the margin, as in the `rank` column), and what is still tied by a seeded shuffle."""
    shuffle = numpy_rng(seed, "ordering").permutation(len(oriented))
    second = np.zeros(len(oriented)) if tie_break is None else -np.asarray(tie_break, dtype=np.float64)
    return np.lexsort((shuffle, second, -np.asarray(oriented, dtype=np.float64)))


def class_balanced(order: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Interleave the classes, each kept in `order`'s sequence, so that every prefix holds the classes
    in their overall proportion (round-robin for balanced classes)."""
    labels = np.asarray(labels)[order]
    key = np.empty(len(order))
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        key[members] = (np.arange(len(members)) + 0.5) / len(members)
    return order[np.argsort(key, kind="stable")]


def stratified(oriented: np.ndarray, seed: int, tie_break: np.ndarray | None = None, strata: int = STRATA,
               drop_hardest: float = DROP_HARDEST) -> np.ndarray:
    """Coverage-centric order (Zheng et al. 2023, CCS): the hardest `drop_hardest` share last (exactly what
    pacing.end = 1 - drop_hardest leaves out; easiest first among them); before them, the rest split into `strata`
    equal-width score ranges and dealt round-robin, one seeded random example from each non-empty stratum per round.
    So every prefix up to 1 - drop_hardest takes from each stratum as many as it has, up to an even share, within one
    example of CCS's allocation (the odd examples of the last round go to strata in a seeded order)."""
    oriented = np.asarray(oriented, dtype=np.float64)
    ranked = easy_first(oriented, seed, tie_break)
    dealt = ranked[:dealt_count(len(ranked), drop_hardest)]
    stratum = strata_of(oriented[dealt], strata)
    rng = numpy_rng(seed, "stratified")
    by_stratum = np.lexsort((rng.permutation(len(dealt)), stratum))   # a seeded shuffle within each stratum
    deal = np.empty(len(dealt), dtype=np.int64)                   # each example's round: its place in its stratum
    starts = np.searchsorted(stratum[by_stratum], stratum[by_stratum], side="left")
    deal[by_stratum] = np.arange(len(dealt)) - starts
    within_round = rng.permutation(len(dealt))                    # strata in a seeded order within each round
    return np.concatenate([dealt[np.lexsort((within_round, deal))], ranked[len(dealt):]])


def dealt_count(n: int, drop_hardest: float) -> int:
    """Examples of n that `stratified` deals: those pacing.end = 1 - drop_hardest keeps (kept_count's rounding)."""
    return kept_count(1 - drop_hardest, n)


def strata_of(values: np.ndarray, strata: int) -> np.ndarray:
    """(N,) int: the equal-width range of [min, max] over the finite `values` each falls in, 0 the easiest (highest);
    a value on a boundary goes below it (1e-9: despite float dust); -inf (never learned) in the hardest range."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return np.zeros(len(values), dtype=np.int64)
    top, span = finite.max(), finite.max() - finite.min()
    with np.errstate(invalid="ignore"):
        depth = (top - values) / span * strata if span > 0 else np.where(np.isfinite(values), 0.0, strata)
    return np.minimum(np.floor(np.nan_to_num(depth, nan=strata, posinf=strata) + 1e-9), strata - 1).astype(np.int64)


def make_ordering(sampler: str, oriented: np.ndarray | None, labels: np.ndarray, seed: int,
                  balanced: bool = True, tie_break: np.ndarray | None = None, strata: int = STRATA,
                  drop_hardest: float = DROP_HARDEST) -> np.ndarray | None:
    """Ordering of train positions for `sampler`; None for `standard` and `infobatch` (iid training).
    `anti` is exactly the reverse of `consensus`; `random` depends only on `seed` and the labels; `stratified` takes
    `strata` and `drop_hardest` (stratified())."""
    check_sampler(sampler)
    if sampler in UNORDERED:
        return None
    if sampler == "random":
        order = numpy_rng(seed, "ordering").permutation(len(labels))
    else:
        if oriented is None:
            raise UserError(f"sampler={sampler} needs scores; run `python -m curriculum score` or set scores=")
        order = (stratified(oriented, seed, tie_break, strata, drop_hardest) if sampler == "stratified"
                 else easy_first(oriented, seed, tie_break))
    if balanced and sampler == "stratified":   # the head and the hardest tail each balanced, the tail kept last
        head = dealt_count(len(order), drop_hardest)
        order = np.concatenate([class_balanced(order[:head], labels), class_balanced(order[head:], labels)])
    elif balanced:
        order = class_balanced(order, labels)
    return order[::-1].copy() if sampler == "anti" else order
