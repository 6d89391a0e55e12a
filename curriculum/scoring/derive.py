"""From the member files of a score run to everything derived from them, reading each file once: the scores of
both splits and the last checkpoint's summary (`derive_score_run`), or any other per-member fold over
`member_files`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from .. import __version__
from ..data.datasets import Data
from ..errors import UserError
from .confident import label_issue_columns
from .dynamics import MemberDynamics, load_member
from .ensemble import identity_differences, shared_identity
from .scores import EL2N_UNTIL, ScoreAccumulator

SPLITS = ("train", "test")


def member_files(paths: list[Path], data: Data | None = None) -> Iterator[MemberDynamics]:
    """The members of one ensemble, one file in memory at a time, each checked to share the first one's settings
    and checkpoints; with `data`, each checked to be recorded on exactly these training examples."""
    first = None
    for path in paths:
        dyn = load_member(path, data)
        first = first or dyn
        diff = identity_differences(shared_identity(first.identity), shared_identity(dyn.identity))
        same_checkpoints = (dyn.checkpoints.shape == first.checkpoints.shape
                            and np.allclose(dyn.checkpoints, first.checkpoints))
        if diff or not same_checkpoints:
            raise UserError(f"{path} was made with other settings than {paths[0]} ({'; '.join(diff[:4])}); "
                            f"score all members of an ensemble with the same settings")
        yield dyn


@dataclass
class ScoreRun:
    frames: dict[str, pd.DataFrame]   # per split: index, label, true_label, noisy, scores... (and path: data=folder)
    metas: dict[str, dict]            # per split: the score file's metadata
    member_test_acc: list[float]      # each member's test accuracy at the last checkpoint (none: not recorded)
    learned_by_all: float             # share of training examples right in every member at the last checkpoint
    learned_by_none: float            # ... in no member
    oof_probs: np.ndarray | None = None   # ensemble.folds: (C, N, classes) float32, each training example's mean
                                          # softmax at each checkpoint over the members that held it out, rows as
                                          # the frames'; None without folds

    @property
    def oof_last(self) -> np.ndarray | None:
        """(N, classes): the out-of-fold probabilities at the last checkpoint (what confident learning reads)."""
        return None if self.oof_probs is None else self.oof_probs[-1]


class OutOfFold:
    """Sums of the held-out softmax at every checkpoint over the members of ensemble.folds, one member at a time."""

    def __init__(self, n: int):
        self.n, self.sums, self.counts = n, None, np.zeros(n, dtype=np.int64)
        self.fold = np.full(n, -1, dtype=np.int64)   # (N,) the fold each example is in (-1: held out by none yet)
        self.folds = 0                               # K (0: no member held a fold out)

    def add(self, dyn: MemberDynamics) -> None:
        held = dyn.held_out
        if held is None:
            return
        if self.sums is None:
            checkpoints, _, classes = held.probs.shape
            self.sums = np.zeros((checkpoints, self.n, classes), np.float32)   # (C, N, classes): a mean of a few
        self.sums[:, held.positions] += held.probs
        self.counts[held.positions] += 1
        self.fold[held.positions] = held.fold
        self.folds = int(dyn.identity["folds"])

    def probs(self) -> np.ndarray | None:
        """(C, N, classes) float32 mean over the members that held each example out; None without folds."""
        if self.sums is None:
            return None
        assert self.counts.min() >= 1, "an example that no member held out (ensemble.size < ensemble.folds?)"
        return (self.sums / self.counts[:, None]).astype(np.float32)


def derive_score_run(paths: list[Path], data: Data | None, quorum: float, splits=SPLITS) -> ScoreRun:
    """Scores of `splits`, the last-checkpoint summary and, with ensemble.folds, the out-of-fold probabilities and
    each example's fold (the train frame's `fold` column), from one pass over the member files. A split the members
    did not record (recording.test=false: no test examples) has no frame, and the members no test accuracy."""
    return derive_members(zip([path.name for path in paths], member_files(paths, data)), data, quorum, splits)


def derive_members(members: Iterable[tuple[str, MemberDynamics]], data: Data | None, quorum: float,
                   splits=SPLITS) -> ScoreRun:
    """derive_score_run of (file name, dynamics) pairs, consumed one at a time: members read from files, or
    recorded in memory (curriculum.ScoreRecorder)."""
    accumulators = {split: ScoreAccumulator() for split in splits}
    ensemble, test_acc, votes, first, oof, count = [], [], 0, None, None, 0
    for name, dyn in members:
        first, count = first or dyn, count + 1
        oof = oof or OutOfFold(len(dyn.train.labels))
        oof.add(dyn)
        ensemble.append({"arch": dyn.arch, "seed": dyn.seed, "file": name, "source": dyn.source})
        accumulators = {split: acc for split, acc in accumulators.items() if getattr(dyn, split).labels.size}
        for split, acc in accumulators.items():
            acc.add(getattr(dyn, split).stats)
        test_acc += [float(dyn.test.stats["correct"][-1].mean())] if dyn.test.labels.size else []
        votes = votes + dyn.train.stats["correct"][-1].astype(np.int32)   # (N,) members right at the last checkpoint
    frames, metas = {}, {}
    for split, acc in accumulators.items():
        scores = acc.finalize(first.checkpoints, quorum)
        frames[split], metas[split] = split_frame(first, data, split, scores, ensemble, quorum)
    probs = oof.probs()
    if probs is not None and "train" in frames:
        test = float(np.mean(test_acc)) if test_acc else None
        frames["train"], metas["train"] = with_out_of_fold(frames["train"], metas["train"], oof, probs[-1], test)
    return ScoreRun(frames, metas, test_acc, float((votes == count).mean()), float((votes == 0).mean()), probs)


def with_out_of_fold(frame: pd.DataFrame, meta: dict, oof: OutOfFold, probs: np.ndarray,
                     test_accuracy: float | None) -> tuple[pd.DataFrame, dict]:
    """The train frame and meta of a folds run: each example's fold, and what confident learning finds in its
    out-of-fold `probs` at the last checkpoint (oof_confidence, label_issue, cl_keep, suggested_label; the estimate in the meta), warned by
    the members' mean test accuracy (None: the test split was not recorded)."""
    columns, issues = label_issue_columns(probs, frame["label"].to_numpy(), test_accuracy)
    return frame.assign(fold=oof.fold, **columns), meta | {"folds": oof.folds} | issues


def split_frame(first: MemberDynamics, data: Data | None, split: str, scores: dict, ensemble: list[dict],
                quorum: float) -> tuple[pd.DataFrame, dict]:
    """One split's score frame (rows in the member files' order) and its file metadata."""
    part = getattr(first, split)
    if split == "train" and data is not None:
        true_labels, noisy = data.true_labels, data.noisy
    else:
        true_labels, noisy = part.labels, np.zeros(len(part.labels), dtype=bool)
    frame = pd.DataFrame({"index": part.indices, "label": part.labels, "true_label": true_labels,
                          "noisy": noisy, **scores})
    if data is not None and split in data.paths:   # data=folder: the image behind every row, relative to data.root
        frame["path"] = data.paths[split][part.indices]
    meta = {"dataset": first.dataset, "split": split, "size": int(len(frame)),
            "fingerprint": first.fingerprint if split == "train" else "",
            "ensemble": ensemble, "checkpoints": first.checkpoints.tolist(), "quorum": quorum,
            "el2n_until_epoch": EL2N_UNTIL, "curriculum_version": __version__}
    return frame, meta


def scores_frame(dyn_paths: list[Path], data: Data | None, split: str, quorum: float) -> tuple[pd.DataFrame, dict]:
    """One split's scores from member files (frame and file metadata); see derive_score_run for both splits."""
    run = derive_score_run(dyn_paths, data, quorum, (split,))
    return run.frames[split], run.metas[split]
