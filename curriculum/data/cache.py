"""The decoded images of a folder, cached as one .npz so that the second run loads in about a second. The file's
name is a hash of everything decoding depends on (each file's relative path, label, size, mtime, ctime and inode,
the decode settings, the Pillow version), so any change to the folder or the settings is a new name: a stale cache
is never read."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_write, remove_stale_temporaries
from ..errors import UserError

DEFAULT_DIR = ".curriculum-cache"   # inside data.root, unless data.cache_dir says otherwise
FORMAT = 1                          # bump when the cached arrays change meaning


def cache_key(files: list[tuple], settings: dict) -> str:
    """Hash of the decode settings and every file's tuple (for data=folder: relative path, label, bytes, mtime and
    ctime in ns, inode)."""
    from PIL import __version__ as pillow_version

    h = hashlib.sha256(json.dumps({"format": FORMAT, "pillow": pillow_version, **settings}, sort_keys=True).encode())
    for fields in files:
        h.update("\0".join(map(str, fields)).encode() + b"\n")
    return h.hexdigest()[:20]


def cache_path(root: Path, cache_dir: str | None, key: str) -> Path:
    """<cache folder>/<tag of the resolved root>-<key>.npz: several roots can share one data.cache_dir."""
    folder = Path(cache_dir).expanduser() if cache_dir else root / DEFAULT_DIR
    return folder / f"{_root_tag(root)}-{key}.npz"


def _root_tag(root: Path) -> str:
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]


def load_cache(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The cached arrays `names`, or None when there is no readable cache holding them all (a damaged one is
    decoded again)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return {name: f[name] for name in names}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def check_writable(path: Path) -> None:
    """Said before decoding: a cache that cannot be written would make every run decode again."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the image cache folder {folder} ({err.strerror}); set data.cache_dir to a "
                        f"writable folder") from None
    if not os.access(folder, os.W_OK):
        raise UserError(f"the image cache folder {folder} is not writable; set data.cache_dir to a writable folder")


def save_cache(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write atomically, then delete this root's caches of older versions of the folder, and what killed writes of
    them left."""
    atomic_write(path, lambda f: np.savez(f, **arrays))
    tag = path.name.split('-')[0]
    version = path.name.split(".")[0]
    for pattern in (f"{tag}-*.npz", f"{tag}-*.images.npy"):   # data/stream.py's images beside the labels
        for old in path.parent.glob(pattern):
            if not old.name.startswith(version):   # other versions; the same version's other files stay
                old.unlink(missing_ok=True)
        remove_stale_temporaries(path.parent, pattern)
    return path
