"""Using both cores: members one after another with 2 threads each, against 2 members at a time in 2 processes
with 1 thread each (the joblib launcher, shards of one out_dir). Real Fashion-MNIST, medians of --repeats:

    .venv/bin/python scripts/bench_parallel.py [--n 10000] [--epochs 2] [--members 4] [--repeats 3]"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], cwd: Path) -> float:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "curriculum", *args], cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    common = [f"data.train_size={args.n}", f"epochs={args.epochs}", f"ensemble.size={args.members}", "device=cpu"]
    times = {"sequential, 2 threads": [], "2 processes x 1 thread": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            times["sequential, 2 threads"].append(timed(["score", *common, "threads=2", f"out_dir={tmp / 'seq'}"], tmp))
            times["2 processes x 1 thread"].append(timed(
                ["score", "-m", "hydra/launcher=local", "hydra.launcher.n_jobs=2", "ensemble.shard=0,1",
                 "ensemble.num_shards=2", *common, "threads=1", f"out_dir={tmp / 'par'}"], tmp))
    medians = {k: statistics.median(v) for k, v in times.items()}
    for name, value in medians.items():
        print(f"{name}: {value:.1f} s wall (median of {args.repeats}), "
              f"{args.members * args.epochs * args.n / value:.0f} examples*members/s")
    print(f"ratio sequential / parallel: {medians['sequential, 2 threads'] / medians['2 processes x 1 thread']:.2f}x")


if __name__ == "__main__":
    main()
