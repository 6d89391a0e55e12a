"""Scores from your own training loop. ScoreRecorder takes each batch's dataset indices, logits and labels (one call
per batch, from any model and loop), closes a checkpoint when told, and derives the columns of `python -m curriculum
score` into the same self-checking scores.parquet, which `train`, `export`, `analyze` and the API read.

Per batch it runs the statistics of curriculum.statistics on the device and writes them into an (statistics, N)
buffer, without a host sync; a checkpoint copies that buffer to the host once. Under DistributedDataParallel each
rank observes its share and a checkpoint combines the ranks (each example's values from the rank that observed it
last); every rank holds the result, and rank 0 writes the file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .errors import UserError
from .io.scorefile import write_scores
from .scoring.derive import derive_members
from .scoring.dynamics import MemberDynamics, SplitDynamics, save_member
from .statistics import STATISTICS, as_rows, example_stats, from_rows

SOURCES = ("train", "eval")   # logits of the training forward pass, or of a clean pass you made


@dataclass
class _Member:
    """One member's buffers on the device and its checkpoints on the host."""
    values: torch.Tensor    # (statistics, N) float32: each example's latest statistics
    stamp: torch.Tensor     # (N,) int64: the observe call that last saw each example (0: never)
    labels: torch.Tensor    # (N,) int64: each example's label as observed (-1: never)
    conflict: torch.Tensor  # () bool: an example was observed with two labels
    calls: int = 0
    epochs: list[float] = field(default_factory=list)
    rows: list[dict[str, np.ndarray]] = field(default_factory=list)   # per checkpoint: statistic -> (N,)
    seen_labels: np.ndarray | None = None                               # (N,) int64, at the last checkpoint


class ScoreRecorder:
    """Record per-example training dynamics from your own loop, then derive curriculum's scores.

        rec = ScoreRecorder(len(train_set))
        for epoch in range(epochs):
            for indices, x, y in loader:            # indices: positions in train_set, 0..N-1
                logits = model(x)
                rec.observe(indices, logits, y)     # before or after the loss; no host sync
                ...
            rec.checkpoint(epoch + 1)
        frame = rec.scores()                        # index, label, consensus, margin, ... (docs/concepts.md's table)
        rec.save("scores.parquet")                  # what `train scores=` and load_scores read

    `members`: how many networks you train and record (seeds of one architecture), or their architectures' names
    (analyze compares members by them); observe and checkpoint take `member=`. `source`: "train" when the logits
    are the training forward pass's (each example's values are then those of the last batch that drew it, so call
    checkpoint at epoch ends), "eval" when you pass every example through the network in eval mode at each
    checkpoint. Every example must be observed before a
    member's first checkpoint."""

    def __init__(self, num_examples: int, *, members: int | Sequence[str] = 1, dataset: str = "recorded",
                 source: str = "train"):
        if int(num_examples) < 1:
            raise UserError(f"ScoreRecorder needs num_examples >= 1, got {num_examples}")
        if source not in SOURCES:
            raise UserError(f"ScoreRecorder source={source!r} must be one of {', '.join(SOURCES)}")
        names = [f"member-{k}" for k in range(members)] if isinstance(members, int) else [str(m) for m in members]
        self.archs = ["recorded"] * len(names) if isinstance(members, int) else names   # what analyze groups by
        if not names:
            raise UserError("ScoreRecorder needs at least one member")
        self.n, self.names, self.dataset, self.source = int(num_examples), names, dataset, source
        self._members: list[_Member | None] = [None] * len(names)

    @torch.no_grad()
    def observe(self, indices, logits: torch.Tensor, labels, member: int = 0) -> None:
        """One batch: `indices` (B,) the examples' positions in the training set, `logits` (B, classes), `labels`
        (B,) their labels. Runs on the logits' device; checks indices given on the CPU at no cost."""
        state = self._member(member, logits.device)
        idx = torch.as_tensor(indices).long()
        outside = idx[(idx < 0) | (idx >= self.n)] if idx.device.type == "cpu" else idx[:0]
        if len(outside):
            raise UserError(f"ScoreRecorder.observe: index {int(outside[0])} is outside 0..{self.n - 1} (indices "
                            f"are positions in the training set)")
        if logits.ndim != 2 or logits.shape[0] != len(idx):
            raise UserError(f"ScoreRecorder.observe: logits of shape {tuple(logits.shape)} for {len(idx)} indices; "
                            f"pass (batch, classes) logits, one row per index")
        y = torch.as_tensor(labels)
        self._check_labels(y, len(idx), logits.shape[1])
        idx, y = idx.to(logits.device), y.long().to(logits.device)
        known = state.labels[idx]
        state.conflict |= ((known >= 0) & (known != y)).any()
        state.calls += 1
        state.labels[idx] = y
        state.values[:, idx] = as_rows(example_stats(logits.detach(), y))
        state.stamp[idx] = state.calls

    @staticmethod
    def _check_labels(y: torch.Tensor, n: int, classes: int) -> None:
        """One class number per index, in 0..classes-1 (checked at no cost when the labels are on the CPU)."""
        if y.shape != (n,) or y.is_floating_point():
            raise UserError(f"ScoreRecorder.observe: labels of shape {tuple(y.shape)} and dtype {y.dtype} for {n} "
                            f"indices; pass one class number per example (not one-hot or soft labels)")
        outside = y[(y < 0) | (y >= classes)] if y.device.type == "cpu" else y[:0]
        if len(outside):
            raise UserError(f"ScoreRecorder.observe: label {int(outside[0])} is outside the logits' {classes} "
                            f"classes")

    def checkpoint(self, epoch: float | None = None, member: int | None = None) -> None:
        """Close a checkpoint of `member` (None: every member) at `epoch` (None: the checkpoint's number, 1, 2, ...):
        each example's latest statistics become its row. One host transfer per member."""
        for k in range(len(self.names)) if member is None else [member]:
            state = self._members[self._check_member(k)]
            if state is None:
                raise UserError(f"ScoreRecorder.checkpoint: {self.names[k]} has observed no batch yet")
            at = float(epoch) if epoch is not None else float(len(state.epochs) + 1)
            if state.epochs and at <= state.epochs[-1]:
                raise UserError(f"ScoreRecorder.checkpoint: epoch {at:g} of {self.names[k]} does not follow its "
                                f"last checkpoint, {state.epochs[-1]:g}")
            state.rows.append(self._closed(k, state))
            state.epochs.append(at)

    def scores(self, quorum: float = 1.0) -> pd.DataFrame:
        """The score frame, as load_scores reads a score file: index, label, true_label (= label), noisy (false),
        and every score of `score` (consensus, learned_epoch, margin, ...); its metadata in `frame.attrs["meta"]`."""
        members = self._recorded()
        run = derive_members(((name, dyn) for name, dyn in members), None, quorum, ("train",))
        frame, meta = run.frames["train"], run.metas["train"] | {"recorder": {"source": self.source}}
        frame.attrs["meta"] = meta
        return frame

    def save(self, path: str | Path, quorum: float = 1.0) -> Path | None:
        """Write the scores: to `path` itself when it ends in .parquet (what `train scores=`, `export` and
        load_scores read), else into the folder `path` as a score run: scores.parquet and each member's dynamics
        (dynamics/member-k.npz), which `analyze scores=` also reads. Returns the scores file; under
        torch.distributed only rank 0 writes (the others return None)."""
        frame = self.scores(quorum)
        if _rank() != 0:
            return None
        path = Path(path)
        if path.suffix != ".parquet":
            for k, (_, dyn) in enumerate(self._recorded()):
                save_member(_made_dir(path / "dynamics") / f"member-{k}.npz", dyn)
            path = path / "scores.parquet"
        return write_scores(_made_dir(path.parent) / path.name, frame, frame.attrs["meta"])

    # ------------------------------------------------------------------------------------------------ internals

    def _check_member(self, member: int) -> int:
        if not 0 <= member < len(self.names):
            raise UserError(f"member={member} is outside 0..{len(self.names) - 1} (ScoreRecorder(members=...))")
        return member

    def _member(self, member: int, device: torch.device) -> _Member:
        state = self._members[self._check_member(member)]
        if state is None:
            state = self._members[member] = _Member(torch.zeros(len(STATISTICS), self.n, device=device),
                                                    torch.zeros(self.n, dtype=torch.long, device=device),
                                                    torch.full((self.n,), -1, dtype=torch.long, device=device),
                                                    torch.zeros((), dtype=torch.bool, device=device))
        return state

    def _closed(self, k: int, state: _Member) -> dict[str, np.ndarray]:
        """The checkpoint's row of member k, the ranks combined, checked: every example observed, one label each."""
        values, stamp, labels, conflict = _combined(state)
        host = torch.cat([values, (stamp > 0)[None].float(), labels[None].float(), conflict.float().expand(1, self.n)])
        host = host.cpu().numpy()
        unseen = np.flatnonzero(host[-3] == 0)
        if len(unseen):
            raise UserError(f"ScoreRecorder.checkpoint: {len(unseen)} of {self.n} examples were never observed by "
                            f"{self.names[k]} (first index {unseen[0]}); observe every example before the first "
                            f"checkpoint (a whole epoch, or a clean pass)")
        if host[-1, 0]:
            raise UserError(f"ScoreRecorder: {self.names[k]} observed an example with two different labels; pass "
                            f"each example's own label (the same at every call)")
        state.seen_labels = host[-2].astype(np.int64)
        return {name: row.astype(STATISTICS[name].storage.dtype) for name, row in from_rows(host[:-3]).items()}

    def _recorded(self) -> list[tuple[str, MemberDynamics]]:
        """Every member's dynamics, checked to share checkpoints and labels."""
        missing = [name for name, state in zip(self.names, self._members) if state is None or not state.epochs]
        if missing:
            raise UserError(f"ScoreRecorder: {', '.join(missing)} has no checkpoint yet; call checkpoint() after "
                            f"observing its batches")
        first = self._members[0]
        for name, state in zip(self.names, self._members):
            if state.epochs != first.epochs:
                raise UserError(f"ScoreRecorder: {name} has checkpoints {state.epochs}, {self.names[0]} "
                                f"{first.epochs}; every member needs the same checkpoints")
            if not np.array_equal(state.seen_labels, first.seen_labels):
                raise UserError(f"ScoreRecorder: {name} observed other labels than {self.names[0]}; every member "
                                f"trains on the same labelled examples")
        fingerprint = hashlib.sha256(first.seen_labels.tobytes()).hexdigest()[:16]
        none = np.zeros(0, dtype=np.int64)
        return [(name, MemberDynamics(
            np.asarray(state.epochs), SplitDynamics({s: np.stack([row[s] for row in state.rows]) for s in STATISTICS},
                                                    state.seen_labels, np.arange(self.n)),
            SplitDynamics.empty(len(state.epochs), none, none), self.archs[k], k, self.dataset, fingerprint,
            self.source))
            for k, (name, state) in enumerate(zip(self.names, self._members))]


def _made_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _rank() -> int:
    dist = torch.distributed
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _combined(state: _Member) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The member's buffers with every rank's observations: each example's values from the rank that observed it
    last (averaged when two did at the same call, as DistributedSampler's padding does); alone, the buffers."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return state.values, state.stamp, state.labels, state.conflict
    latest = state.stamp.clone()
    dist.all_reduce(latest, op=dist.ReduceOp.MAX)
    owner = (state.stamp == latest) & (latest > 0)
    values, count = state.values * owner, owner.float()
    labels = torch.where(owner, state.labels, torch.full_like(state.labels, -1))
    conflict = state.conflict.float()
    for tensor, op in ((values, dist.ReduceOp.SUM), (count, dist.ReduceOp.SUM), (labels, dist.ReduceOp.MAX),
                       (conflict, dist.ReduceOp.MAX)):
        dist.all_reduce(tensor, op=op)
    return values / count.clamp(min=1), latest, labels, conflict > 0
