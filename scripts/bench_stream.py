"""Streamed folder data (data.stream=true) against the same folder held in memory (data.stream=false), in one run:

    .venv/bin/python scripts/bench_stream.py [--n 20000] [--steps 300] [--repeats 3] [--dir /tmp/fmnist-png]

Writes the first --n real Fashion-MNIST training images and 2,000 test images as PNG (ImageFolder layout), then
  decode     the first load of each path with no cache: the in-memory path decodes in this process, the streamed one
             in DataLoader worker processes into the memory-mapped file (one per core, at most 8);
  read       random batches of 128 images gathered from the training split (x[idx]): the I/O alone;
  train      --steps SGD steps of the default cnn through the engine, batches of 128;
  record     three clean recording passes (every statistic) over the training split.
Printed: images (examples) per second of each path, medians of --repeats interleaved repeats after one untimed
round, and streamed / held.
The streamed file is read through the OS page cache, warm after the first pass here (the machine's memory holds it);
a set larger than memory reads from disk at the disk's random-read rate. Needs Debian's dataset-fashion-mnist."""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from curriculum.batches import shuffled_batches
from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import Batches, Hooks, Inputs, OptimConfig, Schedule, predict, train
from curriculum.models import create_model
from curriculum.seeding import torch_generator

BATCH = 128


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def first_loads(root: Path) -> dict:
    """Seconds of each path's first load (decoding every image), the cache removed before each."""
    seconds = {}
    for stream in (False, True):
        shutil.rmtree(root / ".curriculum-cache", ignore_errors=True)
        seconds[stream] = timed(lambda: load_data(DataConfig(name="folder", root=str(root), stream=stream)))
    return seconds


def read_batches(data, steps: int) -> None:
    batches = shuffled_batches(len(data.train), BATCH, torch_generator(0, "order"))
    for _, idx in zip(range(steps), batches):
        data.train.x[idx]


def train_steps(data, steps: int) -> None:
    model = create_model("cnn", data.input_shape, data.num_classes, init_seed=0)
    batches = Batches(data.train.x, data.train.y, Inputs(data.mean, data.std, "cpu"),
                      shuffled_batches(len(data.train), BATCH, torch_generator(0, "order")))
    train(model, batches, Schedule(OptimConfig(), steps), Hooks())


def record_pass(data) -> None:
    model = create_model("cnn", data.input_shape, data.num_classes, init_seed=0)
    predict(model, data.train.x, data.train.y, Inputs(data.mean, data.std, "cpu"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="training images written as PNG (at most 60,000)")
    parser.add_argument("--steps", type=int, default=300, help="training steps (and read batches) per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; medians are printed")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the PNGs (default: a temp folder)")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-stream-"))
    sys.path.insert(0, str(Path(__file__).parent))
    from export_fashion_mnist import write_images   # the sibling script

    write_images(root, min(args.n, 60000), 2000)
    decode = first_loads(root)
    held, streamed = (load_data(DataConfig(name="folder", root=str(root), stream=s)) for s in (False, True))
    n = len(held.train)
    work = {"read": (lambda d: read_batches(d, args.steps), args.steps * BATCH),
            "train": (lambda d: train_steps(d, args.steps), args.steps * BATCH),
            "record": (lambda d: [record_pass(d) for _ in range(3)], 3 * n)}
    times = {(name, s): [] for name in work for s in (False, True)}
    for run, _ in work.values():   # warm-up, untimed: thread pools, allocator, the page cache of the file
        run(held), run(streamed)
    for _ in range(args.repeats):
        for name, (run, _) in work.items():
            for stream, data in ((False, held), (True, streamed)):
                times[name, stream].append(timed(lambda: run(data)))
    print(f"# {n} training images (28x28 PNG, real Fashion-MNIST), batch {BATCH}, torch threads "
          f"{torch.get_num_threads()}, medians of {args.repeats} interleaved repeats")
    print(f"{'':8s} {'held img/s':>12s} {'streamed img/s':>15s} {'streamed/held':>14s}")
    images = len(held.train) + len(held.val) + len(held.test)   # every image of both splits is decoded
    print(row("decode", images / decode[False], images / decode[True]))
    for name, (_, count) in work.items():
        print(row(name, count / statistics.median(times[name, False]), count / statistics.median(times[name, True])))
    if args.dir is None:
        shutil.rmtree(root)


def row(name: str, held: float, streamed: float) -> str:
    return f"{name:8s} {held:12.0f} {streamed:15.0f} {streamed / held:13.2f}x"


if __name__ == "__main__":
    main()
