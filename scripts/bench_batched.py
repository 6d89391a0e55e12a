"""ensemble.batched against members trained one by one, on real Fashion-MNIST (run it on a GPU to see the point of
it; on a CPU the grouped convolutions are slower). Medians of --repeats, interleaved:

    .venv/bin/python scripts/bench_batched.py [--members 4] [--epochs 1] [--n 20000] [--repeats 2] [--device auto]"""

from __future__ import annotations

import argparse
import statistics
import time

from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import OptimConfig, resolve_device
from curriculum.scoring.batched import train_members_batched
from curriculum.scoring.ensemble import Member, RecordingConfig, train_member


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    data = load_data(DataConfig(name="fashion_mnist", train_size=args.n, val_size=5000, download=False)).to(device)
    rec, optim = RecordingConfig(epochs=args.epochs), OptimConfig()
    members = [Member(k, args.arch, k) for k in range(args.members)]
    times = {"one by one": [], "batched": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        for m in members:
            train_member(m, data, rec, optim, label="[one by one]")
        times["one by one"].append(time.perf_counter() - start)
        start = time.perf_counter()
        train_members_batched(members, data, rec, optim)
        times["batched"].append(time.perf_counter() - start)
    seq, bat = (statistics.median(times[k]) for k in ("one by one", "batched"))
    print(f"{args.members} {args.arch} members x {args.epochs} epochs, {args.n} examples, {device}: "
          f"one by one {seq:.1f} s, batched {bat:.1f} s; speed-up {seq / bat:.2f}x (median of {args.repeats})")


if __name__ == "__main__":
    main()
