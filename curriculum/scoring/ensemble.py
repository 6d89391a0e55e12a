"""The scoring ensemble: which members exist, training one with dynamics recording, and deriving the
scores once every member's dynamics file is on disk."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..batches import shuffled_batches, steps_per_epoch
from ..cost import RECORDING_SHARE, recording_passes, training_passes
from ..checkpoint import Policy, check_identity, check_state_identity, load_state, make_identity, restore, save_state
from ..data.augment import AugmentConfig, batch_transform
from ..data.datasets import Data
from ..data.splits import stratified_folds
from ..dicts import identity_differences  # noqa: F401  (scoring/derive.py and tests import it from here)
from ..engine import Batches, Hooks, Inputs, OptimConfig, Schedule, StepStats, make_optimizer, train
from ..errors import UserError
from ..models import MODELS, check_model, create_model
from ..progress import Progress
from ..seeding import numpy_rng, stream_seed, torch_generator
from ..statistics import STATISTICS
from .dynamics import (FORMAT_VERSION, HeldOut, MemberDynamics, MemberFormatError, Recorder, TrainPassRecorder,
                       checkpoint_steps, load_member)


def fold_assignment(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """(N,) fold of each training example for ensemble.folds: stratified by the given (possibly noisy) labels and
    dealt from the ensemble seed's own `folds` stream, so no member's init, order or augment stream moves it."""
    if folds > len(labels):
        raise UserError(f"ensemble.folds={folds} is more than the {len(labels)} training examples; lower it")
    return stratified_folds(np.asarray(labels), folds, numpy_rng(seed, "folds"))


@dataclass(frozen=True)
class Holdout:
    """The fold a member of ensemble.folds=K never trains on: fold `fold` of the K dealt from `seed`."""
    folds: int   # K
    fold: int    # in [0, K): member k holds out fold k % K
    seed: int    # the ensemble's seed, which deals the folds

    def positions(self, labels: np.ndarray) -> np.ndarray:
        """(H,) int64 positions in the training split of the examples held out, ascending."""
        return np.flatnonzero(fold_assignment(labels, self.folds, self.seed) == self.fold)


@dataclass(frozen=True)
class Member:
    k: int        # position in the ensemble
    arch: str     # model name
    seed: int     # initialisation and data order of this member
    holdout: Holdout | None = None   # ensemble.folds: the fold it never trains on; None: it trains on every example

    @property
    def filename(self) -> str:
        return f"member-{self.k}.npz"


@dataclass(frozen=True)
class EnsembleConfig:
    """score's `ensemble` (its seed is the top-level `seed`, its models `[model.name]` unless given)."""
    size: int = 4                       # members
    models: tuple[str, ...] = ("cnn",)  # cycled over members: member k is models[k % len(models)], e.g. [cnn,mlp]
    shard: int = 0                      # train only members with k % num_shards == shard
    num_shards: int = 1                 # shards the members are split into (one process or job each)
    seed: int = 0                       # member k is initialised and shuffled from seed + k
    model_kwargs: dict = field(default_factory=dict)  # {arch: {kwarg: value}}; score adds model.kwargs for model.name
    batched: bool = False               # train this shard's members together as one vmapped model (for GPUs; cnn/mlp
                                        # only: curriculum/scoring/batched.py)
    folds: int | None = None            # K >= 2: out-of-fold members. The training examples are dealt into K folds
                                        # (stratified by the given labels, from `seed`) and member k never trains on
                                        # fold k % K, so every example has softmax probabilities from size/K members
                                        # that never saw it (oof_probs.npy, what cleanlab.filter.find_label_issues
                                        # takes) at no training beyond the ensemble's: each member trains (K-1)/K of
                                        # the steps. size must be a multiple of K. The scores still pool every
                                        # member at every checkpoint. null or 0: every member trains on every example

    def __post_init__(self):
        object.__setattr__(self, "models", tuple(self.models))  # a list from the command line
        if self.size < 1:
            raise UserError(f"ensemble.size={self.size} must be at least 1")
        if not self.models:
            raise UserError("ensemble.models is empty; give at least one of " + ", ".join(MODELS))
        for arch in self.models:
            try:
                check_model(arch)
            except UserError as err:
                raise UserError(f"{err} (in ensemble.models)") from None
        if self.seed < 0:
            raise UserError(f"seed={self.seed} must be a non-negative integer")
        if not 0 <= self.shard < self.num_shards:
            raise UserError(f"ensemble.shard={self.shard} must be in [0, ensemble.num_shards={self.num_shards})")
        self.check_folds()

    def check_folds(self) -> None:
        """Every example must be held out by the same number of members (size / K): the scores pool all members, so
        an example held out by more of them would look harder for that alone."""
        if not self.folds:
            return
        if self.folds < 2:
            raise UserError(f"ensemble.folds={self.folds} must be at least 2 (or null/0: no folds)")
        if self.size % self.folds:
            raise UserError(f"ensemble.size={self.size} must be a multiple of ensemble.folds={self.folds}, so that "
                            f"every example is held out by the same number of members; e.g. ensemble.size="
                            f"{max(self.folds, self.size - self.size % self.folds)}")
        if self.batched:
            raise UserError("ensemble.batched=true trains the members in lockstep and does not hold folds out; "
                            "use ensemble.batched=false with ensemble.folds")

    def members(self) -> list[Member]:
        return [Member(k, self.models[k % len(self.models)], self.seed + k, self.holdout(k)) for k in range(self.size)]

    def holdout(self, k: int) -> Holdout | None:
        return Holdout(self.folds, k % self.folds, self.seed) if self.folds else None

    def my_members(self) -> list[Member]:
        return [m for m in self.members() if m.k % self.num_shards == self.shard]


@dataclass(frozen=True)
class RecordingConfig:
    """score's `recording` (its epochs, batch_size, precision and augment are the top-level keys)."""
    epochs: int = 2        # epochs per member: 4 members x 2 epochs ranks like 8 x 10 (scripts/bench_scoring_budget.py)
    batch_size: int = 128  # examples per step
    within_first_epoch: tuple[float, ...] = (0.125, 0.25, 0.5)  # extra checkpoints, as fractions of epoch 1
    eval_batch: int = 256  # examples per recording forward pass (256: fastest on CPU, measured)
    source: str = "eval"   # eval: clean passes at checkpoints | train: the training forward pass (no extra cost)
    precision: str = "fp32"  # numeric precision of forward passes: fp32 | bf16 (GPU autocast); score resolves auto
    quorum: float = 1.0    # share of members right at every later checkpoint for learned_epoch (scores only)
    augment: AugmentConfig = AugmentConfig()  # of the training batches (auto: the dataset's default)
    test: bool = True      # record the test split too; false: training examples only (no test_scores.parquet;
                           # 2-13% less time in bench_label_issues.py)

    def __post_init__(self):
        object.__setattr__(self, "within_first_epoch", tuple(self.within_first_epoch))  # a list from the command line
        if self.source not in RECORDERS:
            raise UserError(f"recording.source={self.source!r} must be one of {', '.join(RECORDERS)}")
        for key, value in (("epochs", self.epochs), ("batch_size", self.batch_size),
                           ("recording.eval_batch", self.eval_batch)):
            if value < 1:
                raise UserError(f"{key}={value} must be at least 1")
        outside = [f for f in self.within_first_epoch if not 0 < f < 1]
        if outside:
            given = ",".join(f"{f:g}" for f in self.within_first_epoch)
            raise UserError(f"recording.within_first_epoch=[{given}] holds {outside[0]:g}: give fractions of the "
                            f"first epoch in (0, 1), like [0.125,0.25,0.5] (every epoch end is a checkpoint anyway)")
        if not 0 < self.quorum <= 1:
            raise UserError(f"recording.quorum={self.quorum:g} must be a share of the members in (0, 1]")


RECORDERS = {"eval": Recorder, "train": TrainPassRecorder}


# A member's resume state or file made with other settings stops the score run (a shard's members must agree).
MEMBER_STATES = Policy(anew="training the member from the start",
                       redo="score into a new out_dir, or delete it to redo it")
MEMBER_KEYS = ("step", "model", "optimizer", "generator", "history", "arrays")

# Keys of a member identity that legitimately differ between the members of one ensemble.
PER_MEMBER_KEYS = ("arch", "seed", "model_kwargs", "held_out")


def member_identity(member: Member, data: Data, rec: RecordingConfig, optim: OptimConfig,
                    model_kwargs: dict | None, checkpoints) -> dict:
    """Everything that shapes a member's dynamics: a member file or resume state is reused only when its identity
    equals this exactly. Members of ensemble.folds also carry K and a hash of the positions they hold out."""
    return make_identity(FORMAT_VERSION, arch=member.arch, model_kwargs=dict(model_kwargs or {}), seed=member.seed,
                         data=data.fingerprint, optim=asdict(optim), batch_size=rec.batch_size, epochs=rec.epochs,
                         checkpoints=[float(e) for e in checkpoints], source=rec.source, precision=rec.precision,
                         **rec.augment.resolved(data.name).identity(), test=rec.test,
                         ood={name: len(split) for name, split in data.ood.items()}, statistics=list(STATISTICS),
                         **holdout_identity(member, data))


def holdout_identity(member: Member, data: Data) -> dict:
    """{} without folds (the identity of today's members); else K and a hash of the held-out positions."""
    if member.holdout is None:
        return {}
    positions = member.holdout.positions(train_labels(data)).astype(np.int64)
    return {"folds": member.holdout.folds, "held_out": hashlib.sha256(positions.tobytes()).hexdigest()[:16]}


def train_labels(data: Data) -> np.ndarray:
    """(N,) the training labels as trained (noisy where flipped), on the host."""
    return data.train.y.cpu().numpy()


def member_steps_per_epoch(member: Member, data: Data, batch_size: int) -> int:
    """Full batches per epoch of what the member trains on: every example, or with folds those outside the largest
    fold, the same for every member (folds differ in size by at most 1), so that all checkpoints agree."""
    n = len(data.train)
    if member.holdout is None:
        return steps_per_epoch(n, batch_size)
    fold = fold_assignment(train_labels(data), member.holdout.folds, member.holdout.seed)
    return steps_per_epoch(n - int(np.bincount(fold).max()), batch_size)


def member_batches(member: Member, data: Data, batch_size: int, per_epoch: int,
                   generator: torch.Generator) -> Iterator[torch.Tensor]:
    """The member's training batches of positions: today's iid epochs over every example, or with folds
    `per_epoch` batches of each fresh permutation of the examples outside its held-out fold."""
    if member.holdout is None:
        return shuffled_batches(len(data.train), batch_size, generator)
    held_out = member.holdout.positions(train_labels(data))
    kept = torch.from_numpy(np.setdiff1d(np.arange(len(data.train)), held_out)).to(generator.device)
    return subset_epochs(kept, batch_size, per_epoch, generator)


def subset_epochs(kept: torch.Tensor, batch_size: int, per_epoch: int,
                  generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless epochs over `kept` (positions): a fresh permutation each epoch, its first per_epoch full batches."""
    assert per_epoch * batch_size <= len(kept)
    while True:
        order = kept[torch.randperm(len(kept), generator=generator, device=generator.device)]
        for begin in range(0, per_epoch * batch_size, batch_size):
            yield order[begin:begin + batch_size]


def shared_identity(identity: dict) -> dict:
    """The part of a member identity that every member of one ensemble must share."""
    return {k: v for k, v in identity.items() if k not in PER_MEMBER_KEYS}


def member_model(member: Member, data: Data, model_kwargs: dict | None = None) -> torch.nn.Module:
    """Member k's freshly initialised network, from its own seed's `init` stream."""
    return create_model(member.arch, data.input_shape, data.num_classes, stream_seed(member.seed, "init"),
                        **(model_kwargs or {}))


def train_member(member: Member, data: Data, rec: RecordingConfig, optim: OptimConfig,
                 model_kwargs: dict | None = None, label: str = "",
                 resume_path: Path | None = None) -> tuple[MemberDynamics, list[dict]]:
    """Train one member on iid batches and record its dynamics at every checkpoint.
    Returns the dynamics and one history row per checkpoint (train loss/acc since the last, test acc).
    With `resume_path`, the state at each epoch end is saved there, and a run killed mid-member continues from
    its last epoch with the same result as an uninterrupted one."""
    check_clean_recording(rec, data.name)
    device = data.train.x.device
    per_epoch = member_steps_per_epoch(member, data, rec.batch_size)
    total = rec.epochs * per_epoch
    steps, epochs = checkpoint_steps(rec.epochs, per_epoch, rec.within_first_epoch)
    model = member_model(member, data, model_kwargs).to(device)
    opt = make_optimizer(model.parameters(), optim)
    generator = torch_generator(member.seed, "order", device)
    inputs = Inputs(data.mean, data.std, device, rec.precision)
    identity = member_identity(member, data, rec, optim, model_kwargs, epochs)
    recorder = member_recorder(member, data, rec, epochs, identity)
    row_of_step = {int(s): i for i, s in enumerate(steps)}
    history, start = [], 0
    if resume_path is not None:
        start, history = resume_member(resume_path, identity, model, opt, generator, recorder)

    def at_checkpoint(stats: StepStats):
        row = row_of_step[stats.step]
        recorder.record(row, model, inputs)
        history.append(history_row(stats.step, stats.loss, stats.acc, recorder.dynamics, row)
                       | {"record/seconds": float(recorder.seconds[row])})
        if resume_path is not None and stats.step % per_epoch == 0 and stats.step < total:
            save_resume(resume_path, identity, stats.step, model, opt, generator, recorder, history)

    progress = Progress(label or f"[member {member.k} {member.arch} seed={member.seed}]", total, per_epoch)
    hooks = Hooks([s for s in steps if s > start], at_checkpoint, recorder.observe, progress)
    train(model, training_batches(member, data, rec, inputs, per_epoch, generator), Schedule(optim, total, start),
          hooks, opt)
    progress.close(done_line([history]) + (f" (resumed at step {start})" if start else ""))
    recorder.dynamics.weights = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    return recorder.dynamics, history


def member_recorder(member: Member, data: Data, rec: RecordingConfig, epochs: np.ndarray, identity: dict) -> Recorder:
    """The recorder of recording.source for the member's checkpoints (`epochs`), its dynamics stamped `identity`."""
    recorder = RECORDERS[rec.source](epochs, data, member.arch, member.seed, rec.eval_batch, rec.test,
                                     held_out(member, data, len(epochs)))
    recorder.dynamics.identity = identity
    return recorder


def training_batches(member: Member, data: Data, rec: RecordingConfig, inputs: Inputs, per_epoch: int,
                     generator: torch.Generator) -> Batches:
    """What the training loop draws for the member: its batches of positions, as inputs, with its augmentation."""
    positions = member_batches(member, data, rec.batch_size, per_epoch, generator)
    return Batches(data.train.x, data.train.y, inputs, positions, member_augment(member, data, rec))


def held_out(member: Member, data: Data, checkpoints: int) -> HeldOut | None:
    """What the member's recorder fills for its held-out fold at each of its `checkpoints` (None without folds)."""
    if member.holdout is None:
        return None
    return HeldOut.empty(member.holdout.fold, member.holdout.positions(train_labels(data)), data.num_classes,
                         checkpoints)


def check_clean_recording(rec: RecordingConfig, dataset: str) -> None:
    """Dynamics are recorded on the stored images: the training pass (recording.source=train) sees augmented ones."""
    augment = rec.augment.resolved(dataset).name
    if rec.source == "train" and augment != "none":
        raise UserError(f"recording.source=train records the training forward pass, which sees augmented images "
                        f"(augment={augment} for data={dataset}); use recording.source=eval or augment=none")


def member_augment(member: Member, data: Data, rec: RecordingConfig):
    """The training loop's augment hook for `member`: its own seed's `augment` stream (None: no augmentation)."""
    return batch_transform(rec.augment.resolved(data.name), stream_seed(member.seed, "augment"))


def history_row(step: int, loss: float, acc: float, dyn: MemberDynamics, row: int) -> dict:
    """One member's history at checkpoint `row`: training loss/acc since the last, and the recorded accuracies
    (test/acc only when the test split is recorded)."""
    test = {"test/acc": float(dyn.test.stats["correct"][row].mean())} if dyn.test.labels.size else {}
    return {"step": step, "epoch": float(dyn.checkpoints[row]), "train/loss": loss, "train/acc": acc, **test,
            "train/recorded_acc": float(dyn.train.stats["correct"][row].mean())}


def done_line(histories: list[list[dict]]) -> str:
    """The progress line's end for members whose history rows these are."""
    if "test/acc" not in histories[0][-1]:
        return "done (test split not recorded: recording.test=false)"
    return "done: test acc " + ", ".join(f"{h[-1]['test/acc']:.4f}" for h in histories)


def save_resume(path: Path, identity: dict, step: int, model, opt, generator, recorder: Recorder, history) -> None:
    """Everything needed to continue a member from an epoch end, as tensors and plain types only."""
    arrays = {name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in resume_arrays(recorder.dynamics).items()}
    save_state(path, identity, step=step, model=model.state_dict(), optimizer=opt.state_dict(),
               generator=generator.get_state(), history=history, arrays=arrays)


def resume_member(path: Path, identity: dict, model, opt, generator, recorder: Recorder) -> tuple[int, list]:
    """Restore a saved member state into the given objects; (0, []) and untouched objects when there is none
    or it does not load. A state made with other settings stops the run (MEMBER_STATES)."""
    state = load_state(path, identity, MEMBER_STATES, MEMBER_KEYS, generator.device)
    history = []
    objects = {"model": model, "optimizer": opt, "generator": generator, "history": history,
               "arrays": resume_arrays(recorder.dynamics)}
    if state is None or not restore(state, objects, path, MEMBER_STATES.anew):
        return 0, []
    return int(state["step"]), history


def resume_arrays(dyn: MemberDynamics) -> dict[str, np.ndarray]:
    """The recorded arrays a member's resume state holds, by name: restoring fills these very arrays."""
    recorded = {f"{name}_{statistic}": split.stats[statistic]
                for name, split in (("train", dyn.train), ("test", dyn.test)) for statistic in STATISTICS}
    held = {"held_out_probs": dyn.held_out.probs} if dyn.held_out is not None else {}
    return recorded | {f"ood_{name}": predicted for name, predicted in dyn.ood.items()} | held


def check_resume_identity(path: Path, identity: dict) -> None:
    """Stop when a resume state at `path` was made with other settings (before any MLflow run exists)."""
    check_state_identity(path, identity, MEMBER_STATES)


def reusable_member(path: Path, identity: dict) -> bool:
    """True when `path` holds a complete member file made with exactly `identity`; False when it is absent,
    truncated or corrupt (the member is trained again). A complete file made with other settings, or of another
    format, stops the run."""
    if not path.is_file():
        return False
    try:
        dyn = load_member(path)
    except MemberFormatError:
        raise
    except UserError:
        return False
    check_identity(path, dyn.identity, identity, MEMBER_STATES.redo)
    return True


def ensemble_cost(ens: EnsembleConfig, rec: RecordingConfig, data: Data) -> dict:
    """The example-passes of the whole ensemble (cost.py): each member's training steps, and its clean recording
    passes at every checkpoint (recorded_per_checkpoint)."""
    training = recording = 0.0
    extra = (len(data.test) if rec.test else 0) + sum(len(split) for split in data.ood.values())
    for member in ens.members():
        per_epoch = member_steps_per_epoch(member, data, rec.batch_size)
        steps = checkpoint_steps(rec.epochs, per_epoch, rec.within_first_epoch)[0]
        held = len(member.holdout.positions(train_labels(data))) if member.holdout is not None else 0
        recorded = recorded_per_checkpoint(rec.source, len(data.train), held, steps, rec.batch_size)
        training += training_passes(rec.epochs * per_epoch, rec.batch_size)
        recording += sum(recording_passes(1, r + extra) for r in recorded)
    return {"example_passes": training + recording, "training": training, "recording": recording,
            "recording_share": RECORDING_SHARE}


def recorded_per_checkpoint(source: str, n: int, held: int, steps, batch_size: int) -> list[int]:
    """Training examples a member passes cleanly at each checkpoint (after `steps`, ascending): all n with
    recording.source=eval; with `train`, those not drawn since the previous checkpoint (the held-out fold never is;
    of the others at least n - held - drawn, exact within an epoch); with folds, the held-out fold's softmax pass
    besides."""
    counts, last = [], 0
    for step in steps:
        stale = n if source != "train" else held + max(0, n - held - (int(step) - last) * batch_size)
        counts.append(stale + held)
        last = int(step)
    return counts
