"""What scoring and training on ImageNet (1,281,167 training images) would take, from rates measured here and GPU
throughput published by NVIDIA:

    .venv/bin/python scripts/estimate_imagenet.py [--sizes 64,112,224] [--steps 3] [--batch 32]

Measured on this machine, per image size S (no ImageNet files exist here, so on stand-ins):
  decode   Pillow decoding a 500x375 RGB JPEG (ImageNet's typical size; a smooth random picture at quality 90) and
           resizing it to S x S, one process (data=folder does this once, in one DataLoader worker per core);
  read     random batches gathered from an S x S streamed file (data.stream=true, warm page cache);
  train    SGD steps of torchvision's resnet18 (model=torchvision model.name=resnet18) through the engine;
  record   its clean evaluation pass (what recording costs per example; documented as about 1/3 of a training
           pass).
Printed: the rates, then per S the uint8 bytes of the images (in memory data=folder holds them up to 3 times while
splitting; streamed, the file is the same size on disk), the one-time decode, an epoch, and the default score run
(4 members x 2 epochs, recording at 1/8, 1/4, 1/2, 1 and 2 epochs over the training set) on this CPU, and at 224 on
one GPU at the published ResNet-50 training throughput (resnet18 needs about 2.3x fewer FLOPs, so these are upper
bounds). Nothing here is measured on ImageNet or on a GPU."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from curriculum.data.folder import decode_image
from curriculum.data.stream import MappedImages, decode_workers
from curriculum.engine import Batches, Hooks, Inputs, OptimConfig, Schedule, predict_classes, train
from curriculum.models import create_model

N_TRAIN = 1_281_167
COPIES = 3               # curriculum/data/memory.py: the decoded images held up to 3 times while splitting
SCORE_EPOCHS = 2 * 4     # the default score run: 4 members x 2 epochs
RECORDINGS = 5 * 4       # checkpoints at 1/8, 1/4, 1/2, 1, 2 epochs, per member
RECORD_SHARE = 1 / 3     # a clean pass against a training pass (forward only)
PUBLISHED = {  # ResNet-50 v1.5 training images/s on one GPU, mixed precision: NVIDIA DeepLearningExamples
    "A100 80GB": 2470,   # (PyTorch/Classification/ConvNets/resnet50v1.5/README.md, pytorch-21.03 NGC container)
    "V100 16GB": 1200,
}


def imagenet_like_jpeg(folder: Path) -> Path:
    """A smooth random 500x375 RGB picture saved as JPEG at quality 90 (ImageNet's typical size and format)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((500, 375), Image.Resampling.BICUBIC)
    path = folder / "stand-in.jpg"
    image.save(path, quality=90)
    return path


def per_second(work, count: int, repeats: int = 3) -> float:
    """count / the median seconds of `work` over `repeats` runs, after one untimed run."""
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return count / statistics.median(times)


def decode_rate(jpeg: Path, size: int, count: int = 50) -> float:
    return per_second(lambda: [decode_image(jpeg, 3, size) for _ in range(count)], count)


def read_rate(folder: Path, size: int, images: int = 2000, batch: int = 128) -> float:
    array = np.lib.format.open_memmap(folder / f"read-{size}.npy", mode="w+", dtype=np.uint8,
                                      shape=(images, 3, size, size))
    array[:] = 7
    array.flush()
    x = MappedImages(np.load(folder / f"read-{size}.npy", mmap_mode="r"))
    batches = [torch.randint(0, images, (batch,)) for _ in range(20)]
    return per_second(lambda: [x[idx] for idx in batches], 20 * batch)


def model_rates(size: int, steps: int, batch: int) -> tuple[float, float]:
    """(training, recording) images/s of torchvision's resnet18 on random S x S uint8 images."""
    x = torch.randint(0, 256, (steps * batch, 3, size, size), dtype=torch.uint8)
    y = torch.randint(0, 1000, (steps * batch,))
    model = create_model("torchvision/resnet18", (3, size, size), 1000, init_seed=0)
    inputs = Inputs((0.5,) * 3, (0.25,) * 3, "cpu")

    def fit():
        order = (torch.arange(s * batch, (s + 1) * batch) for s in range(steps))
        train(model, Batches(x, y, inputs, order), Schedule(OptimConfig(), steps), Hooks())

    trained = per_second(fit, steps * batch, repeats=1)
    recorded = per_second(lambda: predict_classes(model, x, inputs, batch), steps * batch, repeats=1)
    return trained, recorded


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="64,112,224", help="image sizes S (S x S pixels)")
    parser.add_argument("--steps", type=int, default=3, help="resnet18 steps timed per size")
    parser.add_argument("--batch", type=int, default=32, help="resnet18 batch")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    workers = decode_workers()   # data=folder decodes in one DataLoader worker per core, at most 8
    folder = Path(tempfile.mkdtemp(prefix="estimate-imagenet-"))
    jpeg = imagenet_like_jpeg(folder)
    print(f"# {cores} cores, torch threads {torch.get_num_threads()}, {time.strftime('%Y-%m-%d')}; "
          f"stand-in JPEG {jpeg.stat().st_size // 1000} KB; resnet18 batch {args.batch}, {args.steps} steps")
    print(f"{'S':>4s} {'decode img/s':>13s} {'read img/s':>11s} {'train img/s':>12s} {'record img/s':>13s} "
          f"{'uint8 GB':>9s} {'in memory GB':>13s} {'decode once':>12s} {'epoch, CPU':>11s} {'score run, CPU':>15s}")
    for size in (int(s) for s in args.sizes.split(",")):
        decoded, read = decode_rate(jpeg, size), read_rate(folder, size)
        trained, recorded = model_rates(size, args.steps, args.batch)
        pixels = N_TRAIN * 3 * size * size
        epoch = N_TRAIN / trained
        score = SCORE_EPOCHS * epoch + RECORDINGS * N_TRAIN / recorded
        print(f"{size:4d} {decoded:13.0f} {read:11.0f} {trained:12.1f} {recorded:13.1f} {pixels / 1e9:9.1f} "
              f"{COPIES * pixels / 1e9:13.1f} {hours(N_TRAIN / (decoded * workers)):>12s} {hours(epoch):>11s} "
              f"{hours(score):>15s}")
    print("# at 224 on one GPU, at NVIDIA's published ResNet-50 mixed-precision training throughput (upper bounds "
          f"for resnet18); recording counted as {RECORD_SHARE:.2f} of a training pass:")
    for gpu, rate in PUBLISHED.items():
        epoch = N_TRAIN / rate
        score = SCORE_EPOCHS * epoch + RECORDINGS * RECORD_SHARE * epoch
        print(f"{gpu}: {rate} img/s; epoch {hours(epoch)}; score run {hours(score)}; streamed reads needed "
              f"{rate * 3 * 224 * 224 / 1e6:.0f} MB/s")


if __name__ == "__main__":
    main()
