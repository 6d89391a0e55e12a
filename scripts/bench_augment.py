"""What augmentation costs per training step, on real Fashion-MNIST, in one run:

    .venv/bin/python scripts/bench_augment.py [--steps 100] [--repeats 5] [--model cnn] [--batch 128]

For each of augment=none, crop and flip_crop (pad 4), the median over --repeats interleaved repeats of the wall
time of --steps steps of the one training loop (engine.train: batch gather, augmentation, normalisation,
forward, backward, SGD), and the time of the augmentation alone on the same batches. Printed: ms per step, the
augmentation's ms per batch, and each as a share of the `none` step measured in the same run."""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from curriculum.batches import shuffled_batches
from curriculum.data.augment import AugmentConfig, batch_transform
from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import Batches, Inputs, OptimConfig, Schedule, train
from curriculum.models import create_model
from curriculum.seeding import torch_generator

AUGMENTS = ("none", "crop", "flip_crop")


def step_ms(data, arch: str, augment: str, steps: int, batch: int) -> float:
    """Milliseconds per training step with `augment`, from a fresh model (the same seeds for every setting)."""
    model = create_model(arch, data.input_shape, data.num_classes, init_seed=0)
    hook = batch_transform(AugmentConfig(augment), seed=0)
    indices = shuffled_batches(len(data.train), batch, torch_generator(0, "order"))
    batches = Batches(data.train.x, data.train.y, Inputs(data.mean, data.std, "cpu"), indices, hook)
    start = time.perf_counter()
    train(model, batches, Schedule(OptimConfig(), steps))
    return (time.perf_counter() - start) / steps * 1e3


def augment_ms(data, augment: str, steps: int, batch: int) -> float:
    """Milliseconds per batch of the augmentation alone (gather included, as in the loop)."""
    hook = batch_transform(AugmentConfig(augment), seed=0)
    indices = shuffled_batches(len(data.train), batch, torch_generator(0, "order"))
    start = time.perf_counter()
    for step, idx in zip(range(steps), indices):
        images = data.train.x[idx]
        if hook is not None:
            hook(images, step)
    return (time.perf_counter() - start) / steps * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    data = load_data(DataConfig(name="fashion_mnist", train_size=20000, val_size=5000))
    step_ms(data, args.model, "flip_crop", 10, args.batch)                       # warm-up
    steps = {a: [] for a in AUGMENTS}
    alone = {a: [] for a in AUGMENTS}
    for _ in range(args.repeats):                                               # interleaved: same noise for each
        for a in AUGMENTS:
            steps[a].append(step_ms(data, args.model, a, args.steps, args.batch))
            alone[a].append(augment_ms(data, a, args.steps, args.batch))
    base, gather = statistics.median(steps["none"]), statistics.median(alone["none"])
    print(f"{args.model}, batch {args.batch}, {args.steps} steps x {args.repeats} repeats, "
          f"{torch.get_num_threads()} threads (medians)")
    print(f"{'augment':10} {'ms/step':>8} {'vs none':>8} {'augment ms/batch':>17} {'share of a none step':>21}")
    for a in AUGMENTS:
        step, cost = statistics.median(steps[a]), statistics.median(alone[a]) - gather
        print(f"{a:10} {step:8.2f} {step / base:8.3f} {cost:17.3f} {cost / base:21.1%}")


if __name__ == "__main__":
    main()
