"""Does pacing.end=auto estimate the share of mislabelled examples? Real Fashion-MNIST, the default score run
(20k examples, 4 cnn x 2 epochs), with 0%, 10%, 20%, 40% and 60% of the labels flipped symmetrically:

    .venv/bin/python scripts/bench_noise_estimate.py --out outputs/noise-estimate [--noise 0,0.1,0.2,0.4,0.6]
        [--score-args "data=synthetic epochs=6 ensemble.size=3"]   # other data or ensembles

For each noise level it runs `python -m curriculum score data.label_noise=<p>` (members made with the same
settings are reused, so a rerun resumes) and prints the true mislabelled share, the estimate of curriculum.schedule.pruning (what auto
uses), the two-Gaussian mixture that auto used before (the baseline), and the precision and recall of pruning
the estimated share from the bottom of the consensus ranking. Target: every estimate within 0.05 of the truth."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from curriculum.io.scorefile import read_scores
from curriculum.schedule.pruning import consensus_levels, estimate_mislabelled_share


def gmm_baseline(consensus: np.ndarray, iterations: int = 200) -> float:
    """The former estimator: 1 - weight of the upper component of a two-Gaussian mixture fitted by EM."""
    x = np.asarray(consensus, dtype=np.float64)
    mu, var, w = np.array([0.1, 0.9]), np.array([0.05, 0.05]), np.array([0.5, 0.5])
    for _ in range(iterations):
        dens = w * np.exp(-(x[:, None] - mu) ** 2 / (2 * var)) / np.sqrt(2 * np.pi * var)  # (N, 2)
        resp = dens / np.maximum(dens.sum(axis=1, keepdims=True), 1e-300)
        w = resp.mean(axis=0)
        mu = (resp * x[:, None]).sum(axis=0) / np.maximum(resp.sum(axis=0), 1e-12)
        var = np.maximum((resp * (x[:, None] - mu) ** 2).sum(axis=0) / np.maximum(resp.sum(axis=0), 1e-12), 1e-4)
    return float(1 - w[np.argmax(mu)])


def score(out: Path, noise: float, store: str, extra: list[str]) -> Path:
    """Always through `score`: it reuses a member only when it was made with exactly these settings."""
    run_dir = out / f"noise-{noise:g}"
    cmd = [sys.executable, "-m", "curriculum", "score", *extra, f"data.label_noise={noise}", f"out_dir={run_dir}",
           f"mlflow.tracking_uri={store}"]
    print("$", " ".join(cmd[1:]), flush=True)
    proc = subprocess.run(cmd, env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"), stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.strip().splitlines()[-1])
    return run_dir / "scores.parquet"


def row(path: Path) -> dict:
    frame, meta = read_scores(path)
    consensus, noisy = frame["consensus"].to_numpy(), frame["noisy"].to_numpy()
    estimate = estimate_mislabelled_share(consensus, consensus_levels(meta))
    pruned = np.zeros(len(frame), dtype=bool)
    pruned[np.argsort(frame["rank"].to_numpy())[len(frame) - int(round(estimate * len(frame))):]] = True
    return {"true": noisy.mean(), "estimate": estimate, "error": estimate - noisy.mean(),
            "baseline": gmm_baseline(consensus), "precision": noisy[pruned].mean() if pruned.any() else float("nan"),
            "recall": pruned[noisy].mean() if noisy.any() else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/noise-estimate")
    parser.add_argument("--noise", default="0,0.1,0.2,0.4,0.6")
    parser.add_argument("--score-args", default="", help="extra score overrides, e.g. 'data=synthetic'")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{out / 'mlflow.db'}"
    rows = [row(score(out, float(p), store, args.score_args.split())) for p in args.noise.split(",")]
    extra = f' --score-args "{args.score_args}"' if args.score_args else ""
    print(f"\n`python scripts/bench_noise_estimate.py --out {args.out} --noise {args.noise}{extra}`\n")
    print("| flipped | estimate (auto) | error | two-Gaussian baseline | precision of pruning | recall |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['true']:.3f} | {r['estimate']:.3f} | {r['error']:+.3f} | {r['baseline']:.3f} | "
              f"{r['precision']:.3f} | {r['recall']:.3f} |")
    worst = max(abs(r["error"]) for r in rows)
    print(f"\nlargest error {worst:.3f} (target 0.05): {'met' if worst <= 0.05 else 'MISSED'}")


if __name__ == "__main__":
    main()
