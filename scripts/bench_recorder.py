"""The cost of curriculum.ScoreRecorder in a training loop of your own: the same loop with and without it.

    .venv/bin/python scripts/bench_recorder.py [--model cnn] [--n 6000] [--epochs 2] [--repeats 5] [--threads 2]

A plain PyTorch loop trains one of the package's models on random Fashion-MNIST-shaped tensors (1x28x28, 10
classes, batches of 128) for --epochs epochs; the recorder version adds one `observe` per step and one `checkpoint`
per epoch. The two run interleaved --repeats times from the same seed; the script prints each one's median time per
step and the ratio, measured in the same run."""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from curriculum import ScoreRecorder
from curriculum.models import create_model

BATCH = 128


def run(model_name: str, x: torch.Tensor, y: torch.Tensor, epochs: int, record: bool) -> float:
    """Seconds per step of `epochs` epochs of SGD over (x, y), recording with a ScoreRecorder when `record`."""
    model = create_model(model_name, tuple(x.shape[1:]), 10, init_seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rec = ScoreRecorder(len(y)) if record else None
    order = torch.Generator().manual_seed(0)
    steps, start = 0, time.perf_counter()
    for epoch in range(epochs):
        for idx in torch.randperm(len(y), generator=order).split(BATCH):
            logits = model(x[idx])
            if rec is not None:
                rec.observe(idx, logits, y[idx])
            loss = torch.nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        if rec is not None:
            rec.checkpoint(epoch + 1)
    if rec is not None:
        rec.scores()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.n, 1, 28, 28, generator=g).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (args.n,), generator=g)
    times = {False: [], True: []}
    for repeat in range(args.repeats):
        for record in (False, True) if repeat % 2 == 0 else (True, False):   # interleaved, alternating first
            times[record].append(run(args.model, x, y, args.epochs, record))
    plain, recorded = (statistics.median(times[r]) * 1e3 for r in (False, True))
    print(f"model {args.model}, {args.n} examples, {args.epochs} epochs of batches of {BATCH}, {args.threads} "
          f"threads; median of {args.repeats} interleaved repeats")
    print(f"| loop | ms per step |\n|---|---|\n| without recorder | {plain:.2f} |\n| with ScoreRecorder | "
          f"{recorded:.2f} |")
    print(f"ratio with / without: {recorded / plain:.3f} (overhead {recorded - plain:+.2f} ms per step)")


if __name__ == "__main__":
    main()
