"""Peak memory of score derivation as the ensemble grows, on generated dynamics of ImageNet's size:

    .venv/bin/python scripts/bench_memory.py [--n 1281167] [--members 16] [--checkpoints 30] [--dir /tmp/dyn]

Writes --members random member files (the real format: every statistic of curriculum.statistics, stored as it says),
then derives the scores from the first 2 and from all of them, each in a fresh process, and prints each one's
peak resident memory (ru_maxrss) and their ratio. Derivation folds in one member at a time, so memory should
grow with checkpoints x examples, not with members."""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def generate(folder: Path, members: int, checkpoints: int, n: int) -> list[Path]:
    from curriculum.scoring.dynamics import MemberDynamics, SplitDynamics, save_member
    from curriculum.statistics import STATISTICS, empty

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"member-{k}.npz" for k in range(members)]
    labels, indices = np.zeros(n, np.int64), np.arange(n, dtype=np.int64)
    test = SplitDynamics(empty(checkpoints, 1), np.zeros(1, np.int64), np.zeros(1, np.int64))
    for k, path in enumerate(paths):
        if path.exists():
            continue
        rng = np.random.default_rng(k)
        prob = rng.random((checkpoints, n), dtype=np.float32).astype(np.float16)
        stats = {name: prob > 0.3 if s.storage.dtype is bool else prob for name, s in STATISTICS.items()}
        train = SplitDynamics(stats, labels, indices)
        save_member(path, MemberDynamics(np.arange(1, checkpoints + 1, dtype=np.float64), train, test, "cnn", k,
                                         "generated", "none"))
        print(f"wrote {path}", flush=True)
    return paths


def derive(paths: list[str]) -> None:
    """Runs in a child process: derive the train scores and report time and peak memory."""
    from curriculum.scoring.derive import scores_frame

    start = time.perf_counter()
    frame, _ = scores_frame([Path(p) for p in paths], None, "train", 1.0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(paths)} {len(frame)} {time.perf_counter() - start:.1f} {peak_mb:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1281167)
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--checkpoints", type=int, default=30)
    parser.add_argument("--dir", default="/tmp/curriculum-dynamics")
    parser.add_argument("--derive", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.derive:
        return derive(args.derive)
    paths = generate(Path(args.dir), args.members, args.checkpoints, args.n)
    results = {}
    for m in (2, args.members):
        out = subprocess.run([sys.executable, __file__, "--derive", *map(str, paths[:m])], check=True,
                             capture_output=True, text=True).stdout.split()
        results[m] = (float(out[2]), float(out[3]))
        print(f"{m:3d} members x {args.checkpoints} checkpoints x {int(out[1])} examples: derivation "
              f"{results[m][0]:.1f} s, peak memory {results[m][1]:.0f} MB", flush=True)
    from curriculum.statistics import STATISTICS

    item_bytes = sum(np.dtype(s.storage.dtype).itemsize for s in STATISTICS.values())   # bool 1, float16 2
    one_member_arrays = args.checkpoints * args.n * item_bytes / 2 ** 20
    print(f"peak memory ratio {args.members} vs 2 members: {results[args.members][1] / results[2][1]:.2f}x "
          f"(one member's unpacked arrays: {one_member_arrays:.0f} MB; all {args.members}: "
          f"{args.members * one_member_arrays:.0f} MB)")


if __name__ == "__main__":
    main()
