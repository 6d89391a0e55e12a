"""Scoring throughput against the standard PyTorch recipe, on real Fashion-MNIST, in one run:

    .venv/bin/python scripts/bench_throughput.py [--n 20000] [--epochs 4] [--repeats 3] [--models cnn,mlp]

Defaults are those of `python -m curriculum score` (20k train examples, 4 epochs, batch 128, checkpoints at
1/8, 1/4, 1/2 and every epoch, each over the train split and the 10k test split). For each model, one member:
  ours         the scoring engine (uint8 tensors in memory, normalised per batch) with clean-pass recording,
  ours_train   the same, recording from the training forward pass (recording.source=train),
  ours_norec   the same training without recording,
  recipe       torchvision dataset + ToTensor/Normalize + DataLoader, the same model (in PyTorch's default NCHW
               layout), batch, optimizer and steps, and an evaluation pass through a DataLoader over both splits at
               each of the same checkpoints; recipe_norec without them;
  one pass     a clean recording pass over the N training examples, against one training epoch over them.
Printed: examples x members per second and the ratio ours / recipe, the recording overhead, the pass / epoch
ratio, and the training step's achieved GFLOP/s against this machine's fp32 matrix-multiply GFLOP/s measured in
the same run. Medians over --repeats."""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from curriculum.batches import shuffled_batches, steps_per_epoch
from curriculum.data.datasets import DEBIAN_FASHION_MNIST, DataConfig, load_data
from curriculum.engine import Batches, Hooks, Inputs, OptimConfig, Schedule, predict, train
from curriculum.models import count_flops, create_model
from curriculum.progress import Progress
from curriculum.scoring.dynamics import checkpoint_steps
from curriculum.scoring.ensemble import Member, RecordingConfig, train_member
from curriculum.seeding import torch_generator
from curriculum.statistics import as_rows


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e9


def torchvision_root(tmp: Path) -> Path:
    """A torchvision-layout copy of Debian's Fashion-MNIST (decompressed idx files), as a user would have."""
    raw = tmp / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in DEBIAN_FASHION_MNIST.glob("*.gz"):
        with gzip.open(gz) as src, open(raw / gz.stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return tmp


def recipe(arch: str, root: Path, data, epochs: int, batch: int, optim: OptimConfig, record: bool) -> float:
    """The standard recipe on torchvision's FashionMNIST; returns wall seconds."""
    from torch.utils.data import Subset
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(data.mean, data.std)])
    train_set = Subset(datasets.FashionMNIST(root, train=True, transform=tf), data.train.index.tolist())
    test_set = datasets.FashionMNIST(root, train=False, transform=tf)
    model = create_model(arch, data.input_shape, data.num_classes, init_seed=0)
    return recipe_loop(model, train_set, (train_set, test_set), epochs=epochs, batch=batch, optim=optim,
                       record=record)


def recipe_loop(model, train_set, eval_sets, *, epochs: int, batch: int, optim: OptimConfig, record: bool,
                device: str | torch.device = "cpu", precision: str = "fp32", workers: int = 0) -> float:
    """What a researcher would write around torchvision datasets: `model` in PyTorch's default NCHW layout, SGD
    over a shuffled DataLoader and, with `record`, a pass over each of `eval_sets` at each of our checkpoints.
    On a GPU, `workers` loader processes fill pinned memory and batches are copied asynchronously; bf16 is
    autocast around forward and loss. Returns wall seconds (the device synchronised)."""
    from torch.utils.data import DataLoader

    device = torch.device(device)
    model = model.to(device, memory_format=torch.contiguous_format)
    opt = torch.optim.SGD(model.parameters(), lr=optim.lr, momentum=optim.momentum, nesterov=optim.nesterov,
                          weight_decay=optim.weight_decay)
    extra = {"num_workers": workers, "persistent_workers": workers > 0, "pin_memory": device.type == "cuda"}
    loader = DataLoader(train_set, batch_size=batch, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(0), **extra)
    eval_loaders = [DataLoader(dataset, batch_size=1000, **extra) for dataset in eval_sets]
    steps, _ = checkpoint_steps(epochs, len(loader))
    start, step = time.perf_counter(), 0
    for _ in range(epochs):
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with recipe_autocast(device, precision):
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if record and step in steps:
                recipe_record(model, eval_loaders, device, precision)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def recipe_autocast(device: torch.device, precision: str):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


@torch.no_grad()
def recipe_record(model, loaders, device: torch.device, precision: str) -> None:
    """The recipe's recording: correct, probability and margin of every example, copied to the host."""
    model.eval()
    for loader in loaders:
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            with recipe_autocast(device, precision):
                logits = model(xb).float()
            correct = logits.argmax(1) == yb
            prob = torch.softmax(logits, 1).gather(1, yb[:, None])
            margin = logits.gather(1, yb[:, None])[:, 0] - logits.scatter(1, yb[:, None], -1e9).amax(1)
            _ = (correct.cpu().numpy(), prob.cpu().numpy(), margin.cpu().numpy())
    model.train()


def ours(arch: str, data, epochs: int, batch: int, optim: OptimConfig, source: str | None) -> float:
    """Our scoring engine for one member; source None trains without recording. Returns wall seconds."""
    start = time.perf_counter()
    if source is not None:
        rec = RecordingConfig(epochs=epochs, batch_size=batch, source=source)
        train_member(Member(0, arch, 0), data, rec, optim, label=f"[bench {source}]")
    else:  # same engine, model and batches, no checkpoint passes
        model = create_model(arch, data.input_shape, data.num_classes, init_seed=0)
        total = epochs * steps_per_epoch(len(data.train), batch)
        batches = Batches(data.train.x, data.train.y, Inputs(data.mean, data.std, "cpu"),
                          shuffled_batches(len(data.train), batch, torch_generator(0, "order")))
        progress = Progress("[bench norec]", total, steps_per_epoch(len(data.train), batch))
        train(model, batches, Schedule(optim, total), Hooks(progress=progress))
    return time.perf_counter() - start


def one_pass(arch: str, data) -> float:
    """Wall seconds of one clean recording pass over the training split (as the recorder runs it)."""
    model = create_model(arch, data.input_shape, data.num_classes, init_seed=0)
    inputs = Inputs(data.mean, data.std, "cpu")
    predict(model, data.train.x[:1024], data.train.y[:1024], inputs, RecordingConfig().eval_batch)  # warm-up
    start = time.perf_counter()
    stats = predict(model, data.train.x, data.train.y, inputs, RecordingConfig().eval_batch)
    as_rows(stats).numpy()   # the recorder's one host transfer
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--models", default="cnn,mlp")
    args = parser.parse_args()
    data = load_data(DataConfig(name="fashion_mnist", train_size=args.n, val_size=0, download=False))
    optim = OptimConfig()
    examples = args.epochs * steps_per_epoch(args.n, args.batch) * args.batch
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, n={args.n}, epochs={args.epochs}, "
          f"batch={args.batch}, repeats={args.repeats} (medians)")
    peak = statistics.median(matmul_gflops() for _ in range(3))
    print(f"matmul fp32 2048x2048: {peak:.1f} GFLOP/s")
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(tmp))
        for arch in args.models.split(","):
            runs = {
                "ours": lambda: ours(arch, data, args.epochs, args.batch, optim, "eval"),
                "ours_train": lambda: ours(arch, data, args.epochs, args.batch, optim, "train"),
                "ours_norec": lambda: ours(arch, data, args.epochs, args.batch, optim, None),
                "recipe": lambda: recipe(arch, root, data, args.epochs, args.batch, optim, True),
                "recipe_norec": lambda: recipe(arch, root, data, args.epochs, args.batch, optim, False),
                "pass": lambda: one_pass(arch, data),
            }
            samples = {name: [] for name in runs}
            for _ in range(args.repeats):  # interleaved, so that a noisy stretch hits every variant alike
                for name, fn in runs.items():
                    samples[name].append(fn())
            t = {name: statistics.median(v) for name, v in samples.items()}
            flops = 3 * count_flops(create_model(arch, data.input_shape, 10, init_seed=0), data.input_shape)
            achieved = flops * examples / t["ours_norec"] / 1e9
            epoch = t["ours_norec"] / args.epochs
            print(f"{arch}: examples*members/s with recording: ours {examples / t['ours']:.0f}, recipe "
                  f"{examples / t['recipe']:.0f}; ratio {t['recipe'] / t['ours']:.2f}x")
            print(f"{arch}: training only: ours {examples / t['ours_norec']:.0f}/s, recipe "
                  f"{examples / t['recipe_norec']:.0f}/s; ratio {t['recipe_norec'] / t['ours_norec']:.2f}x")
            print(f"{arch}: recording overhead (default schedule): ours {t['ours'] / t['ours_norec'] - 1:.0%} of "
                  f"training, from the training pass {t['ours_train'] / t['ours_norec'] - 1:.0%}, recipe "
                  f"{t['recipe'] / t['recipe_norec'] - 1:.0%}")
            print(f"{arch}: one clean recording pass over {args.n} examples {t['pass']:.2f} s = "
                  f"{t['pass'] / epoch:.2f} x one training epoch over them ({epoch:.2f} s)")
            print(f"{arch}: training step {achieved:.1f} GFLOP/s = {achieved / peak:.0%} of matmul peak "
                  f"({flops / 1e6:.2f} MFLOP per example, forward + backward)")


if __name__ == "__main__":
    main()
