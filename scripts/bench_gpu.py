"""Ready for a GPU: the package's scoring and training throughput against the standard PyTorch recipe, and the
CIFAR-10 ResNet-18 preset's time per epoch, in one run:

    python scripts/bench_gpu.py [--device auto|cpu|cuda] [--steps 300] [--repeats 3] [--members 4] [--json PATH]
    python scripts/bench_gpu.py --quick     # tiny sizes, any machine: checks the output's shape, measures nothing

The data are random uint8 images made in memory, 10 classes (no dataset files are read): 1x28x28 (Fashion-MNIST's
shape, the score and train commands' default data and model `cnn`) for the score and train rows, 3x32x32 (CIFAR-10's
shape; no CIFAR files exist on the development machine) for the preset. Each row is a timed run of --steps optimizer
steps at batch --batch, ours against the recipe, medians of --repeats repeats interleaved over all runs:
  score fp32        one member with clean-pass recording at score's checkpoints (2 epochs: 1/8, 1/4, 1/2, 1, 2;
                    a test split half the training split), train_member;
  score bf16        the same under bf16 autocast (precision=bf16);
  score batched     --members members stacked with vmap (ensemble.batched=true, train_members_batched), fp32;
  train fp32, bf16  the target's `train` stage (train_target, iid batches, one evaluation of one batch at the end);
  preset            conf/experiment/cifar10_resnet18.yaml as the train command composes it (resnet18 in its CIFAR
                    form, flip+crop, SGD lr 0.1, batch 128, precision auto), and its time per epoch of 45,000
                    images extrapolated from the --steps timed.
The recipe (scripts/bench_throughput.py recipe_loop) is torchvision-style: PIL images through ToTensor/Normalize
(and RandomCrop/RandomHorizontalFlip for the preset), a shuffled DataLoader (--workers processes and pinned memory
on a GPU), the same model in NCHW, batch, optimizer and steps, the same precision, and for the score rows a
recording pass over both splits at the same checkpoints; against batched members, its members run one at a time.
Printed: device name, torch version, date; for each row examples x members per second of ours and of the recipe and
the ratio ours / recipe; the preset's seconds per epoch. bf16 rows are skipped on CPU (autocast bf16 is GPU-only
here: engine.resolve_precision refuses it), with a line saying so. --json PATH writes the same figures."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from bench_throughput import recipe_loop   # the standard recipe, shared with the CPU benchmark

from curriculum.batches import steps_per_epoch
from curriculum.data.augment import AugmentConfig
from curriculum.data.datasets import Data, Split, channel_mean_std
from curriculum.engine import OptimConfig, resolve_device, resolve_precision
from curriculum.errors import UserError
from curriculum.io.tracking import git_commit
from curriculum.models import create_model
from curriculum.schedule.target import EvalConfig, TargetConfig, train_target
from curriculum.scoring.batched import train_members_batched
from curriculum.scoring.ensemble import Member, RecordingConfig, train_member

CLASSES = 10
SCORE_SHAPE = (1, 28, 28)    # (C, H, W): Fashion-MNIST's, the score and train commands' default data
CIFAR_SHAPE = (3, 32, 32)
PRESET = "cifar10_resnet18"
EPOCH_IMAGES = 45000         # the preset's epoch: CIFAR-10's 50,000 training images less 5,000 for validation
SCORE_EPOCHS = RecordingConfig().epochs   # score's default: the score rows' steps are cut into this many epochs
GPU_BF16_ONLY = "bf16 autocast is GPU-only here (engine.resolve_precision refuses precision=bf16 on cpu)"
UNIT = "examples*members/s"


@dataclass(frozen=True)
class Sizes:
    steps: int      # optimizer steps of each timed run
    repeats: int    # interleaved repeats; medians reported
    batch: int      # examples per step (the preset's is 128)
    members: int    # stacked members of the batched score row
    quick: bool     # tiny sizes: the output's shape, no measurement


FULL = Sizes(steps=300, repeats=3, batch=128, members=4, quick=False)
QUICK = Sizes(steps=2, repeats=1, batch=2, members=2, quick=True)


@dataclass(frozen=True)
class Case:
    """One row: our run and the recipe's (each a call whose wall time is measured), and the examples x members each
    trains on. Rows with the same recipe_key share one recipe measurement."""
    name: str
    ours: Callable[[], object]
    recipe: Callable[[], object]
    recipe_key: str
    ours_examples: int
    recipe_examples: int
    skipped: str = ""    # why this row is not run on this device; "" runs it


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--steps", type=int, help=f"optimizer steps per timed run ({FULL.steps}; quick {QUICK.steps})")
    parser.add_argument("--repeats", type=int, help=f"interleaved repeats, medians ({FULL.repeats}; quick 1)")
    parser.add_argument("--batch", type=int, help=f"examples per step ({FULL.batch}, the preset's; quick 2)")
    parser.add_argument("--members", type=int, help=f"members of the batched score row ({FULL.members}; quick 2)")
    parser.add_argument("--workers", type=int, help="the recipe's DataLoader processes (cuda: min(8, CPUs); cpu 0)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the default on cpu): a check of the output")
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace, device: torch.device) -> Sizes:
    """--quick, or cpu without --steps, starts from the tiny sizes; any size given on the command line wins."""
    base = QUICK if args.quick or (device.type == "cpu" and args.steps is None) else FULL
    given = {key: getattr(args, key) for key in ("steps", "repeats", "batch", "members")}
    for key, least in (("steps", SCORE_EPOCHS), ("repeats", 1), ("batch", 1), ("members", 1)):
        if given[key] is not None and given[key] < least:
            raise UserError(f"--{key}={given[key]} must be at least {least}"
                            + (" (the score rows cut the steps into score's 2 epochs)" if key == "steps" else ""))
    return replace(base, **{key: value for key, value in given.items() if value is not None})


# Data

def synthetic_data(name: str, shape: tuple[int, int, int], n_train: int, n_test: int, device) -> Data:
    """Random uint8 images and labels of `shape`, from a local generator, as a Data on `device`."""
    generator = torch.Generator().manual_seed(0)

    def split(n: int) -> Split:
        x = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=generator)
        return Split(x, torch.randint(0, CLASSES, (n,), generator=generator), torch.arange(n))

    train, test = split(n_train), split(n_test)
    mean, std = channel_mean_std(train.x.numpy())
    return Data(name, CLASSES, mean, std, train, split(0), test, train.y.numpy(), np.zeros(n_train, dtype=bool),
                f"{name}-{n_train}-{n_test}").to(device)


class ImageArrays(torch.utils.data.Dataset):
    """A split held as torchvision's CIFAR10 and MNIST hold theirs (uint8 (N, H, W, C) or (N, H, W) arrays), each
    example made a PIL image and passed through `transform` on access, as theirs are."""

    def __init__(self, split: Split, transform):
        images = split.x.cpu().numpy().transpose(0, 2, 3, 1)                      # (N, H, W, C)
        self.images = np.ascontiguousarray(images[..., 0] if images.shape[-1] == 1 else images)
        self.labels = split.y.cpu().tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), self.labels[i]


def recipe_sets(data: Data, augment: bool) -> tuple[ImageArrays, ImageArrays]:
    """The recipe's train and test datasets over `data`: ToTensor + Normalize, after RandomCrop (pad 4) and
    RandomHorizontalFlip for the training images when `augment`."""
    from torchvision import transforms

    last = [transforms.ToTensor(), transforms.Normalize(data.mean, data.std)]
    first = [transforms.RandomCrop(data.input_shape[-1], padding=4), transforms.RandomHorizontalFlip()]
    return (ImageArrays(data.train, transforms.Compose(first * augment + last)),
            ImageArrays(data.test, transforms.Compose(last)))


# Rows

@dataclass(frozen=True)
class Bench:
    """What every row shares: the sizes, the device, the recipe's DataLoader processes."""
    sizes: Sizes
    device: torch.device
    workers: int


def score_cases(bench: Bench) -> list[Case]:
    """One member with recording, in fp32 and bf16, and stacked members (fp32), against the recipe."""
    batch, per_epoch = bench.sizes.batch, bench.sizes.steps // SCORE_EPOCHS
    n = per_epoch * batch
    data = synthetic_data("synthetic-fmnist-shaped", SCORE_SHAPE, n, max(1, n // 2), bench.device)
    train_set, test_set = recipe_sets(data, augment=False)
    examples, optim = SCORE_EPOCHS * n, OptimConfig()
    members = [Member(k, "cnn", k) for k in range(bench.sizes.members)]
    cases = []
    for precision in ("fp32", "bf16"):
        rec = RecordingConfig(batch_size=batch, precision=precision, augment=AugmentConfig("none"))
        recipe = recipe_run(bench, "cnn", data, train_set, (train_set, test_set), epochs=SCORE_EPOCHS, record=True,
                            precision=precision, optim=optim)
        ours = partial(train_member, members[0], data, rec, optim, label="[score]")
        cases.append(Case(f"score {precision}", ours, recipe, f"score {precision}", examples, examples,
                          unavailable(precision, bench.device)))
    rec = RecordingConfig(batch_size=batch, augment=AugmentConfig("none"))
    ours = partial(train_members_batched, members, data, rec, optim, label="[score batched]")
    cases.append(Case("score batched fp32", ours, cases[0].recipe, "score fp32",
                      len(members) * examples, examples))   # the recipe's members run one at a time
    return cases


def train_cases(bench: Bench) -> list[Case]:
    """The target's train stage (iid batches, no augmentation, as on Fashion-MNIST) against the recipe."""
    examples, batch = bench.sizes.steps * bench.sizes.batch, bench.sizes.batch
    data = synthetic_data("synthetic-fmnist-shaped", SCORE_SHAPE, examples, batch, bench.device)
    train_set, _ = recipe_sets(data, augment=False)
    optim, cases = OptimConfig(), []
    for precision in ("fp32", "bf16"):
        target = TargetConfig(arch="cnn", epochs=1, batch_size=batch, eval=EvalConfig(per_epoch=1),
                              precision=precision, augment=AugmentConfig("none"))
        recipe = recipe_run(bench, "cnn", data, train_set, precision=precision, optim=optim)
        cases.append(Case(f"train {precision}", partial(train_target, data, target, optim, label="[train]"), recipe,
                          f"train {precision}", examples, examples, unavailable(precision, bench.device)))
    return cases


def preset_case(bench: Bench) -> tuple[Case, TargetConfig]:
    """The preset's train stage for one epoch of --steps steps, on CIFAR-shaped data, against the CIFAR recipe."""
    target, optim = preset_config(bench.sizes.batch, bench.device)
    examples = bench.sizes.steps * target.batch_size
    data = synthetic_data("synthetic-cifar10-shaped", CIFAR_SHAPE, examples, target.batch_size, bench.device)
    train_set, _ = recipe_sets(data, augment=target.augment.name != "none")
    recipe = recipe_run(bench, target.arch, data, train_set, precision=target.precision, optim=optim)
    ours = partial(train_target, data, target, optim, label="[preset]")
    return Case(f"preset {PRESET}", ours, recipe, "preset", examples, examples), target


def preset_config(batch: int, device: torch.device) -> tuple[TargetConfig, OptimConfig]:
    """conf/experiment/cifar10_resnet18.yaml as the train command composes it, unpacked for one epoch."""
    from omegaconf import OmegaConf

    from curriculum.config import compose_config

    cfg = compose_config("train", [f"+experiment={PRESET}", f"batch_size={batch}"])
    target = TargetConfig(arch=OmegaConf.to_object(cfg.model).arch, epochs=1, batch_size=int(cfg.batch_size),
                          eval=EvalConfig(per_epoch=1), precision=resolve_precision(str(cfg.precision), device),
                          augment=OmegaConf.to_object(cfg.augment))
    return target, OmegaConf.to_object(cfg.optim)


def recipe_run(bench: Bench, arch: str, data: Data, train_set, eval_sets=(), *, epochs: int = 1, record: bool = False,
               precision: str, optim: OptimConfig) -> Callable[[], float]:
    """A call running the recipe once from a freshly initialised model: `epochs` over train_set and, with
    `record`, recording passes over eval_sets at score's checkpoints."""
    def run() -> float:
        model = create_model(arch, data.input_shape, data.num_classes, init_seed=0)
        return recipe_loop(model, train_set, eval_sets, epochs=epochs, batch=bench.sizes.batch, optim=optim,
                           record=record, device=bench.device, precision=precision, workers=bench.workers)
    return run


def unavailable(precision: str, device: torch.device) -> str:
    """Why a row of `precision` is skipped on `device`, or "" when it runs."""
    return GPU_BF16_ONLY if precision == "bf16" and device.type != "cuda" else ""


# Measurement

def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Wall seconds of fn(), the device synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(cases: list[Case], repeats: int, device: torch.device) -> dict[str, float]:
    """Median wall seconds of every distinct run ("ours NAME", "recipe KEY"), repeats interleaved over all runs so
    that a noisy stretch (or the first repeat's warm-up) hits every run alike."""
    runs = {}
    for case in (c for c in cases if not c.skipped):
        runs[f"ours {case.name}"] = case.ours
        runs.setdefault(f"recipe {case.recipe_key}", case.recipe)
    samples = {key: [] for key in runs}
    for _ in range(repeats):
        for key, fn in runs.items():
            samples[key].append(timed(fn, device))
    return {key: statistics.median(values) for key, values in samples.items()}


def rows(cases: list[Case], seconds: dict[str, float]) -> dict[str, dict]:
    """Examples x members per second of ours and of the recipe, and their ratio, for each case."""
    out = {}
    for case in cases:
        if case.skipped:
            out[case.name] = {"skipped": case.skipped}
            continue
        ours = case.ours_examples / seconds[f"ours {case.name}"]
        recipe = case.recipe_examples / seconds[f"recipe {case.recipe_key}"]
        out[case.name] = {"ours": ours, "recipe": recipe, "ratio": ours / recipe, "unit": UNIT}
    return out


def preset_epoch(case: Case, target: TargetConfig, timed_steps: int, seconds: dict[str, float]) -> dict:
    """Seconds per epoch of EPOCH_IMAGES (its full batches), extrapolated from the `timed_steps` of `case`."""
    steps = steps_per_epoch(EPOCH_IMAGES, target.batch_size)
    per_step = {who: seconds[f"{who} {key}"] / timed_steps for who, key in (("ours", case.name),
                                                                           ("recipe", case.recipe_key))}
    return {"images": EPOCH_IMAGES, "steps": steps, "batch": target.batch_size, "timed_steps": timed_steps,
            "precision": target.precision, "augment": target.augment.name, "data": "synthetic, CIFAR-shaped",
            "ours_s": per_step["ours"] * steps, "recipe_s": per_step["recipe"] * steps}


# Report

def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")] if cpuinfo.exists() else []
    return f"{names[0] if names else platform.processor() or 'CPU'} (torch threads: {torch.get_num_threads()})"


def header(bench: Bench) -> dict:
    """What ran where: device, torch, date, commit, sizes, the data."""
    return {"device": device_name(bench.device), "device_type": bench.device.type, "torch": torch.__version__,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": git_commit(),
            "sizes": asdict(bench.sizes), "workers": bench.workers,
            "data": "random uint8 images made in memory, 10 classes: 1x28x28 (Fashion-MNIST's shape) for score and "
                    "train, 3x32x32 (CIFAR-10's shape; no CIFAR files exist here) for the preset"}


def print_report(report: dict) -> None:
    table, epoch, sizes = report["rows"], report["preset"], report["sizes"]
    print(f"# {report['device']}, torch {report['torch']}, {report['date']}, commit {report['commit']}")
    print(f"# data: {report['data']}")
    print(f"# steps={sizes['steps']} per run, batch={sizes['batch']}, repeats={sizes['repeats']} (medians, "
          f"interleaved), batched members={sizes['members']}, recipe DataLoader workers={report['workers']}")
    if sizes["quick"]:
        print("# quick sizes: a check of the output's shape, not a measurement")
    print(f"{'row':<24} {'ours ' + UNIT:>26} {'recipe':>10} {'ours/recipe':>12}")
    for name, row in table.items():
        if "skipped" in row:
            print(f"{name:<24} skipped: {row['skipped']}")
        else:
            print(f"{name:<24} {rate(row['ours']):>26} {rate(row['recipe']):>10} {row['ratio']:>11.2f}x")
    print(f"preset {PRESET}: one epoch of {epoch['images']} images ({epoch['steps']} steps x {epoch['batch']}, "
          f"{epoch['precision']}, augment {epoch['augment']}): ours {epoch['ours_s']:.1f} s, recipe "
          f"{epoch['recipe_s']:.1f} s; extrapolated from {epoch['timed_steps']} steps on synthetic CIFAR-shaped "
          f"data (no CIFAR files here)")
    print(f"# {report['wall_s']:.0f} s in all (data, models and every repeat; imports excluded)")


def rate(value: float) -> str:
    """Examples per second as printed: whole numbers, three significant digits below 100 (quick runs)."""
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def main(argv=None) -> dict:
    """Run every row, print the report, write --json; returns the report."""
    args, start = parse_args(argv), time.perf_counter()
    try:
        device = resolve_device(args.device)
        bench = Bench(sizes_from(args, device), device, recipe_workers(args.workers, device))
    except UserError as err:
        raise SystemExit(f"bench_gpu: {err}") from None
    preset, target = preset_case(bench)
    cases = score_cases(bench) + train_cases(bench) + [preset]
    seconds = measure(cases, bench.sizes.repeats, device)
    epoch = preset_epoch(preset, target, bench.sizes.steps, seconds)
    report = header(bench) | {"rows": rows(cases, seconds), "preset": epoch, "wall_s": time.perf_counter() - start}
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return report


def recipe_workers(given: int | None, device: torch.device) -> int:
    """The recipe's DataLoader processes: as given, else none on cpu (as bench_throughput.py) and min(8, CPUs) on
    a GPU, as the usual recipe has."""
    if given is not None and given < 0:
        raise UserError(f"--workers={given} must be at least 0")
    return given if given is not None else min(8, os.cpu_count() or 1) * (device.type == "cuda")


if __name__ == "__main__":
    main()
