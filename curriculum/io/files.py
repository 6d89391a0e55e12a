"""Atomic writes (curriculum/atomic.py, re-exported here for the stages), a lock held for a process's lifetime, and
the alignment check that every dynamics and scores file goes through."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..atomic import atomic_write as atomic_write  # re-exported: the stages write through io.files
from ..errors import UserError


@contextmanager
def exclusive_lock(path: str | Path, busy: str):
    """Hold an exclusive lock on `path` (created, and removed at the end) for the block, or stop with the line `busy`
    when another process holds it. The kernel drops a lock whose process dies, SIGKILL included. A lock taken on a
    file its holder has just removed is stale (another process may make and lock a new one): taken again."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = _lock_current_file(path, busy)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held, so no one locks the removed file unnoticed
        handle.close()


def _lock_current_file(path: Path, busy: str):
    import fcntl

    while True:
        handle = open(path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise UserError(busy) from None
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()   # the file was removed (and maybe made again) after we opened it


def check_alignment(source: str, file_index: np.ndarray, file_labels: np.ndarray,
                    index: np.ndarray, labels: np.ndarray, made_for: str = "") -> None:
    """Fail with one line saying how the file's examples and labels differ from the data's."""
    origin = f" (made for {made_for})" if made_for else ""
    if len(file_index) != len(index):
        raise UserError(f"{source}{origin} has {len(file_index)} examples but the training data has {len(index)}; "
                        f"use scores made with the same data config (data.name, train_size, val_size, seed)")
    if not np.array_equal(file_index, index):
        n = int((file_index != index).sum())
        raise UserError(f"{source}{origin} covers other examples: {n} of {len(index)} indices differ; "
                        f"use scores made with the same data config (data.train_size, data.val_size, data.seed)")
    bad = np.flatnonzero(file_labels != labels)
    if len(bad):
        raise UserError(f"{source}{origin} was made for other labels: {len(bad)} of {len(labels)} labels disagree "
                        f"(first at index {int(index[bad[0]])}); check data.label_noise and data.seed")
