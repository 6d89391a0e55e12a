"""First and second load of a folder of images (data=folder): decoding against the cache.

    .venv/bin/python scripts/bench_folder_cache.py [--n 70000] [--repeats 3] [--dir /tmp/fmnist-png]

Writes the first --n real Fashion-MNIST images (default: the 60,000 training and 10,000 test images; train/ gets
the training images first) as PNG in the ImageFolder layout (scripts/export_fashion_mnist.py), then times
`load_data(data=folder)` in fresh processes: once with no cache (every image decoded, the cache written), then --repeats times with the cache, and
prints the decode time, the median cache time and their ratio. Needs Debian's dataset-fashion-mnist."""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIMED = """
import sys, time
from curriculum.data.datasets import DataConfig, load_data
started = time.perf_counter()
data = load_data(DataConfig(name="folder", root=sys.argv[1], val_size=None))
print(time.perf_counter() - started, len(data.train) + len(data.val) + len(data.test))
"""


def timed_load(root: Path) -> tuple[float, int]:
    """Seconds load_data took in a fresh process (no warm Python caches), and the images it loaded."""
    out = subprocess.run([sys.executable, "-c", TIMED, str(root)], check=True, capture_output=True, text=True).stdout
    seconds, images = out.split()
    return float(seconds), int(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=70000, help="images to write (60,000 train, then up to 10,000 test)")
    parser.add_argument("--repeats", type=int, default=3, help="cached loads; their median is reported")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the PNGs (default: a temp folder)")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-folder-"))
    started = time.perf_counter()
    from export_fashion_mnist import write_images   # the sibling script (scripts/ is on the path when run)

    n_train = min(args.n, 60000)
    write_images(root, n_train, args.n - n_train)
    print(f"wrote {args.n} PNGs to {root} in {time.perf_counter() - started:.1f}s", flush=True)
    shutil.rmtree(root / ".curriculum-cache", ignore_errors=True)
    decode, images = timed_load(root)
    print(f"first load (decode {images} images, write the cache): {decode:.2f}s", flush=True)
    cached = [timed_load(root)[0] for _ in range(args.repeats)]
    median = statistics.median(cached)
    print(f"second load (cache), median of {args.repeats}: {median:.2f}s ({', '.join(f'{s:.2f}' for s in cached)})")
    cache_bytes = sum(f.stat().st_size for f in (root / ".curriculum-cache").iterdir())
    print(f"decode / cache: {decode / median:.1f}x; cache file {cache_bytes / 1e6:.0f} MB")
    if args.dir is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
