"""Real Fashion-MNIST as a user's data would come: PNG files in the ImageFolder layout (data=folder) and, optionally,
the same images as a .npz of arrays (data=arrays), for trying those loaders and for the docs' example:

    .venv/bin/python scripts/export_fashion_mnist.py --train 3000 --test 500 --out outputs/fmnist-png --npz outputs/fmnist.npz

Writes the first --train training and --test test images as <out>/<split>/<class name>/<number>.png (no test/
folder when --test is 0), and to --npz the same images in the order data=folder indexes them (each split's sorted
relative paths), so that both loaders give the same examples under the same index. Needs Debian's
dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

def write_images(out: Path, n_train: int, n_test: int) -> dict[str, tuple]:
    """Write the PNGs; returns split -> (relative paths, images (N, 1, 28, 28), labels as data=folder numbers them),
    in the order of the split's sorted relative paths."""
    from curriculum.data.export import FASHION_MNIST_CLASSES, debian_fashion_mnist, write_image_folder

    found = debian_fashion_mnist()
    if found is None:
        sys.exit("Fashion-MNIST is not in /usr/share/datasets/fashion-mnist; apt-get install dataset-fashion-mnist")
    x_train, y_train, x_test, y_test = found
    splits = {"train": (x_train[:n_train], y_train[:n_train])} | (
        {"test": (x_test[:n_test], y_test[:n_test])} if n_test else {})
    return write_image_folder(out, splits, FASHION_MNIST_CLASSES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=60000, help="training images (the first ones)")
    parser.add_argument("--test", type=int, default=10000, help="test images (0: no test/ folder)")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (data.root)")
    parser.add_argument("--npz", type=Path, default=None, help="also write the same images as arrays here")
    args = parser.parse_args()
    written = write_images(args.out, args.train, args.test)
    print(f"wrote {args.train} training and {args.test} test images to {args.out}")
    if args.npz is not None:
        if args.test == 0:
            sys.exit("--npz needs test images: data=arrays reads x_test and y_test")
        args.npz.parent.mkdir(parents=True, exist_ok=True)
        (_, x_train, y_train), (_, x_test, y_test) = written["train"], written["test"]
        np.savez(args.npz, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        print(f"wrote the same images as arrays to {args.npz}")


if __name__ == "__main__":
    main()
