"""Samplers (the `sampler` config group): orderings of the training examples, easiest first, as pure functions of
(scores, labels, seed). The paced sampler that draws batches from an ordering is in pacing.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..seeding import numpy_rng

SAMPLERS = ("consensus", "anti", "random", "standard")
TIES = ("margin", "random")


def check_sampler(name: str) -> None:
    if name not in SAMPLERS:
        raise UserError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")


@dataclass(frozen=True)
class SamplerConfig:
    """The `sampler` group's schema: conf/sampler/*.yaml name the ordering."""
    name: str                  # consensus: easy first | anti: hard first | random | standard: iid, no curriculum
    score: str = "consensus"   # scores.parquet column that orders the examples (its direction is handled by the code)
    balanced: bool = True      # interleave classes so every prefix holds them in proportion
    ties: str = "margin"       # ties of the score broken by the larger margin (as the rank column) | random (seeded)
    keep: str = "all"          # examples the run may draw: all | clean (oracle: labels not flipped) | auto (what
                               # pacing.end=auto keeps) | a scores column of 0 and 1 (1 = kept, e.g. cleanlab's verdicts
                               # from a CSV); the steps stay those of all the examples

    def __post_init__(self):
        check_sampler(self.name)
        if not self.keep:
            raise UserError("sampler.keep is empty; give all, clean or a column of the scores")
        if self.ties not in TIES:
            raise UserError(f"sampler.ties={self.ties!r} must be margin or random")


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


def make_ordering(sampler: str, oriented: np.ndarray | None, labels: np.ndarray, seed: int,
                  balanced: bool = True, tie_break: np.ndarray | None = None) -> np.ndarray | None:
    """Ordering of train positions for `sampler`; None for `standard` (plain iid training).
    `anti` is exactly the reverse of `consensus`; `random` depends only on `seed` and the labels."""
    check_sampler(sampler)
    if sampler == "standard":
        return None
    if sampler == "random":
        order = numpy_rng(seed, "ordering").permutation(len(labels))
    else:
        if oriented is None:
            raise UserError(f"sampler={sampler} needs scores; run `python -m curriculum score` or set scores=")
        order = easy_first(oriented, seed, tie_break)
    if balanced:
        order = class_balanced(order, labels)
    return order[::-1].copy() if sampler == "anti" else order
