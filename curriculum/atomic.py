"""Atomic writes, shared by the data cache and every file the later stages write: a killed run never leaves a
half file under the final name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from .faults import reach


def atomic_write(path: str | Path, write: Callable[[object], None]) -> Path:
    """Write through `write(file_object)` to a temporary name beside `path`, fsync, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        reach("write")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
