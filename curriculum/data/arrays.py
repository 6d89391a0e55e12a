"""data=arrays: a user's .npz with x_train, y_train, x_test, y_test (data.path).

Images are uint8, (N, C, H, W) or (N, H, W, C) with C = 1 or 3, or (N, H, W) for grayscale. The layout is read
from which axis has 1 or 3 entries: axis 1 -> NCHW, axis 3 -> NHWC; when both or neither do (e.g. 3x3 RGB images,
or 4 channels), the file is refused rather than guessed. Labels are non-negative integers; `index` is the position
in the arrays. Shapes, dtypes and the memory needed are checked from the .npy headers before any array is read."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from .memory import check_fits
from .splits import split_sizes

KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_arrays(cfg) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    path = Path(cfg.path).expanduser()
    headers = npz_headers(path)
    missing = [k for k in KEYS if k not in headers]
    if missing:
        raise UserError(f"data.path={path} has no {', '.join(missing)} (it has {', '.join(headers) or 'no arrays'}); "
                        f"it needs x_train, y_train, x_test, y_test")
    layouts = {split: check_split(path, split, headers) for split in ("train", "test")}
    split_sizes(cfg, headers["y_train"][0][0])   # a bad val_size, before reading any array
    (c, h, w), (ct, ht, wt) = (image_shape(headers[f"x_{s}"][0], layouts[s]) for s in ("train", "test"))
    if (c, h, w) != (ct, ht, wt):
        raise UserError(f"data.path={path}: x_train holds {c}x{h}x{w} images but x_test {ct}x{ht}x{wt} (C x H x W); "
                        f"give both splits the same image shape")
    pixels = sum(int(np.prod(headers[f"x_{s}"][0])) for s in ("train", "test"))
    check_fits(pixels, f"data.path={path}: {pixels // (c * h * w)} images of {c}x{h}x{w}", "use fewer or smaller images")
    with np.load(path, allow_pickle=False) as f:
        x_train, y_train = to_nchw(f["x_train"], layouts["train"]), f["y_train"].astype(np.int64)
        x_test, y_test = to_nchw(f["x_test"], layouts["test"]), f["y_test"].astype(np.int64)
    for split, y in (("train", y_train), ("test", y_test)):
        if y.min() < 0:
            raise UserError(f"data.path={path}: y_{split} holds the label {y.min()}; classes are numbered from 0")
    return x_train, y_train, x_test, y_test


def npz_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """name -> (shape, dtype) of every array in the .npz, read from the .npy headers alone."""
    if not path.is_file():
        raise UserError(f"data.path={path} does not exist; set data.path to a .npz file with x_train, y_train, "
                        f"x_test, y_test")
    headers = {}
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                with z.open(name) as fh:
                    version = np.lib.format.read_magic(fh)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(fh)
                headers[name.removesuffix(".npy")] = (shape, dtype)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"cannot read data.path={path} as a .npz file ({why}); write it with numpy.savez") from None
    return headers


def check_split(path: Path, split: str, headers: dict) -> str:
    """The layout of x_<split> (NCHW, NHWC or NHW) after checking dtypes and that images and labels pair up."""
    (xs, xd), (ys, yd) = headers[f"x_{split}"], headers[f"y_{split}"]
    if xd != np.uint8:
        raise UserError(f"data.path={path}: x_{split} is {xd}, not uint8; give the pixels as integers 0-255 "
                        f"(e.g. (x * 255).round().astype(numpy.uint8))")
    if yd.kind not in "iu" or len(ys) != 1:
        raise UserError(f"data.path={path}: y_{split} is {yd} of shape {ys}; give one integer class per image")
    if xs[0] != ys[0]:
        raise UserError(f"data.path={path}: x_{split} has {xs[0]} images but y_{split} {ys[0]} labels; give one "
                        f"label per image")
    if xs[0] == 0:
        raise UserError(f"data.path={path}: x_{split} has no images")
    return layout(xs, f"data.path={path}: x_{split}")


def layout(shape: tuple[int, ...], what: str) -> str:
    """NCHW when axis 1 has 1 or 3 entries, NHWC when axis 3 has; refused when both or neither do."""
    if len(shape) == 3:
        return "NHW"
    first, last = len(shape) == 4 and shape[1] in (1, 3), len(shape) == 4 and shape[3] in (1, 3)
    if first != last:
        return "NCHW" if first else "NHWC"
    why = "both axis 1 and axis 3 could be channels" if first else "no axis of 1 or 3 channels at position 1 or 3"
    raise UserError(f"{what} has shape {shape}: {why}; give (N, C, H, W) or (N, H, W, C) with C = 1 or 3, "
                    f"or (N, H, W) for grayscale")


def image_shape(shape: tuple[int, ...], how: str) -> tuple[int, int, int]:
    """(C, H, W) of one image."""
    if how == "NHW":
        return 1, shape[1], shape[2]
    return (shape[1], shape[2], shape[3]) if how == "NCHW" else (shape[3], shape[1], shape[2])


def to_nchw(x: np.ndarray, how: str) -> np.ndarray:
    if how == "NHW":
        return x[:, None]
    return x if how == "NCHW" else np.ascontiguousarray(x.transpose(0, 3, 1, 2))
