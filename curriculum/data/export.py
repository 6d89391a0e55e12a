"""Arrays written out as a user's image folder (data=folder's layout), for trying the folder loader on real images:
scripts/export_fashion_mnist.py, scripts/bench_folder_cache.py and the folder tests write Fashion-MNIST this way."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .datasets import DEBIAN_FASHION_MNIST, idx_dataset

FASHION_MNIST_CLASSES = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                         "boot"]


def debian_fashion_mnist():
    """(x_train, y_train, x_test, y_test) of Debian's dataset-fashion-mnist, or None when it is not installed."""
    return idx_dataset([DEBIAN_FASHION_MNIST])


def write_image_folder(out: Path, splits: dict, class_names: list[str]) -> dict[str, tuple]:
    """Write split -> (x (N, C, H, W) uint8, y) as out/<split>/<class name>/<number>.png. Returns split -> (relative
    paths, images, labels) in the order data=folder indexes them (sorted paths) and with its labels (the position
    of the class folder among the sorted names), so data=arrays can be given the very same examples."""
    from PIL import Image

    folder_label = {name: k for k, name in enumerate(sorted(class_names))}
    written = {}
    for split, (x, y) in splits.items():
        rows = []
        for k, (image, label) in enumerate(zip(x, y)):
            rel = f"{split}/{class_names[label]}/{k:05d}.png"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)).save(out / rel)
            rows.append((rel, k, folder_label[class_names[label]]))
        rows.sort()
        order = np.array([k for _, k, _ in rows], dtype=np.int64)
        written[split] = ([rel for rel, _, _ in rows], x[order], np.array([lab for _, _, lab in rows], dtype=np.int64))
    return written
