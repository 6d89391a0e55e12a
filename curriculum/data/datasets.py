"""Datasets as in-memory uint8 tensors with stable official indices, a stratified subset,
a held-out validation split and seeded label noise (the mask is kept)."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from ..errors import UserError
from ..seeding import numpy_rng
from .arrays import load_arrays
from .folder import load_folder
from .noise import NOISES, check_noise_map, inject_noise, noise_map
from .noise_model import FIT_CAP, RECIPE, noise_model_probabilities
from .ood import ARTIFICIAL, artificial_images
from .splits import AUTO_VAL_MAX, split_sizes, stratified_order
from .stream import MappedImages, check_stream, take

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class DataConfig:
    """The `data` group's schema: conf/data/*.yaml override it. Checks every setting it can without the files."""
    name: str = "fashion_mnist"    # a key of LOADERS
    root: str = "data"             # where torchvision finds or downloads the files; folder: the images' folder
    train_size: int | None = None  # examples in the stratified training subset; None = all that val_size leaves
    val_size: int | None = None    # stratified validation split held out of training and scoring; None = a tenth
                                   # of the training examples, at most 5000 (splits.py); 0: none
    label_noise: int | float = 0.0  # fraction of training labels flipped to another class, in [0, 1) (int | float:
                                   # kept as written, as train runs' `training` tag holds it); pairwise: of each
                                   # class the noise map flips (noise.py)
    noise: str = "symmetric"       # symmetric: to a uniform other class | pairwise: to the class's look-alike |
                                   # instance: the most confusable examples to the class a noise model finds most
                                   # likely among the wrong ones (noise.py, noise_model.py)
    noise_map: Any = None          # pairwise: class -> class, e.g. {0: 6, 6: 0}; None = the dataset's own map
                                   # (noise.PAIRWISE_MAPS), else each class to the next (Any: Hydra cannot merge
                                   # a mapping into an unset typed dict, and struct mode refuses new int keys)
    random_labels: bool = False    # control: every training label drawn uniformly at random
    seed: int = 0                  # subset, split, noise and folder's test hold-out; independent of the training seed
    download: bool = True          # let torchvision download when the files are missing
    path: str | None = None        # arrays: the .npz file with x_train, y_train, x_test, y_test
    image_size: int | None = None  # folder: resize every image to image_size x image_size pixels; None = keep the
                                   # one size all images share
    channels: int | None = None    # folder: 1 (grayscale) or 3 (RGB); None = 1 when every image is grayscale, else 3
    test_size: float = 0.2         # folder without test/: fraction of train/ held out as the test split (stratified)
    cache_dir: str | None = None   # folder: where decoded images are cached; None = <root>/.curriculum-cache
    stream: Any = "auto"           # folder: true reads the images from disk per batch (decoded once into a memory-
                                   # mapped file in the cache folder; stream.py) | false holds them in memory |
                                   # auto: streams them when they do not fit in memory
    classes: Any = None            # train on these classes only (relabelled 0..k-1 in sorted order); the test images of
                                   # the others become the `other_classes` out-of-distribution split (data/ood.py)
    artificial: int = 0            # images of each artificial kind (noise, stripes) recorded as out-of-distribution splits

    def __post_init__(self):
        if self.name not in LOADERS:
            raise UserError(f"unknown dataset data={self.name!r}; choose one of {', '.join(LOADERS)}")
        if not 0.0 <= self.label_noise < 1.0:
            raise UserError(f"data.label_noise={self.label_noise} is out of range; it is a fraction in [0, 1)")
        if self.val_size is not None and self.val_size < 0:
            raise UserError(f"data.val_size={self.val_size} must be at least 0 (0: no validation split; null: a tenth "
                            f"of the training examples, at most {AUTO_VAL_MAX})")
        if self.train_size is not None and self.train_size < 1:
            raise UserError(f"data.train_size={self.train_size} must be at least 1, or null for every example "
                            f"that data.val_size leaves")
        if self.seed < 0:
            raise UserError(f"data.seed={self.seed} must be a non-negative integer")
        self._check_noise_settings()
        self._check_user_data_settings()
        self._check_ood_settings()

    def _check_ood_settings(self):
        if not whole(self.artificial) or self.artificial < 0:
            raise UserError(f"data.artificial={self.artificial} must be a number of images, at least 0")
        if self.classes is None:
            return
        classes = list(self.classes) if isinstance(self.classes, (list, tuple)) else [self.classes]
        if len(classes) < 2 or len(set(classes)) != len(classes) or not all(whole(c) and c >= 0 for c in classes):
            raise UserError(f"data.classes={self.classes} must be at least two distinct class numbers, like "
                            f"[0,1,2,3,4]")
        if self.noise == "pairwise":
            raise UserError("data.classes with data.noise=pairwise is not supported (the noise maps name the "
                            "dataset's own classes); use symmetric or instance noise, or all the classes")

    def _check_noise_settings(self):
        if self.noise not in NOISES:
            raise UserError(f"data.noise={self.noise!r} is not a kind of label noise; choose one of {', '.join(NOISES)}")
        if self.noise_map is not None:
            if self.noise != "pairwise":
                raise UserError(f"data.noise_map is a setting of data.noise=pairwise, not data.noise={self.noise}; "
                                f"drop it or set data.noise=pairwise")
            check_noise_map(self.noise_map)

    def _check_user_data_settings(self):
        """The settings of data=folder and data=arrays, each refused where it would be ignored."""
        if self.name == "arrays" and not self.path:
            raise UserError("data=arrays needs data.path=FILE.npz (arrays x_train, y_train, x_test, y_test)")
        for key, value, owner in (("path", self.path, "arrays"), ("image_size", self.image_size, "folder"),
                                  ("channels", self.channels, "folder"), ("cache_dir", self.cache_dir, "folder")):
            if value is not None and self.name != owner:
                raise UserError(f"data.{key}={value} is a setting of data={owner}, not data={self.name}; drop it")
        if self.image_size is not None and self.image_size < 1:
            raise UserError(f"data.image_size={self.image_size} must be a positive number of pixels, or null to keep "
                            f"the images' own size")
        if self.channels not in (None, 1, 3):
            raise UserError(f"data.channels={self.channels} must be 1 (grayscale), 3 (RGB) or null (1 when every "
                            f"image is grayscale, else 3)")
        check_stream(self.stream)
        if self.stream is True and self.name != "folder":
            raise UserError(f"data.stream=true streams data=folder only; data={self.name} is held in memory, drop it")
        if not 0.0 < self.test_size < 1.0:
            raise UserError(f"data.test_size={self.test_size} must be a fraction in (0, 1): the share of train/ held "
                            f"out as the test split when data.root has no test/")


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
    fingerprint: str          # of name, train indices, trained labels, train and test images (and file paths)
    paths: dict = field(default_factory=dict)  # data=folder: split -> (N_split,) str, relative path by index
    ood: dict = field(default_factory=dict)    # out-of-distribution splits, name -> Split (y: the original class of
                                               # other_classes, -1 for artificial images), recorded as predictions
    noise_model: str = ""     # data.noise=instance: how its noise model was trained and its accuracy; else ""

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.x.shape[1:])

    def to(self, device) -> "Data":
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device),
                       ood={name: split.to(device) for name, split in self.ood.items()})


def whole(value) -> bool:
    """An int that is not a bool (True would pass for class 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def reload_settings(cfg: DataConfig) -> dict:
    """`cfg` as plain JSON values that rebuild the same data from any working folder (its file locations made
    absolute): what a score file keeps, so that analyze can load the images its members saw."""
    settings = asdict(cfg)
    for key in ("root", "path", "cache_dir"):
        if settings[key] is not None:
            settings[key] = str(Path(settings[key]).expanduser().resolve())
    return settings


# ---------------------------------------------------------------------------------------------- raw loaders
# Each returns (x_train, y_train, x_test, y_test) as numpy: uint8 (N, C, H, W) and int64 (N,); data=folder adds
# each split's relative file paths (its `index` is the position in them).

class RawData(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    paths_train: np.ndarray | None = None   # str, sorted: the file of official index i is paths_train[i]
    paths_test: np.ndarray | None = None
    index_train: np.ndarray | None = None   # the official index of each row (None: its position); data=folder
    index_test: np.ndarray | None = None    # without test/ holds images out of train/ and keeps their positions

def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def idx_dataset(dirs: list[Path]):
    """(x_train, y_train, x_test, y_test) from the first folder holding the four gzipped IDX files, else None."""
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
    found = idx_dataset([Path(cfg.root) / cls_name / "raw", *extra_dirs])
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
    "folder": load_folder,
    "arrays": load_arrays,
}


def fingerprint(name: str, index: np.ndarray, labels: np.ndarray, *images: np.ndarray,
                paths: tuple[np.ndarray, ...] = (), labelling: dict | None = None) -> str:
    """Identity of the data a run trained on: names, official indices, trained labels, the image bytes (so two
    folders with the same file names but other pictures never pass for each other), for data=folder the
    relative file paths (so renamed files are other data too), and how the labels were made (`labelling`)."""
    h = hashlib.sha256(name.encode())
    h.update(json.dumps(labelling or {}, sort_keys=True).encode())
    h.update(np.ascontiguousarray(index, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    for x in images:   # in chunks: images on disk (stream.py) are never read whole; the same bytes, the same hash
        for chunk in (x.chunks() if isinstance(x, MappedImages) else (x,)):
            h.update(np.ascontiguousarray(chunk).tobytes())
    for names in paths:
        h.update("\n".join(names.tolist()).encode())
    return h.hexdigest()[:16]


def labelling(kind: str, mapping: dict[int, int] | None, fraction: float, classes: np.ndarray,
              all_classes: int) -> dict:
    """How the trained labels were made, as the fingerprint holds it: the noise kind and its effective map (none
    without noise: then the kind changes nothing), instance noise's model recipe (noise_model.RECIPE: a changed
    recipe is other data), and the classes kept (None when every class is: naming them all is the same data)."""
    noisy = fraction > 0
    made = {"noise": kind if noisy else "none",
            "noise_map": {str(k): v for k, v in sorted(mapping.items())} if noisy and mapping else None,
            "classes": None if len(classes) == all_classes else classes.tolist()}
    if noisy and kind == "instance":
        made["noise_model"] = RECIPE
    return made


def channel_mean_std(x: np.ndarray, chunk_bytes: int = 1 << 22) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (population) of uint8 images (N, C, H, W) scaled to [0, 1]. Exact integer sums over
    chunks of examples: no float copy of the whole set (CIFAR-10's was 1.1 GB), only one chunk at a time in int64."""
    n, c = x.shape[0], x.shape[1]
    count = n * int(np.prod(x.shape[2:]))   # values per channel
    assert count > 0, "no images to normalise"
    total, squares = [0] * c, [0] * c      # Python ints: exact whatever the size
    step = max(1, chunk_bytes // max(1, int(np.prod(x.shape[1:]))))   # uint8: one byte a value
    for start in range(0, n, step):
        part = np.asarray(x[start:start + step]).astype(np.int64)   # (step, C, H, W)
        total = [t + int(v) for t, v in zip(total, part.sum(axis=(0, 2, 3)))]
        squares = [q + int(v) for q, v in zip(squares, (part * part).sum(axis=(0, 2, 3)))]
    mean = tuple(t / count / 255.0 for t in total)
    # variance = (count * sum(x^2) - sum(x)^2) / count^2, exact in integers before the one division
    std = tuple(max(((count * q - t * t) / count ** 2) ** 0.5 / 255.0, 1e-6) for t, q in zip(total, squares))
    return mean, std


def training_settings(data: dict) -> dict:
    """The data settings that say what a run trained on, for train runs' `training` tag and identity: not where the
    files are (root, path, cache_dir, download), and the folder's decode settings only for data=folder."""
    where = ("root", "download", "path", "cache_dir", "stream")   # streamed images are the same images
    folder_only = ("image_size", "channels", "test_size")
    return {k: v for k, v in data.items()
            if k not in where and (data.get("name") == "folder" or k not in folder_only)}


def _tensors(x: np.ndarray, y: np.ndarray, index: np.ndarray) -> Split:
    """A Split sharing memory with writable arrays (a read-only one, e.g. an mmapped file, is copied once)."""
    def own(a):
        return torch.from_numpy(np.require(a, requirements=["C", "W"]))
    return Split(x if isinstance(x, MappedImages) else own(x), own(y), own(index))


def load_data(cfg: DataConfig) -> Data:
    """Load a dataset once into tensors (CPU), keep data.classes, take the stratified split, inject label noise, and
    add the out-of-distribution splits."""
    xtr, ytr, xte, yte, paths_train, paths_test, index_train, index_test = RawData(*LOADERS[cfg.name](cfg))
    official = np.arange(len(ytr), dtype=np.int64) if index_train is None else index_train
    test_index = np.arange(len(yte), dtype=np.int64) if index_test is None else index_test
    all_classes = int(max(ytr.max(), yte.max()) + 1)
    classes = chosen_classes(cfg.classes, all_classes)
    relabel = np.searchsorted(classes, np.arange(all_classes))       # old class -> new, for the classes kept
    num_classes = len(classes)
    val_idx, train_idx, rest = split_positions(cfg, ytr, classes)
    true_labels = relabel[ytr[train_idx]]
    x_train = take(xtr, train_idx)   # (N, C, H, W) uint8, a copy (or rows of the file, streamed): the subset
    mapping = noise_map(cfg.name, num_classes, cfg.noise_map) if cfg.noise == "pairwise" else None
    probs, model_note = None, ""
    if cfg.noise == "instance" and cfg.label_noise > 0:
        outside = rest[:FIT_CAP]   # neither trained on nor validated on, in seeded order
        probs, model_note = noise_model_probabilities(x_train, true_labels, np.asarray(xtr[outside]),
                                                      relabel[ytr[outside]],
                                                      num_classes, numpy_rng(cfg.seed, "noise_model"))
    labels, noisy = given_labels(cfg, true_labels, num_classes, mapping, probs)
    in_test = np.isin(yte, classes)
    mean, std = channel_mean_std(x_train)
    paths = {} if paths_train is None else {"train": paths_train, "test": paths_test}
    ood = ood_splits(cfg, take(xte, ~in_test), yte[~in_test], test_index[~in_test], x_train.shape[1:])
    return Data(
        name=cfg.name, num_classes=num_classes, mean=mean, std=std,
        train=_tensors(x_train, labels, official[train_idx]),
        val=_tensors(take(xtr, val_idx), relabel[ytr[val_idx]], official[val_idx]),
        test=_tensors(take(xte, in_test), relabel[yte[in_test]], test_index[in_test]),
        true_labels=true_labels, noisy=noisy,
        fingerprint=fingerprint(cfg.name, official[train_idx], labels, x_train, take(xte, in_test),
                                paths=() if paths_train is None else (paths_train[official[train_idx]],
                                                                      paths_test[test_index[in_test]]),
                                labelling=labelling(cfg.noise, mapping, cfg.label_noise, classes, all_classes)),
        paths=paths, ood=ood, noise_model=model_note,
    )


def split_positions(cfg: DataConfig, ytr: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, ...]:
    """Positions in the official training set of the validation split and the training split (each ascending) and
    of the rest (in seeded order): a stratified draw among the chosen classes from cfg.seed's `subset` stream."""
    eligible = np.flatnonzero(np.isin(ytr, classes))
    train_size, val_size = split_sizes(cfg, len(eligible))
    order = eligible[stratified_order(ytr[eligible], numpy_rng(cfg.seed, "subset"))]
    return np.sort(order[:val_size]), np.sort(order[val_size: val_size + train_size]), order[val_size + train_size:]


def given_labels(cfg: DataConfig, true_labels: np.ndarray, num_classes: int, mapping: dict | None,
                 probs: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The labels trained on and which of them differ from the true ones: data.label_noise of kind data.noise
    (`mapping` for pairwise, `probs` for instance), or data.random_labels, from cfg.seed's `noise` stream."""
    labels, noisy = inject_noise(true_labels, cfg.label_noise, num_classes, cfg.noise, mapping,
                                 numpy_rng(cfg.seed, "noise"), probs)
    if cfg.random_labels:
        labels = numpy_rng(cfg.seed, "noise").integers(0, num_classes, size=len(true_labels))
        noisy = labels != true_labels
    return labels, noisy


def chosen_classes(classes, all_classes: int) -> np.ndarray:
    """data.classes as a sorted array (all the dataset's classes when None), each checked to exist."""
    if classes is None:
        return np.arange(all_classes)
    outside = [c for c in classes if c >= all_classes]
    if outside:
        raise UserError(f"data.classes={list(classes)} names class {outside[0]}, but the dataset has classes 0 to "
                        f"{all_classes - 1}")
    return np.array(sorted(classes), dtype=np.int64)


def ood_splits(cfg: DataConfig, x_other, y_other, index_other, shape) -> dict:
    """The out-of-distribution splits: the test images of the classes data.classes leaves out (original labels),
    and data.artificial images of each artificial kind (label -1)."""
    splits = {"other_classes": _tensors(x_other, y_other, index_other)} if len(y_other) else {}
    for kind in ARTIFICIAL if cfg.artificial else ():
        images = artificial_images(kind, cfg.artificial, tuple(shape), cfg.seed)
        splits[kind] = _tensors(images, np.full(cfg.artificial, -1), np.arange(cfg.artificial))
    return splits
