"""Learning dynamics of one ensemble member: at each checkpoint, for every train and test example, every statistic
of curriculum.statistics (whether it is classified correctly, its margin, ...), from clean eval-mode passes."""

from __future__ import annotations

import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import statistics
from ..data.datasets import Data
from ..data.stream import take
from ..engine import Inputs, predict, predict_classes
from ..errors import UserError
from ..faults import reach
from ..io.files import atomic_write, check_alignment
from ..models import default_kwargs
from ..statistics import STATISTICS, as_rows, example_stats, from_rows

# 3: one array per statistic of curriculum.statistics (loss added). Only this format loads; the version is part of
# a member's identity, so a score run never reuses a member of another format.
FORMAT_VERSION = 3


class MemberFormatError(UserError):
    """A member file this curriculum does not read: made by another version, never by a broken write."""


def checkpoint_steps(epochs: int, steps_per_epoch: int, within_first_epoch=(0.125, 0.25, 0.5)):
    """Steps after which to record (every epoch plus a few fractions of epoch 1) and the same in epochs."""
    fractions = [f for f in within_first_epoch if 0 < f < 1]
    steps = {max(1, round(f * steps_per_epoch)) for f in fractions} | {e * steps_per_epoch for e in range(1, epochs + 1)}
    steps = np.array(sorted(steps), dtype=np.int64)
    return steps, steps / steps_per_epoch


@dataclass
class SplitDynamics:
    stats: dict[str, np.ndarray]   # statistic name -> (C, N) array of its dtype (curriculum.statistics)
    labels: np.ndarray             # (N,) int64, as trained
    indices: np.ndarray            # (N,) int64, official positions

    @classmethod
    def empty(cls, checkpoints: int, labels, indices) -> "SplitDynamics":
        return cls(statistics.empty(checkpoints, len(labels)), np.asarray(labels), np.asarray(indices))


@dataclass
class HeldOut:
    """What a member of ensemble.folds never trained on: its fold, those examples' positions in the training split,
    and its softmax over them at every checkpoint (the last is what cleanlab calls out-of-sample predicted
    probabilities; the earlier ones say how a model that never saw an example learns it)."""
    fold: int
    positions: np.ndarray   # (H,) int64 positions in the training split, ascending
    probs: np.ndarray       # (C, H, classes) float32 softmax at each checkpoint, from a clean pass

    @classmethod
    def empty(cls, fold: int, positions: np.ndarray, classes: int, checkpoints: int) -> "HeldOut":
        positions = np.asarray(positions, dtype=np.int64)
        return cls(fold, positions, np.zeros((checkpoints, len(positions), classes), np.float32))


@dataclass
class MemberDynamics:
    checkpoints: np.ndarray   # (C,) float, in epochs (fractional inside epoch 1)
    train: SplitDynamics
    test: SplitDynamics
    arch: str
    seed: int
    dataset: str
    fingerprint: str
    source: str = "eval"      # recording.source: clean eval passes or the training forward pass
    identity: dict = field(default_factory=dict)  # everything that shaped these dynamics (ensemble.member_identity)
    weights: dict | None = None  # the final network's state_dict on the CPU, once trained (saved by save_weights)
    ood: dict = field(default_factory=dict)  # out-of-distribution split -> (C, N) int16 predicted class per checkpoint
    held_out: HeldOut | None = None          # ensemble.folds: the fold it never trained on; None: it trained on all


class Recorder:
    """Fills (C, N) arrays row by row: one eval pass and one host transfer per split per checkpoint.
    `seconds[row]` is the wall time recording that row took."""

    source = "eval"

    def __init__(self, checkpoints: np.ndarray, data: Data, arch: str, seed: int, eval_batch: int = 256,
                 test: bool = True, held_out: HeldOut | None = None):
        c = len(checkpoints)
        none = np.zeros(0, dtype=np.int64)   # recording.test=false: a test split of no examples
        self.dynamics = MemberDynamics(
            np.asarray(checkpoints, dtype=np.float64),
            SplitDynamics.empty(c, data.train.y.cpu().numpy(), data.train.index.cpu().numpy()),
            SplitDynamics.empty(c, data.test.y.cpu().numpy() if test else none,
                                data.test.index.cpu().numpy() if test else none),
            arch, seed, data.name, data.fingerprint, self.source, held_out=held_out)
        self.dynamics.ood = {name: np.zeros((c, len(split)), dtype=np.int16) for name, split in data.ood.items()}
        self.data, self.eval_batch = data, eval_batch
        self.splits = ("train", "test") if test else ("train",)
        self.seconds = np.zeros(c)

    observe = None   # recorders that read the training pass set this to a method (see TrainPassRecorder)

    def record(self, row: int, model: torch.nn.Module, inputs: Inputs) -> None:
        """Record checkpoint `row` of every split recorded."""
        started = time.perf_counter()
        for name in self.splits:
            self.store(row, name, self.split_stats(name, model, inputs))
            reach("record")
        for name, split in self.data.ood.items():   # no label is right here: what each member predicts
            self.dynamics.ood[name][row] = predict_classes(model, split.x, inputs, self.eval_batch).cpu().numpy()
        if self.dynamics.held_out is not None:
            self.record_held_out(row, model, inputs)
        self.seconds[row] += time.perf_counter() - started

    def record_held_out(self, row: int, model, inputs: Inputs) -> None:
        """Row `row` of the softmax over the held-out fold's examples, (H, classes) float32, from a clean pass."""
        held = self.dynamics.held_out
        x = take(self.data.train.x, torch.from_numpy(held.positions).to(self.data.train.x.device))
        held.probs[row] = predict_probs(model, x, inputs, self.eval_batch).cpu().numpy()

    def split_stats(self, name: str, model, inputs: Inputs) -> dict:
        """Every statistic of split `name` now, name -> (N,) device tensor: a clean pass."""
        split = getattr(self.data, name)
        return predict(model, split.x, split.y, inputs, self.eval_batch)

    def store(self, row: int, name: str, stats: dict) -> None:
        """Write one split's statistics (name -> (N,) tensor) into row `row`, with one host transfer."""
        split = getattr(self.dynamics, name)
        for statistic, values in from_rows(as_rows(stats).cpu().numpy()).items():   # (statistics, N) float32
            split.stats[statistic][row] = values


@torch.inference_mode()
def predict_probs(model: torch.nn.Module, x: torch.Tensor, inputs: Inputs, batch_size: int = 256) -> torch.Tensor:
    """Clean eval-mode pass: each image's softmax over the classes, (N, classes) float32 on the device."""
    was_training = model.training
    model.eval()
    parts = []
    for start in range(0, len(x), batch_size):
        with inputs.autocast():
            parts.append(torch.softmax(model(inputs(x[start:start + batch_size])).float(), dim=1))
    model.train(was_training)
    return torch.cat(parts)


class TrainPassRecorder(Recorder):
    """recording.source=train: each training example's values are those of the training forward pass that last
    drew it (train-mode logits, before that step's update), so recording costs no extra pass. Examples not drawn
    since the previous checkpoint (the tail an epoch drops, or most of them at a checkpoint inside epoch 1) get a
    clean pass, so every value is at most one checkpoint old. The test split, when recorded, gets a clean pass.
    Nothing here needs saving for a resume: resume points are epoch ends, which are checkpoints, and after one
    every example not drawn again gets a clean pass either way. With ensemble.folds the held-out fold is never
    drawn, so its examples get a clean pass at every checkpoint."""

    source = "train"

    def __init__(self, checkpoints, data: Data, arch: str, seed: int, eval_batch: int = 256, test: bool = True,
                 held_out: HeldOut | None = None):
        super().__init__(checkpoints, data, arch, seed, eval_batch, test, held_out)
        n, device = len(data.train), data.train.x.device
        self.values = torch.zeros(len(STATISTICS), n, device=device)       # (statistics, N), registry order
        self.seen = torch.zeros(n, dtype=torch.long, device=device)        # step that last drew each example
        self.last_record_step = 0

    def observe(self, step: int, idx: torch.Tensor, logits: torch.Tensor) -> None:
        self.values[:, idx] = as_rows(example_stats(logits, self.data.train.y[idx]))
        self.seen[idx] = step

    def split_stats(self, name: str, model, inputs: Inputs):
        if name != "train":
            return super().split_stats(name, model, inputs)
        train = self.data.train
        stale = torch.nonzero(self.seen <= self.last_record_step)[:, 0]
        if len(stale):
            fresh = predict(model, take(train.x, stale), train.y[stale], inputs, self.eval_batch)
            self.values[:, stale] = as_rows(fresh)
        self.last_record_step = int(self.seen.max())
        return from_rows(self.values)


# ------------------------------------------------------------------------------------------------ files

def save_member(path: str | Path, dyn: MemberDynamics) -> Path:
    arrays = {"checkpoints": dyn.checkpoints}
    for prefix, split in (("", dyn.train), ("test_", dyn.test)):
        arrays |= {f"{prefix}{name}": statistic.storage.encode(split.stats[name])
                   for name, statistic in STATISTICS.items()}
        arrays |= {f"{prefix}labels": split.labels.astype(np.int64), f"{prefix}indices": split.indices.astype(np.int64)}
    arrays |= {f"ood_{name}": predicted for name, predicted in dyn.ood.items()}
    meta = {"format": FORMAT_VERSION, "arch": dyn.arch, "seed": dyn.seed, "dataset": dyn.dataset,
            "fingerprint": dyn.fingerprint, "source": dyn.source, "identity": dyn.identity, "ood": list(dyn.ood)}
    if dyn.held_out is not None:   # ensemble.folds only: a member without folds stores nothing more
        arrays |= {"held_out_positions": dyn.held_out.positions, "held_out_probs": dyn.held_out.probs}
        meta["held_out_fold"] = dyn.held_out.fold
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return atomic_write(path, lambda f: np.savez(f, **arrays))


WEIGHTS_FORMAT = 1


def weights_path(member_path: str | Path) -> Path:
    """The final weights beside a member's dynamics file: member-k.npz -> member-k.weights.pt."""
    return Path(member_path).with_suffix(".weights.pt")


def save_weights(member_path: str | Path, dyn: MemberDynamics, model_kwargs: dict) -> Path:
    """The member's final network beside its dynamics, readable with torch.load(weights_only=True): the state_dict,
    what create_model needs besides the data's shape (arch, kwargs), and the member's identity, so that the weights
    are used only with exactly the dynamics they belong to."""
    kwargs = default_kwargs(dyn.arch) | dict(model_kwargs or {})   # resolved: a later change of defaults still fits
    spec = {"format": WEIGHTS_FORMAT, "arch": dyn.arch, "seed": dyn.seed, "kwargs": kwargs,
            "identity": json.dumps(dyn.identity, sort_keys=True, default=str), "state_dict": dyn.weights}
    return atomic_write(weights_path(member_path), lambda f: torch.save(spec, f))


def load_weights(member_path: str | Path, identity: dict) -> tuple[dict | None, str]:
    """(the saved spec, "") when the weights beside `member_path` were saved with the `identity` of its dynamics file
    (MemberDynamics.identity); else (None, why)."""
    path = weights_path(member_path)
    if not path.is_file():
        return None, f"{path.name} is missing (members scored before weights were kept, or reused from then)"
    try:
        spec = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:   # torch raises many kinds for a truncated or foreign file
        return None, f"{path.name} is unreadable ({type(err).__name__})"
    if spec.get("identity") != json.dumps(identity, sort_keys=True, default=str):
        return None, f"{path.name} was saved by another run than {Path(member_path).name} (identities differ)"
    return spec, ""


def load_member(path: str | Path, data: Data | None = None) -> MemberDynamics:
    """Load and check a member file; with `data`, fail unless it was recorded on exactly these examples.
    A file of another format than this code's, or without one of its statistics, is refused in one line."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes())
            check_format(path, int(meta.get("format", 1)), z.files)
            c = len(z["checkpoints"])
            train, test = (_load_split(z, prefix, c) for prefix in ("", "test_"))
            dyn = MemberDynamics(z["checkpoints"], train, test, meta["arch"], int(meta["seed"]),
                                 meta["dataset"], meta["fingerprint"], meta["source"],
                                 meta["identity"], ood={name: z[f"ood_{name}"] for name in meta["ood"]},
                                 held_out=_load_held_out(path, z, meta, len(train.labels), c))
    except FileNotFoundError:
        raise UserError(f"dynamics file {path} does not exist") from None
    except UserError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, OSError, AssertionError) as err:
        raise UserError(f"dynamics file {path} is corrupt or truncated ({type(err).__name__}); "
                        f"delete it and run score again with the same out_dir to redo that member") from None
    if data is not None:
        made_for = f"{dyn.dataset}, fingerprint {dyn.fingerprint}"
        check_alignment(f"dynamics file {path}", dyn.train.indices, dyn.train.labels,
                        data.train.index.cpu().numpy(), data.train.y.cpu().numpy(), made_for)
    return dyn


def check_format(path: Path, version: int, files: list[str]) -> None:
    """Refuse, in one line, a member file of another format or without one of this code's statistics."""
    missing = [name for name in STATISTICS if name not in files]
    if version != FORMAT_VERSION or missing:
        found = f"format {version}" + (f" without {', '.join(missing)}" if missing else "")
        raise MemberFormatError(f"dynamics file {path} has {found}; this curriculum reads format {FORMAT_VERSION} "
                                f"with {', '.join(STATISTICS)}: score again into a new out_dir")


def _load_held_out(path: Path, z, meta: dict, n: int, checkpoints: int) -> HeldOut | None:
    """The held-out fold of a member of ensemble.folds (a member file whose identity has `folds`), else None. A file
    with the held-out softmax at the last checkpoint only (made before it was kept at every one) is refused."""
    if not meta["identity"].get("folds"):
        return None
    held = HeldOut(int(meta["held_out_fold"]), z["held_out_positions"], z["held_out_probs"])
    if held.probs.ndim != 3:
        raise MemberFormatError(f"dynamics file {path} holds its held-out softmax at the last checkpoint only; this "
                                f"curriculum reads it at every checkpoint: score again into a new out_dir")
    assert held.probs.shape[:2] == (checkpoints, len(held.positions))
    assert np.all((held.positions >= 0) & (held.positions < n))
    return held


def _load_split(z, prefix: str, checkpoints: int) -> SplitDynamics:
    """One split of an open member file, its arrays checked to be (checkpoints, N)."""
    labels = z[f"{prefix}labels"]
    stats = {name: statistic.storage.decode(z[f"{prefix}{name}"], len(labels))
             for name, statistic in STATISTICS.items()}
    assert all(values.shape == (checkpoints, len(labels)) for values in stats.values())
    return SplitDynamics(stats, labels, z[f"{prefix}indices"])
