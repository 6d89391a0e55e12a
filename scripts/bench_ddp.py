"""One target trained by 1 process and by N processes (torchrun, DistributedDataParallel), the same settings:

    .venv/bin/python scripts/bench_ddp.py [--nproc 2] [--repeats 2] [-- train overrides ...]

Default settings: real Fashion-MNIST (20,000 training examples), the cnn, sampler=random, 2 epochs, batch 128, on
the CPU; the single process gets one torch thread per core (os.cpu_count()), each of the N processes one.
Printed per run: wall seconds of the command (medians of interleaved repeats), test accuracy at the end and at best
validation, and the largest difference between the two final networks' weights (the runs are the same computation
up to float rounding: a 2-process step averages two half-batch means). Needs Debian's dataset-fashion-mnist."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULTS = ["data=fashion_mnist", "data.train_size=20000", "sampler=random", "epochs=2", "device=cpu"]


def command(nproc: int, overrides: list[str]) -> list[str]:
    if nproc == 1:
        return [sys.executable, "-m", "curriculum", "train", *overrides, f"threads={os.cpu_count() or 1}"]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "curriculum", "train", *overrides, "threads=1"]


def timed_run(nproc: int, overrides: list[str], study: str, folder: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command(nproc, [*overrides, f"study={study}", f"mlflow.tracking_uri=sqlite:///{folder}/m.db"]),
                   cwd=folder, check=True, capture_output=True, env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"))
    return time.perf_counter() - started


def results(folder: Path, study: str) -> tuple[dict, dict]:
    """(metrics, final weights) of the study's train run."""
    import mlflow
    import torch

    mlflow.set_tracking_uri(f"sqlite:///{folder}/m.db")
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string=f"tags.study = '{study}'")
    run = runs.iloc[0]
    weights = torch.load(mlflow.artifacts.download_artifacts(run_id=run.run_id, artifact_path="model/weights.pt"))
    return {k: run[f"metrics.{k}"] for k in ("test/acc_final", "test/acc_at_best_val", "train/loss")}, weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nproc", type=int, default=2, help="processes of the distributed run")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats of each; medians are printed")
    parser.add_argument("overrides", nargs="*", help="train overrides replacing the defaults (after --)")
    args = parser.parse_args()
    overrides = args.overrides or DEFAULTS
    folder = Path(tempfile.mkdtemp(prefix="bench-ddp-"))
    seconds = {1: [], args.nproc: []}
    for repeat in range(args.repeats):
        for nproc in seconds:
            seconds[nproc].append(timed_run(nproc, overrides, f"p{nproc}-r{repeat}", folder))
    (one, w1), (many, wn) = results(folder, "p1-r0"), results(folder, f"p{args.nproc}-r0")
    print(f"# train {' '.join(overrides)}; {os.cpu_count()} cores; medians of {args.repeats} interleaved repeats")
    print(f"{'processes':>9s} {'wall s':>8s} {'test acc final':>15s} {'at best val':>12s} {'train/loss':>11s}")
    for nproc, metrics in ((1, one), (args.nproc, many)):
        print(f"{nproc:9d} {statistics.median(seconds[nproc]):8.1f} {metrics['test/acc_final']:15.4f} "
              f"{metrics['test/acc_at_best_val']:12.4f} {metrics['train/loss']:11.5f}")
    diff = max((w1[k].float() - wn[k].float()).abs().max().item() for k in w1)
    print(f"wall {args.nproc} / 1: {statistics.median(seconds[args.nproc]) / statistics.median(seconds[1]):.2f}x; "
          f"largest |weight difference| {diff:.2e} "
          f"(largest |weight| {max(w.abs().max().item() for w in w1.values()):.2f})")


if __name__ == "__main__":
    main()
