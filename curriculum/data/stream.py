"""Images that stay on disk: a folder dataset too large for memory is decoded once, in DataLoader worker
processes, into one uint8 (N, C, H, W) NumPy .npy file beside the in-memory cache, and read from it per batch
through a memory map (the OS keeps the recently read pages; nothing else is held). `MappedImages` stands in for the
uint8 tensor the engine indexes (`x[idx]`, `x[start:stop]`), so every stage runs on it unchanged, and a split or
subset is a list of rows, never a copy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import UserError

STREAMS = ("auto", True, False)   # data.stream: auto streams what does not fit in memory
DECODE_BATCH = 256                # images a decode worker hands back at a time


class MappedImages:
    """Rows `rows` of a memory-mapped (N, C, H, W) uint8 array, indexed like a tensor: `x[idx]` (an int64 tensor or
    array of any shape, a slice or an int) reads those images and returns a uint8 tensor on `device`."""

    dtype = torch.uint8

    def __init__(self, array: np.ndarray, rows: np.ndarray | None = None, device=torch.device("cpu")):
        self.array = array
        self.rows = np.arange(len(array), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        self.device = torch.device(device)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.rows), *self.array.shape[1:]))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        images = torch.from_numpy(np.ascontiguousarray(self.array[self.rows[key]]))
        return images.to(self.device, non_blocking=True)

    def take(self, positions) -> "MappedImages":
        """The images at `positions` (an array, a bool mask or a tensor), still on disk: no pixel is read."""
        if isinstance(positions, torch.Tensor):
            positions = positions.cpu().numpy()
        return type(self)(self.array, self.rows[np.asarray(positions)], self.device)

    def to(self, device) -> "MappedImages":
        """Batches are read to `device`; the images stay on disk."""
        return type(self)(self.array, self.rows, device)

    def chunks(self, rows: int = 4096):
        """The images as NumPy chunks of up to `rows` images, in order (for hashing and statistics)."""
        for start in range(0, len(self), rows):
            yield self.array[self.rows[start:start + rows]]


def take(x, positions):
    """x[positions] for in-memory images (a copy), the same images still on disk for MappedImages: what a pass
    over a subset indexes, so that streamed images are read a batch at a time."""
    return x.take(positions) if isinstance(x, MappedImages) else x[positions]


def check_stream(stream) -> None:
    """data.stream is auto, true or false."""
    if stream not in STREAMS:
        raise UserError(f"data.stream={stream!r} must be auto (stream what does not fit in memory), true or false")


def open_images(path: Path) -> MappedImages:
    """The images of a streamed file, memory-mapped read-only."""
    return MappedImages(np.load(path, mmap_mode="r"))


def write_images(path: Path, shape: tuple[int, ...], decode, count: int, workers: int) -> MappedImages:
    """Decode `count` images (decode(i) -> (C, H, W) uint8) into the .npy file `path`, in `workers` DataLoader
    processes, written whole or not at all; checks the disk space first."""
    need = count * int(np.prod(shape))
    check_disk(path.parent, need)

    def fill(f):
        out = np.lib.format.open_memmap(f.name, mode="w+", dtype=np.uint8, shape=(count, *shape))
        for start, images in decoded_batches(decode, count, workers):
            out[start:start + len(images)] = images
        out.flush()
        del out

    atomic_write(path, fill)
    return open_images(path)


def decoded_batches(decode, count: int, workers: int):
    """(first position, (B, C, H, W) uint8) in order, decoded in DataLoader worker processes."""
    batches = [range(s, min(s + DECODE_BATCH, count)) for s in range(0, count, DECODE_BATCH)]
    loader = torch.utils.data.DataLoader(_Decoded(decode), batch_sampler=batches, num_workers=workers,
                                         collate_fn=_stack)
    for positions, images in zip(batches, loader):
        if isinstance(images, UserError):   # a file that does not decode: its one line, not a worker's traceback
            raise images
        yield positions.start, images


class _Decoded(torch.utils.data.Dataset):
    def __init__(self, decode):
        self.decode = decode

    def __getitem__(self, i: int) -> np.ndarray | UserError:
        try:
            return self.decode(i)
        except UserError as err:
            return err


def _stack(images: list) -> np.ndarray | UserError:
    return next((i for i in images if isinstance(i, UserError)), None) or np.stack(images)


def decode_workers() -> int:
    """Worker processes for decoding: one per core, at most 8."""
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def check_disk(folder: Path, need: int) -> None:
    """Said before decoding: a file larger than the free disk would fail after hours of it."""
    free = shutil.disk_usage(folder).free
    if need > free:
        raise UserError(f"streaming the images needs {need / 1e9:.2f} GB on disk in {folder} but {free / 1e9:.2f} GB "
                        f"are free; set data.cache_dir to a larger disk, or a smaller data.image_size")
