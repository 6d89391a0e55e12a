"""Will the decoded dataset fit? Estimated before decoding anything, so a dataset too large for this machine is one
line naming the bytes needed, not a crash (or swap storm) minutes later."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError

# load_data holds the decoded images and, while it splits them, a copy of the training subset and the test split;
# a folder without test/ (and an NHWC .npz) adds one more copy while the hold-out (or the transpose) is made.
COPIES = 3


def available_bytes(cgroup: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Memory this process can still take: MemAvailable, capped by a cgroup (v2) limit; None when unknown."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        if hasattr(os, "sysconf") and "SC_AVPHYS_PAGES" in os.sysconf_names:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    left = cgroup_left(cgroup)
    found += [] if left is None else [left]
    return min(found) if found else None


def cgroup_left(cgroup: Path) -> int | None:
    """A cgroup v2 limit less what the group uses, not counting inactive file cache (memory.current counts the page
    cache, which the kernel reclaims before it refuses memory: right after reading a large dataset, the cache alone
    would otherwise look like a full machine); None without a limit."""
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        if limit == "max":
            return None
        stat = dict(line.split() for line in (cgroup / "memory.stat").read_text().splitlines() if line.strip())
        used = int((cgroup / "memory.current").read_text()) - int(stat.get("inactive_file", 0))
        return int(limit) - used
    except (OSError, ValueError):
        return None


def gigabytes(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def fits(pixel_bytes: int, available: int | None = None) -> bool:
    """Whether COPIES x `pixel_bytes` fit in the available memory (True when it is unknown)."""
    available = available_bytes() if available is None else available
    return available is None or COPIES * pixel_bytes <= available


def check_fits(pixel_bytes: int, what: str, fix: str, available: int | None = None) -> None:
    """Raise UserError when COPIES x `pixel_bytes` (uint8 pixels of every image) exceed the available memory.
    `what` describes the images, `fix` says how to need less."""
    available = available_bytes() if available is None else available
    needed = COPIES * pixel_bytes
    if not fits(pixel_bytes, available):
        raise UserError(f"{what} need about {gigabytes(needed)} of memory ({gigabytes(pixel_bytes)} of uint8 pixels, "
                        f"held up to {COPIES} times while splitting) but {gigabytes(available)} are available; {fix}")
