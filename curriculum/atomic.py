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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")   # the name remove_stale_temporaries knows
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


def remove_stale_temporaries(folder: Path, name_glob: str) -> None:
    """Delete the temporary files that killed atomic_writes of files named like `name_glob` left in `folder`: those
    of processes no longer alive (a live one may be writing right now)."""
    for tmp in folder.glob(f".{name_glob}.*.tmp"):
        pid = tmp.name[:-len(".tmp")].rsplit(".", 1)[-1]
        if pid.isdigit() and not alive(int(pid)):
            tmp.unlink(missing_ok=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process
        return True
    return True
