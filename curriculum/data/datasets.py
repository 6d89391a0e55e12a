"""Datasets as in-memory uint8 tensors with stable official indices, a stratified subset,
a held-out validation split and seeded label noise (the mask is kept)."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..seeding import numpy_rng
from .noise import flip_labels
from .splits import stratified_order

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class DataConfig:
    """The `data` group's schema: conf/data/*.yaml override it (the command line's 5000 validation examples
    included: a DataConfig built in Python holds out none unless told)."""
    name: str = "fashion_mnist"    # a key of LOADERS
    root: str = "data"             # where torchvision finds or downloads the files
    train_size: int | None = None  # examples in the stratified training subset; None = all that val_size leaves
    val_size: int = 0              # stratified validation split held out of training and scoring
    label_noise: int | float = 0.0  # fraction of training labels flipped to another class, in [0, 1) (int | float:
                                   # kept as written, as train runs' `training` tag holds it)
    random_labels: bool = False    # control: every training label drawn uniformly at random
    seed: int = 0                  # subset, split and noise; independent of the training seed
    download: bool = True          # let torchvision download when the files are missing

    def __post_init__(self):
        if self.val_size < 0:
            raise UserError(f"data.val_size={self.val_size} must be at least 0 (0: no validation split)")
        if self.train_size is not None and self.train_size < 1:
            raise UserError(f"data.train_size={self.train_size} must be at least 1, or null for every example "
                            f"that data.val_size leaves")
        if self.seed < 0:
            raise UserError(f"data.seed={self.seed} must be a non-negative integer")


@dataclass(frozen=True)
class Split:
    x: torch.Tensor      # (N, C, H, W) uint8
    y: torch.Tensor      # (N,) int64, the labels as trained (after noise)
    index: torch.Tensor  # (N,) int64, position in the dataset's official split

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device) -> "Split":
        return Split(self.x.to(device), self.y.to(device), self.index.to(device))


@dataclass(frozen=True)
class Data:
    name: str
    num_classes: int
    mean: tuple[float, ...]   # per channel, of the training images scaled to [0, 1]
    std: tuple[float, ...]
    train: Split
    val: Split
    test: Split
    true_labels: np.ndarray   # (N_train,) labels before noise
    noisy: np.ndarray         # (N_train,) bool, label flipped on purpose
    fingerprint: str          # of name, train indices, trained labels, train and test images

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.x.shape[1:])

    def to(self, device) -> "Data":
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device))


# ---------------------------------------------------------------------------------------------- raw loaders
# Each returns (x_train, y_train, x_test, y_test) as numpy: uint8 (N, C, H, W) and int64 (N,).

def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _idx_dataset(dirs: list[Path]):
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    for d in dirs:
        if all((d / n).is_file() for n in names):
            xtr, ytr, xte, yte = (_read_idx(d / n) for n in names)
            return xtr[:, None], ytr.astype(np.int64), xte[:, None], yte.astype(np.int64)
    return None


def _torchvision(cls_name: str, root: str, download: bool):
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    train, test = cls(root, train=True, download=download), cls(root, train=False, download=download)

    def arrays(ds):
        x = np.asarray(ds.data)
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # (N,H,W) or (N,H,W,C) -> (N,C,H,W)
        return np.ascontiguousarray(x, dtype=np.uint8), np.asarray(ds.targets, dtype=np.int64)

    return (*arrays(train), *arrays(test))


def _load_mnist_like(cls_name: str, cfg: DataConfig, extra_dirs: list[Path], install_hint: str):
    found = _idx_dataset([Path(cfg.root) / cls_name / "raw", *extra_dirs])
    if found is not None:
        return found
    return _download_or_fail(cls_name, cfg, install_hint)


def _download_or_fail(cls_name: str, cfg: DataConfig, install_hint: str):
    try:
        return _torchvision(cls_name, cfg.root, cfg.download)
    except (RuntimeError, OSError) as err:
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"{cls_name} is not in {cfg.root}/ and could not be downloaded ({why}); "
                        f"{install_hint}, or put the files in {cfg.root}/ and set data.root") from None


def _fashion_mnist(cfg):
    return _load_mnist_like("FashionMNIST", cfg, [DEBIAN_FASHION_MNIST],
                            "install Debian's package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)")


def _mnist(cfg):
    return _load_mnist_like("MNIST", cfg, [], "connect to the internet once")


def _cifar10(cfg):
    return _download_or_fail("CIFAR10", cfg, "connect to the internet once")


def _cifar100(cfg):
    return _download_or_fail("CIFAR100", cfg, "connect to the internet once")


def synthetic(cfg, n_train=2000, n_test=500, classes=4, side=12):
    """Class prototypes plus noise, with a per-example signal strength so that some examples are
    easy and some hard: a known answer for tests, generated in well under a second."""
    rng = numpy_rng(cfg.seed, "synthetic")
    prototypes = rng.normal(size=(classes, 1, side, side))

    def sample(n):
        y = np.arange(n) % classes
        strength = rng.uniform(0.1, 1.2, size=(n, 1, 1, 1))
        x = strength * prototypes[y] + rng.normal(size=(n, 1, side, side))
        return np.clip(128 + 40 * x, 0, 255).astype(np.uint8), y.astype(np.int64)

    return (*sample(n_train), *sample(n_test))


LOADERS = {
    "fashion_mnist": _fashion_mnist,
    "mnist": _mnist,
    "cifar10": _cifar10,
    "cifar100": _cifar100,
    "synthetic": synthetic,
}


def fingerprint(name: str, index: np.ndarray, labels: np.ndarray, *images: np.ndarray) -> str:
    """Identity of the data a run trained on: names, official indices, trained labels and the image bytes
    (so two folders with the same file names but other pictures never pass for each other)."""
    h = hashlib.sha256(name.encode())
    h.update(np.ascontiguousarray(index, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    for x in images:
        h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()[:16]


def _validate(cfg: DataConfig):
    """The name and the noise, checked here rather than in DataConfig.__post_init__ because tests/test_data.py builds
    DataConfigs with a bad name or noise and expects load_data to refuse them."""
    if cfg.name not in LOADERS:
        raise UserError(f"unknown dataset data={cfg.name!r}; choose one of {', '.join(LOADERS)}")
    if not 0.0 <= cfg.label_noise < 1.0:
        raise UserError(f"data.label_noise={cfg.label_noise} is out of range; it is a fraction in [0, 1)")


def load_data(cfg: DataConfig) -> Data:
    """Load a dataset once into tensors (CPU), take the stratified split, inject label noise."""
    _validate(cfg)
    xtr, ytr, xte, yte = LOADERS[cfg.name](cfg)
    num_classes = int(max(ytr.max(), yte.max()) + 1)
    train_size = cfg.train_size if cfg.train_size is not None else len(ytr) - cfg.val_size
    if train_size + cfg.val_size > len(ytr):
        raise UserError(f"data.train_size={train_size} plus data.val_size={cfg.val_size} exceeds the "
                        f"{len(ytr)} training examples of {cfg.name}; lower one of them")
    order = stratified_order(ytr, numpy_rng(cfg.seed, "subset"))
    val_idx = np.sort(order[: cfg.val_size])
    train_idx = np.sort(order[cfg.val_size: cfg.val_size + train_size])
    true_labels = ytr[train_idx]
    labels, noisy = flip_labels(true_labels, cfg.label_noise, num_classes, numpy_rng(cfg.seed, "noise"))
    if cfg.random_labels:
        labels = numpy_rng(cfg.seed, "noise").integers(0, num_classes, size=len(true_labels))
        noisy = labels != true_labels
    scaled = xtr[train_idx].astype(np.float64) / 255.0
    mean = tuple(scaled.mean(axis=(0, 2, 3)).tolist())
    std = tuple(np.maximum(scaled.std(axis=(0, 2, 3)), 1e-6).tolist())

    def split(x, y, idx):
        return Split(torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y)), torch.from_numpy(np.array(idx)))

    return Data(
        name=cfg.name, num_classes=num_classes, mean=mean, std=std,
        train=split(xtr[train_idx], labels, train_idx),
        val=split(xtr[val_idx], ytr[val_idx], val_idx),
        test=split(xte, yte, np.arange(len(yte), dtype=np.int64)),
        true_labels=true_labels, noisy=noisy,
        fingerprint=fingerprint(cfg.name, train_idx, labels, xtr[train_idx], xte),
    )
