"""The scoring ensemble: which members exist, training one with dynamics recording, and deriving the
scores once every member's dynamics file is on disk."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..batches import shuffled_batches, steps_per_epoch
from ..checkpoint import Policy, check_identity, check_state_identity, load_state, make_identity, restore, save_state
from ..data.augment import AugmentConfig, batch_transform
from ..data.datasets import Data
from ..dicts import identity_differences
from ..engine import Batches, Hooks, Inputs, OptimConfig, Schedule, StepStats, make_optimizer, train
from ..errors import UserError
from ..statistics import STATISTICS
from ..models import MODELS, create_model
from ..progress import Progress
from ..seeding import stream_seed, torch_generator
from ..statistics import STATISTICS
from .dynamics import (FORMAT_VERSION, MemberDynamics, MemberFormatError, Recorder, TrainPassRecorder,
                       checkpoint_steps, load_member)


@dataclass(frozen=True)
class Member:
    k: int        # position in the ensemble
    arch: str     # model name
    seed: int     # initialisation and data order of this member

    @property
    def filename(self) -> str:
        return f"member-{self.k}.npz"


@dataclass(frozen=True)
class EnsembleConfig:
    """score's `ensemble` (its seed is the top-level `seed`, its models `[model.name]` unless given)."""
    size: int = 4                       # members
    models: tuple[str, ...] = ("cnn",)  # cycled over members: member k is models[k % len(models)], e.g. [cnn,mlp]
    shard: int = 0                      # train only members with k % num_shards == shard
    num_shards: int = 1
    seed: int = 0                       # member k is initialised and shuffled from seed + k
    model_kwargs: dict = field(default_factory=dict)  # {arch: {kwarg: value}}; score adds model.kwargs for model.name
    batched: bool = False               # train this shard's members together as one vmapped model (for GPUs; cnn/mlp
                                        # only: curriculum/scoring/batched.py)

    def __post_init__(self):
        object.__setattr__(self, "models", tuple(self.models))  # a list from the command line
        if self.size < 1:
            raise UserError(f"ensemble.size={self.size} must be at least 1")
        if not self.models:
            raise UserError("ensemble.models is empty; give at least one of " + ", ".join(MODELS))
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            raise UserError(f"unknown model {unknown[0]!r} in ensemble.models; choose from {', '.join(MODELS)}")
        if self.seed < 0:
            raise UserError(f"seed={self.seed} must be a non-negative integer")
        if not 0 <= self.shard < self.num_shards:
            raise UserError(f"ensemble.shard={self.shard} must be in [0, ensemble.num_shards={self.num_shards})")

    def members(self) -> list[Member]:
        return [Member(k, self.models[k % len(self.models)], self.seed + k) for k in range(self.size)]

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
PER_MEMBER_KEYS = ("arch", "seed", "model_kwargs")


def member_identity(member: Member, data: Data, rec: RecordingConfig, optim: OptimConfig,
                    model_kwargs: dict | None, checkpoints) -> dict:
    """Everything that shapes a member's dynamics: a member file or resume state is reused only when its identity
    equals this exactly."""
    return make_identity(FORMAT_VERSION, arch=member.arch, model_kwargs=dict(model_kwargs or {}), seed=member.seed,
                         data=data.fingerprint, optim=asdict(optim), batch_size=rec.batch_size, epochs=rec.epochs,
                         checkpoints=[float(e) for e in checkpoints], source=rec.source, precision=rec.precision,
                         **rec.augment.resolved(data.name).identity(), test=rec.test,
                         ood={name: len(split) for name, split in data.ood.items()}, statistics=list(STATISTICS))


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
    n = len(data.train)
    per_epoch = steps_per_epoch(n, rec.batch_size)
    total = rec.epochs * per_epoch
    steps, epochs = checkpoint_steps(rec.epochs, per_epoch, rec.within_first_epoch)
    model = member_model(member, data, model_kwargs).to(device)
    opt = make_optimizer(model.parameters(), optim)
    generator = torch_generator(member.seed, "order", device)
    inputs = Inputs(data.mean, data.std, device, rec.precision)
    recorder = RECORDERS[rec.source](epochs, data, member.arch, member.seed, rec.eval_batch, rec.test)
    row_of_step = {int(s): i for i, s in enumerate(steps)}
    identity = member_identity(member, data, rec, optim, model_kwargs, epochs)
    recorder.dynamics.identity = identity
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
    batches = Batches(data.train.x, data.train.y, inputs, shuffled_batches(n, rec.batch_size, generator),
                      member_augment(member, data, rec))
    hooks = Hooks([s for s in steps if s > start], at_checkpoint, recorder.observe, progress)
    train(model, batches, Schedule(optim, total, start), hooks, opt)
    progress.close(done_line([history]) + (f" (resumed at step {start})" if start else ""))
    recorder.dynamics.weights = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    return recorder.dynamics, history


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
    return recorded | {f"ood_{name}": predicted for name, predicted in dyn.ood.items()}


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
