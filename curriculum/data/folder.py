"""data=folder: a user's images in the ImageFolder layout, data.root/train/<class>/<image> and
data.root/test/<class>/<image>, decoded once into the same uint8 (N, C, H, W) arrays as the built-in datasets.

- Classes: the sorted names of train/'s folders (label = position); test/ must have the same ones.
- `index`: the position of an image in its split's sorted list of relative paths (`train/cat/001.png`), kept with
  the data so that scores files can name the image behind every row.
- Without test/, round(data.test_size x N) images of train/ are held out as the test split, stratified by class and
  seeded by data.seed (stream "holdout").
- Any format Pillow reads; every non-hidden file in a class folder must be an image. Grayscale (modes 1, L, LA)
  when every image is, else RGB (alpha dropped), unless data.channels says; resized (bilinear, no aspect kept) to
  data.image_size x data.image_size, or kept at the one size every image shares.
- Bad input is one UserError naming the folder or file, raised before anything is written."""

from __future__ import annotations

import os
import warnings
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import UserError
from ..seeding import numpy_rng
from .cache import cache_key, cache_path, check_writable, load_cache, save_cache
from .arrays import npz_headers
from .memory import check_fits, fits
from .splits import split_sizes, stratified_order
from .stream import decode_workers, open_images, take, write_images

SPLITS = ("train", "test")
GRAYSCALE = {"1", "L", "LA"}
COLOUR = {"P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV", "La"}   # converted to RGB


ARRAYS = ("x_train", "y_train", "x_test", "y_test", "paths_train", "paths_test")   # what the cache holds


class ImageFile(NamedTuple):   # a NamedTuple: 70,000 frozen dataclasses took a quarter second to build
    path: str       # relative to data.root, '/'-separated: train/<class>/<name>
    label: int      # position of <class> among the sorted class folders
    size: int       # bytes
    mtime_ns: int
    ctime_ns: int   # with the inode: a same-size rewrite keeping the mtime (cp -p, rsync -a, tar x) changes the key
    inode: int


def load_folder(cfg) -> tuple:
    """(x_train, y_train, x_test, y_test, paths_train, paths_test) of data.root: decoded, or read from the cache
    when no file and no decode setting changed since the last decode."""
    root = Path(cfg.root).expanduser()
    files = list_images(root)
    n_train = len(files["train"]) - (0 if files["test"] else held_out_count(len(files["train"]), cfg.test_size))
    split_sizes(cfg, n_train)   # here, before decoding: a bad val_size or test_size leaves no cache behind
    settings = {"image_size": cfg.image_size, "channels": cfg.channels}
    cache = cache_path(root, cfg.cache_dir, cache_key(files["train"] + files["test"], settings))
    arrays = load_streamed(cache) if cfg.stream is not False else None
    if arrays is None and cfg.stream is not True and cached_fits(cache, root, cfg.stream):
        arrays = load_cache(cache, ARRAYS)
    if arrays is None:
        arrays = decode_folder(root, files, cfg.image_size, cfg.channels, cache, cfg.stream)
    if not files["test"]:
        return hold_out_test(arrays, cfg.test_size, cfg.seed)
    return tuple(arrays[k] for k in ARRAYS)


def cached_fits(cache: Path, root: Path, stream=False) -> bool:
    """The memory check decoding makes, for a cache about to be read (from its headers; a cache that cannot be read
    is left to load_cache, which decodes again): one line when it does not fit, or False with stream=auto
    (decode_folder streams the images instead)."""
    try:
        headers = npz_headers(cache) if cache.is_file() else {}
    except UserError:
        return True
    if "x_train" in headers and "x_test" in headers:
        pixels = sum(int(np.prod(headers[k][0])) for k in ("x_train", "x_test"))
        if stream == "auto" and not fits(pixels):
            return False
        check_fits(pixels, f"data.root={root}: the cached {pixels:,} pixels of its images",
                   "set a smaller data.image_size, data.stream=true to read them from disk, or use fewer images")
    return True


# ---------------------------------------------------------------------------------------------- the layout

def list_images(root: Path) -> dict[str, list[ImageFile]]:
    """split -> its images sorted by relative path (test: [] when there is no test/ folder)."""
    if not root.is_dir():
        raise UserError(f"data.root={root} is not a folder; set data.root to the folder that holds "
                        f"train/<class>/<image> (and test/<class>/<image>)")
    if not (root / "train").is_dir():
        raise UserError(f"data.root={root} has no train/ folder; data=folder reads train/<class>/<image> "
                        f"(and test/<class>/<image>) under data.root")
    classes = class_folders(root, "train")
    files = {"train": split_files(root, "train", classes), "test": []}
    if (root / "test").exists():
        test_classes = class_folders(root, "test")
        if test_classes != classes:
            only_train = sorted(set(classes) - set(test_classes)) or ["none"]
            only_test = sorted(set(test_classes) - set(classes)) or ["none"]
            raise UserError(f"{root}/train and {root}/test have different class folders (only in train/: "
                            f"{', '.join(only_train[:5])}; only in test/: {', '.join(only_test[:5])}); give both "
                            f"the same classes, or remove test/ to hold out data.test_size of train/")
        files["test"] = split_files(root, "test", classes)
    return files


def class_folders(root: Path, split: str) -> list[str]:
    """The sorted class folder names of one split; a file beside them, or no folder at all, is an error."""
    folder = root / split
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder; data=folder reads {split}/<class>/<image>")
    entries = sorted((e for e in listed(folder) if not e.name.startswith(".")), key=lambda e: e.name)
    stray = [e.name for e in entries if not e.is_dir()]
    if stray:
        raise UserError(f"{folder / stray[0]} is not in a class folder; data=folder reads {split}/<class>/<image>")
    if not entries:
        raise UserError(f"{folder} is empty; put the images in {split}/<class>/<image>"
                        + (", or remove test/ to hold out data.test_size of train/" if split == "test" else ""))
    return [e.name for e in entries]


def split_files(root: Path, split: str, classes: list[str]) -> list[ImageFile]:
    found = []
    for label, name in enumerate(classes):
        inside = files_under(root, f"{split}/{name}")
        if not inside:
            raise UserError(f"class folder {root / split / name} has no images; add images or remove the folder")
        found += [ImageFile(rel, label, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) for rel, st in inside]
    return sorted(found, key=lambda f: f.path)


def files_under(root: Path, rel_dir: str) -> list[tuple[str, os.stat_result]]:
    """(relative path, stat) of every non-hidden file below root/rel_dir, subfolders included. os.scandir and
    plain strings: pathlib objects cost 2 of the 2.5 s a cached load of 70,000 files took."""
    out = []
    for entry in listed(os.path.join(root, rel_dir)):
        rel = f"{rel_dir}/{entry.name}"
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                out += files_under(root, rel)
            else:
                out.append((rel, entry.stat()))
        except OSError as err:
            raise UserError(f"cannot read {rel} under data.root={root} ({err.strerror}); fix or remove it") from None
    return out


def listed(folder) -> list[os.DirEntry]:
    """The entries of `folder`; one line when it cannot be read (e.g. no permission)."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as err:
        raise UserError(f"cannot read the folder {folder} ({err.strerror or type(err).__name__}); "
                        f"fix its permissions or remove it") from None


def held_out_count(n: int, test_size: float) -> int:
    """round(test_size x n) images of train/ held out when there is no test/ folder: at least one, not all."""
    n_test = int(round(test_size * n))
    if not 1 <= n_test < n:
        raise UserError(f"data.test_size={test_size} of the {n} images in train/ holds out {n_test}; set "
                        f"data.test_size so that at least one image is held out and one kept, or add a test/ folder")
    return n_test


def hold_out_test(arrays: dict, test_size: float, seed: int) -> tuple:
    """The test split when there is no test/ folder: a stratified round(test_size x N) of train/, seeded. Both
    splits keep each image's position in train/'s sorted file list as its index, so an image's index does not
    depend on data.seed or data.test_size."""
    y = arrays["y_train"]
    n_test = held_out_count(len(y), test_size)
    order = stratified_order(y, numpy_rng(seed, "holdout"))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    x, paths = arrays["x_train"], arrays["paths_train"]
    return take(x, train), y[train], take(x, test), y[test], paths, paths, train, test   # paths: the whole list


# ---------------------------------------------------------------------------------------------- decoding

def read_errors() -> tuple:
    from PIL import Image

    return OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError


def unreadable(rel: str, err: Exception) -> UserError:
    why = str(err).splitlines()[0] if str(err) else type(err).__name__
    return UserError(f"cannot read {rel} as an image ({why}); fix or remove the file")


def decode_folder(root: Path, files: dict, image_size: int | None, channels: int | None, cache: Path,
                  stream=False) -> dict:
    """Every image of both splits decoded into one (N, C, H, W) uint8 array, after checking that the images agree
    and that they fit in memory, and cached; or, with stream=true (auto: when they do not fit), into a file read
    through a memory map (stream.py). Returns the arrays the cache holds."""
    every = files["train"] + files["test"]
    sizes, modes = probe(root, every)
    shape = decoded_shape(every, sizes, modes, image_size, channels)
    pixels = len(every) * int(np.prod(shape))
    streamed = stream is True or (stream == "auto" and not fits(pixels))
    if not streamed:
        fix = (f"set a smaller data.image_size (now {image_size})" if image_size else
               "set data.image_size to decode them smaller") + (", data.stream=true to read them from disk, or "
                                                                "fewer images")
        check_fits(pixels, f"data.root={root}: {len(every)} images decoded to {'x'.join(map(str, shape))}", fix)
    check_writable(cache)
    n = len(files["train"])
    labels = np.array([f.label for f in every], dtype=np.int64)
    paths = np.array([f.path for f in every], dtype=str)
    meta = {"y_train": labels[:n], "paths_train": paths[:n], "y_test": labels[n:], "paths_test": paths[n:]}
    if streamed:
        decode = partial(decode_file, root, every, shape[0], image_size)
        x = write_images(streamed_images(cache), shape, decode, len(every), decode_workers())
        save_cache(streamed_labels(cache), meta)
        return {"x_train": x.take(np.arange(n)), "x_test": x.take(np.arange(n, len(every))), **meta}
    x = decode_all(root, every, shape, image_size)
    arrays = {"x_train": x[:n], "x_test": x[n:], **meta}
    save_cache(cache, arrays)
    return arrays


def streamed_images(cache: Path) -> Path:
    """The streamed images' file beside the in-memory cache `cache`: (N, C, H, W) uint8, train/ then test/."""
    return cache.with_suffix(".images.npy")


def streamed_labels(cache: Path) -> Path:
    """The labels and paths of the streamed images, written after them: a complete streamed cache has both."""
    return cache.with_suffix(".labels.npz")


def load_streamed(cache: Path) -> dict | None:
    """The arrays of a streamed cache (the images on disk, rows 0..n-1 the training images), or None when it is
    not complete: the labels are written last."""
    meta = load_cache(streamed_labels(cache), ("y_train", "paths_train", "y_test", "paths_test"))
    if meta is None or not streamed_images(cache).is_file():
        return None
    try:
        x, n = open_images(streamed_images(cache)), len(meta["y_train"])
    except (OSError, ValueError):   # a damaged file: decoded again
        return None
    if len(x) != n + len(meta["y_test"]):
        return None
    return {"x_train": x.take(np.arange(n)), "x_test": x.take(np.arange(n, len(x))), **meta}


def probe(root: Path, files: list[ImageFile]) -> tuple[np.ndarray, list[str]]:
    """(N, 2) (width, height) and the mode of every image, from the headers alone (no pixel is decoded)."""
    from PIL import Image

    errors = read_errors()
    sizes, modes = np.empty((len(files), 2), dtype=np.int64), []
    for i, f in enumerate(files):
        try:
            with Image.open(root / f.path) as img:
                sizes[i] = img.size
                modes.append(img.mode)
        except errors as err:
            raise unreadable(f.path, err) from None
    return sizes, modes


def decoded_shape(files: list[ImageFile], sizes: np.ndarray, modes: list[str], image_size: int | None,
                  channels: int | None) -> tuple[int, int, int]:
    """(C, H, W) every image is decoded to."""
    odd = [i for i, mode in enumerate(modes) if mode not in GRAYSCALE | COLOUR]
    if odd:
        raise UserError(f"{files[odd[0]].path} is a {modes[odd[0]]}-mode image (16-bit or floating point); data=folder "
                        f"reads 8-bit grayscale, RGB, RGBA and palette images; convert it to 8 bits")
    c = channels or (1 if all(mode in GRAYSCALE for mode in modes) else 3)
    if image_size:
        return c, image_size, image_size
    other = np.flatnonzero((sizes != sizes[0]).any(axis=1))
    if len(other):
        (w0, h0), (w1, h1) = sizes[0], sizes[other[0]]
        raise UserError(f"the images differ in size ({w0}x{h0} for {files[0].path}, {w1}x{h1} for "
                        f"{files[other[0]].path}, {len(np.unique(sizes, axis=0))} sizes in all); set data.image_size=N "
                        f"to resize every image to NxN pixels")
    w, h = sizes[0]
    return c, int(h), int(w)


def decode_file(root: Path, files: list[ImageFile], channels: int, image_size: int | None, i: int) -> np.ndarray:
    """Image i of `files` as (C, H, W) uint8; one line when it does not decode."""
    try:
        return decode_image(root / files[i].path, channels, image_size)
    except read_errors() as err:
        raise unreadable(files[i].path, err) from None


def decode_all(root: Path, files: list[ImageFile], shape: tuple[int, int, int], image_size: int | None) -> np.ndarray:
    x = np.empty((len(files), *shape), dtype=np.uint8)   # (N, C, H, W), filled in place: no second copy
    errors = read_errors()
    for i, f in enumerate(files):
        try:
            x[i] = decode_image(root / f.path, shape[0], image_size)
        except errors as err:
            raise unreadable(f.path, err) from None
    return x


def decode_image(path: Path, channels: int, image_size: int | None) -> np.ndarray:
    """One image as (C, H, W) uint8: converted to L or RGB, resized to image_size x image_size when given."""
    from PIL import Image

    with Image.open(path) as img, warnings.catch_warnings():
        warnings.simplefilter("ignore")   # e.g. a palette's transparency dropped by the RGB conversion, as documented
        img = img.convert("L" if channels == 1 else "RGB")
        if image_size and img.size != (image_size, image_size):
            img = img.resize((image_size, image_size), Image.Resampling.BILINEAR)
        pixels = np.asarray(img)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
