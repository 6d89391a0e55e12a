"""The run plan: the one place where the ordering settings (the `sampler` and `pacing` groups) and the scores become
what a run trains on. The chain: the scores column that orders (ordering_column) -> its easy-to-hard direction
(orientation) -> the margin that breaks its ties -> the examples the run may draw (sampler.keep) -> pacing.end,
estimated for `auto` (confident learning's estimate where a folds score run made one, else the consensus
histogram's) -> the ordering, restricted to the kept examples. `train`, `export`, the public API
(curriculum.ordering), keep=auto and the studies all call make_plan, so they cannot drift apart.
Pure: no MLflow, no Hydra, nothing printed (the lines a command should say are in RunPlan.notes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..arms import arm_name, arm_tag
from ..errors import UserError
from ..scoring.scores import orientation
from .keep import ALL, AUTO, kept_positions, needs_scores, restrict
from .labels import GIVEN, trained_labels
from .pacing import kept_count, pacing_config
from .pruning import HISTOGRAM_CAVEAT, class_quotas, confident_clean_fraction, estimate_clean_fraction, quotas_first
from .sampler import SCORED, UNORDERED, SamplerConfig, make_ordering, margin_tie_break, ordering_column

WHOLE = {"name": "static", "end": 1.0, "preset": None}   # the whole ordering at every step: no pacing, no pruning
TRAIN_NAMES = {"score": "sampler.score", "ties": "sampler.ties", "keep": "sampler.keep", "end": "pacing.end"}
LEARNED_BY = 1.0   # epochs: infobatch's well_learned=consensus skips what the members had learned by then


@dataclass(frozen=True)
class PlanSettings:
    """What orders a run's examples: the `sampler` group, the resolved `pacing` group (name, end, preset and the
    family's parameters, as written; `standard` uses none of it), and how the caller's messages name the settings
    (`names`: score, ties, keep and end, e.g. export's `keep` is train's pacing.end). Checked when made."""
    sampler: SamplerConfig
    pacing: dict = field(default_factory=lambda: dict(WHOLE))
    names: dict = field(default_factory=lambda: dict(TRAIN_NAMES))

    def __post_init__(self):
        self.paced()

    def paced(self):
        """The pacing group's schema (checked), or None for `standard`, which has no pacing and so no end."""
        return pacing_config(self.pacing) if self.sampler.name not in UNORDERED else None


@dataclass(frozen=True)
class Scores:
    """The scores a plan reads: a frame with one row per training example, in training order (io's ScoreSource
    has these fields too); `meta` says how many members and checkpoints made consensus (for end=auto)."""
    frame: pd.DataFrame
    meta: dict = field(default_factory=dict)
    sha256: str = "none"                   # checksum of the file, in the arm tag
    path: str | Path = "the scores"        # named in messages


@dataclass(frozen=True)
class RunPlan:
    """What a run trains on and how compare will know it."""
    sampler: str                    # the sampler's name
    arm: dict                       # the arm tag: what compare groups runs by (curriculum/arms.py)
    name: str                       # compare's name of the arm, e.g. consensus/linear@end=auto
    column: str                     # the scores column that orders the examples (an import's own `score`)
    ordering: np.ndarray | None     # (M,) training positions, easiest first, only the kept ones; None: iid
    kept: np.ndarray | None         # sorted training positions the run may draw (sampler.keep); None: all
    end: float                      # share of the ordering ever drawn (pacing.end, auto resolved); 1 for standard
    pacing: Callable | None         # g(t, total); None for standard
    notes: tuple[str, ...] = ()     # lines the command should say
    labels: np.ndarray | None = None  # (N,) the labels trained on (sampler.labels); None: the given ones
    learned: np.ndarray | None = None  # (N,) bool: infobatch's examples the score run found learned early and
                                       # for good (sampler.well_learned=consensus|both); None: not read

    @property
    def paced(self) -> bool:
        return self.ordering is not None

    @property
    def pacing_name(self) -> str:
        """The pacing preset or family the run is tagged with; none for standard."""
        return self.arm.get("pacing", "none")

    def prefix(self) -> np.ndarray:
        """The positions a paced run ever draws, in order: the first kept_count(end, M) of the ordering."""
        return self.ordering[:kept_count(self.end, len(self.ordering))]


def plan_needs_scores(settings: PlanSettings) -> bool:
    """Whether these settings read scores: a scored ordering, pacing.end=auto, or a sampler.keep that reads them."""
    paced = settings.paced()
    return (settings.sampler.name in SCORED or needs_scores(settings.sampler.keep) or skips_by_scores(settings.sampler)
            or settings.sampler.labels != GIVEN or (paced is not None and paced.end == "auto"))


def skips_by_scores(sampler: SamplerConfig) -> bool:
    """Whether an infobatch run reads the scores to know which examples it may skip."""
    return sampler.name == "infobatch" and sampler.well_learned != "loss"


def arm_of(settings: PlanSettings, scores: str | None = None, column: str | None = None) -> dict:
    """The arm tag of a run with these settings, known without its scores: `scores`, their checksum (None: left
    out), `column` the scores column that orders (default sampler.score)."""
    s = settings.sampler
    skipping = {"prune": s.prune, "anneal": s.anneal, "well_learned": s.well_learned}
    return arm_tag(s.name, settings.pacing, column or s.score, s.balanced, s.ties, scores, s.keep, s.strata,
                   s.drop_hardest, s.labels, skipping if s.name == "infobatch" else None)


def make_plan(settings: PlanSettings, scores: Scores | None, labels: np.ndarray, noisy: np.ndarray,
              seed: int, num_classes: int | None = None) -> RunPlan:
    """The plan of a run with these settings on these scores (None: none read; a scored setting then fails in one
    line). `labels` (N,) the training labels, `noisy` (N,) bool the flipped ones (sampler.keep=clean), `seed` the
    run's (random orderings and the shuffle of remaining ties), `num_classes` the classes sampler.labels may name
    (None: those up to the largest label)."""
    s, paced = settings.sampler, settings.paced()
    column = s.score if scores is None else ordering_column(scores.frame, s.score, settings.names["score"],
                                                            str(scores.path))
    kept = kept_examples(s.keep, scores, labels, noisy, seed)
    end, notes = resolved_end(paced.end, settings, scores, column) if paced is not None else (1.0, [])
    oriented = orientation(scores.frame[column].to_numpy(), column) if scores is not None else None
    ordering = make_ordering(s.name, oriented, labels, seed, s.balanced, tie_break(scores, column, s), s.strata,
                             s.drop_hardest)
    if paced is not None and paced.end == "auto" and "label_issues" in scores.meta:
        ordering, end = quotas_first(ordering, labels, class_quotas(scores.meta["label_issues"], labels))
    arm = arm_of(settings, scores.sha256 if scores is not None else "none", column)
    return RunPlan(s.name, arm, arm_name(arm), column, restrict(ordering, kept) if ordering is not None else None,
                   kept, end, paced.function() if paced is not None else None,
                   tuple(notes + tie_notes(settings, scores, column)),
                   trained_labels(s.labels, scores.frame if scores is not None else None,
                                  int(labels.max()) + 1 if num_classes is None else num_classes),
                   learned_by_ensemble(scores, str(scores.path) if scores is not None else "") if skips_by_scores(s)
                   else None)


def learned_by_ensemble(scores: Scores | None, where: str) -> np.ndarray:
    """(N,) bool: the examples the score run's members learned within their first epoch and kept right at every
    later checkpoint (learned_epoch <= LEARNED_BY: learned early, never forgotten by the quorum)."""
    if scores is None or "learned_epoch" not in scores.frame:
        raise UserError(f"sampler.well_learned needs the learned_epoch column of a score run, which "
                        f"{where or 'no scores'} lacks; run `python -m curriculum score`, or use "
                        f"sampler.well_learned=loss")
    return np.nan_to_num(scores.frame["learned_epoch"].to_numpy(dtype=np.float64), nan=np.inf) <= LEARNED_BY


def tie_break(scores: Scores | None, column: str, sampler: SamplerConfig) -> np.ndarray | None:
    """The margin that breaks ties of the ordering column (sampler.ties=margin, as the `rank` column does), or None
    for a seeded shuffle (ties=random, an ordering by the margin itself, or scores without a margin)."""
    return None if scores is None else margin_tie_break(scores.frame, column, sampler.ties)


def tie_notes(settings: PlanSettings, scores: Scores | None, column: str) -> list[str]:
    """A line when ties=margin cannot be honoured: a scored ordering of scores without a margin column."""
    s = settings.sampler
    if scores is None or s.name not in SCORED or s.ties != "margin" or column == "margin" or "margin" in scores.frame:
        return []
    return [f"{settings.names['ties']}=margin: {scores.path} has no margin column; ties are broken by a seeded shuffle"]


def resolved_end(end, settings: PlanSettings, scores: Scores | None, column: str) -> tuple[float, list[str]]:
    """pacing.end as a fraction: as given, or for `auto` the share of examples that look correctly labelled, with the
    lines that say so: confident learning's estimate where the scores carry one (a folds score run), else the
    consensus histogram's (pruning.py)."""
    if end != "auto":
        return end, []
    names, keep = settings.names, settings.sampler.keep
    if keep != ALL:
        raise UserError(f"{names['end']}=auto estimates the clean share of all the training examples, but "
                        f"{names['keep']}={keep} already keeps only some; use one of the two, or set {names['end']} "
                        f"to a fraction")
    if scores is not None and "label_issues" in scores.meta:
        return confident_end(scores.meta["label_issues"], names["end"])
    if scores is None or column != "consensus":
        raise UserError(f"{names['end']}=auto estimates the clean share from consensus scores, but the ordering uses "
                        f"{column!r} from {scores.path if scores is not None else 'no scores'}; use scores from "
                        f"`python -m curriculum score` with {names['score']}=consensus, or set {names['end']} to a "
                        f"fraction")
    clean = estimate_clean_fraction(scores.frame["consensus"].to_numpy(), scores.meta)
    return clean, [f"{names['end']}=auto: the consensus histogram suggests {1 - clean:.3f} of the labels are wrong; "
                   f"the ordering's first {clean:.3f} is used; {HISTOGRAM_CAVEAT}"]


def confident_end(issues: dict, name: str) -> tuple[float, list[str]]:
    """end=auto from confident learning's estimate in the scores' meta, its line, and its warning if it has one."""
    clean = confident_clean_fraction(issues)
    notes = [f"{name}=auto: confident learning on out-of-fold probabilities estimates {1 - clean:.3f} of the labels "
             f"are wrong; each class keeps as many of its first examples in the ordering as it is estimated to hold "
             f"correctly labelled"]
    return clean, notes + ([f"{name}=auto: {issues['warning']}"] if issues.get("warning") else [])


def kept_examples(keep: str, scores: Scores | None, labels: np.ndarray, noisy: np.ndarray,
                  seed: int) -> np.ndarray | None:
    """sampler.keep's sorted positions (keep.py), `auto` composed here: what consensus with pacing.end=auto keeps."""
    if keep == AUTO:
        if scores is None or not {"consensus", "margin"} <= set(scores.frame):
            raise UserError("sampler.keep=auto keeps what pacing.end=auto would, from consensus scores made by "
                            "`python -m curriculum score`; these scores have no consensus and margin columns")
        return auto_kept(scores, labels, seed)
    return kept_positions(keep, noisy, scores.frame if scores is not None else None)


def auto_kept(scores: Scores, labels: np.ndarray, seed: int = 0, balanced: bool = True) -> np.ndarray:
    """Sorted positions that `train sampler=consensus pacing.end=auto` ever trains on (with this seed): the first
    pacing.end=auto of the consensus ordering, ties broken by the larger margin, classes balanced by default."""
    settings = PlanSettings(SamplerConfig(name="consensus", balanced=balanced), WHOLE | {"end": "auto"})
    plan = make_plan(settings, scores, labels, np.zeros(len(labels), dtype=bool), seed)
    return np.sort(plan.prefix())


def auto_dropped(consensus: np.ndarray, margin: np.ndarray, labels: np.ndarray, meta: dict, seed: int = 0,
                 balanced: bool = True) -> np.ndarray:
    """(N,) bool: the examples `train sampler=consensus pacing.end=auto` never trains on (auto_kept's complement)."""
    frame = pd.DataFrame({"consensus": np.asarray(consensus), "margin": np.asarray(margin)})
    dropped = np.ones(len(frame), dtype=bool)
    dropped[auto_kept(Scores(frame, meta), np.asarray(labels), seed, balanced)] = False
    return dropped
