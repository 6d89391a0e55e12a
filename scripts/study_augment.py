"""What `augment=crop` does to the default score and train runs on real Fashion-MNIST, resumable:

    .venv/bin/python scripts/study_augment.py [--out outputs/augment] [--seeds 3]

Two score runs with the default settings (4 cnn members x 2 epochs on 20k examples), augment=none and
augment=crop; then `train` with the default settings (6 epochs) for sampler=standard and sampler=consensus (each
with the scores made under the same augmentation), --seeds seeds each. Printed: the members' final test accuracy
and the score run's wall time, and per arm the test accuracy at best validation (mean ± std over seeds), the
paired crop - none difference, and the mean wall time of a train run."""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import mlflow
import pandas as pd

from curriculum.analysis.comparison import paired_difference
from curriculum.study.plan import done_seeds
from curriculum.study.runner import run_cli as cli
from curriculum.study.runner import store_runs

AUGMENTS = ("none", "crop")
SAMPLERS = ("standard", "consensus")


def score_runs(store: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'score'")
    return runs[runs["status"] == "FINISHED"]


def train_runs(store: str, study: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"],
                              filter_string=f"tags.study = '{study}' and attributes.status = 'FINISHED'")
    return runs.set_index(runs["tags.seed"].astype(int))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/augment")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{out / 'mlflow.db'}"
    for augment in AUGMENTS:
        cli("score", f"augment={augment}", f"out_dir={out / f'score-{augment}'}", store=store)
        for sampler in SAMPLERS:
            study, overrides = f"augment-{augment}-{sampler}", [f"augment={augment}", f"sampler={sampler}"]
            missing = sorted(set(range(args.seeds)) - done_seeds(store_runs(store), study, overrides))
            if missing:
                cli("train", "-m", *overrides, f"study={study}", f"scores={out / f'score-{augment}'}",
                    "seed=" + ",".join(map(str, missing)), store=store)
    report(store, args)


def report(store: str, args) -> None:
    print(f"\nCommand: python scripts/study_augment.py --out {args.out} --seeds {args.seeds}\n")
    scores = score_runs(store)
    print("| augment | members' final test acc | score wall time (s) |\n|---|---|---|")
    for augment in AUGMENTS:
        runs = scores[scores["params.augment.name"] == augment]   # a re-run reuses the members in seconds:
        run = runs.loc[runs["metrics.wall_seconds"].idxmax()]     # the run that trained them
        print(f"| {augment} | {run['metrics.member_test_acc_mean']:.4f} | {run['metrics.wall_seconds']:.0f} |")
    print("\n| sampler | augment | test acc at best val (mean ± std) | crop − none (paired, 95% CI) | "
          "train wall time (s) |\n|---|---|---|---|---|")
    for sampler in SAMPLERS:
        runs = {a: train_runs(store, f"augment-{a}-{sampler}") for a in AUGMENTS}
        acc = {a: r["metrics.test/acc_at_best_val"] for a, r in runs.items()}
        mean, low, high, pairs = paired_difference(acc["crop"], acc["none"])
        for augment in AUGMENTS:
            diff = f"{100 * mean:+.2f} points [{100 * low:+.2f}, {100 * high:+.2f}], {pairs} seeds" \
                if augment == "crop" else ""
            print(f"| {sampler} | {augment} | {acc[augment].mean():.4f} ± {acc[augment].std():.4f} | {diff} | "
                  f"{statistics.median(runs[augment]['metrics.wall_seconds']):.0f} |")


if __name__ == "__main__":
    main()
