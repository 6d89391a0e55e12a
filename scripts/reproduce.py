"""Reproduction study on real Fashion-MNIST, in one command, resumable (finished runs are skipped):

    .venv/bin/python scripts/reproduce.py [--out outputs/reproduce] [--seeds 5] [--quick]

Settings: (a) clean data, standard budget; (b) a limited budget (1/4 of the steps); (c) 40% label noise, scored
and trained on the same noisy labels, with a budget long enough for standard training to start fitting the
noise. Arms: consensus, random, anti, standard (the headline rows, --seeds seeds), a steep and a gentle pacing,
and in (c) pruning curricula (pacing.end=auto and fixed fractions, with a random control). Agreement side:
analyze of the clean ensemble, of a mixed cnn+mlp ensemble (cross-architecture Spearman) and of a random-labels
control. Writes docs/results.md from the compare and analyze outputs."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
# Noisy setting: a small training set, 40% flipped labels, and a wider CNN without weight decay trained long
# enough to memorise the noise (standard training's validation accuracy peaks, then falls).
NOISY_DATA = ["data.train_size=4000", "data.val_size=2000", "data.label_noise=0.4"]
NOISY_TARGET = ["model.kwargs.width=32", "model.kwargs.hidden=256", "optim.weight_decay=0", "eval.per_epoch=0.5"]
SCORES = {  # name -> score overrides
    "clean": ["epochs=4"],   # the study was run when scoring defaulted to 4 epochs; kept so it reproduces
    "noisy": NOISY_DATA + ["epochs=8"],
    "mixed": ["ensemble.models=[cnn,mlp]", "epochs=4"],
    "random_labels": ["data.random_labels=true", "epochs=4"],
}


def settings(seeds: int, quick: bool) -> list[dict]:
    """Each study: its scores, its train overrides, and arms as (overrides, number of seeds)."""
    few = min(3, seeds)
    main = [(["sampler=consensus"], seeds), (["sampler=random"], seeds), (["sampler=anti"], seeds),
            (["sampler=standard"], seeds)]
    pacings = [(["sampler=consensus", "pacing=steep"], few), (["sampler=consensus", "pacing=gentle"], few)]
    random_ties = [(["sampler=consensus", "sampler.ties=random"], few)]   # what breaking ties by margin changes
    pruning = [(["sampler=consensus", "pacing.end=auto"], few), (["sampler=random", "pacing.end=auto"], few)] + [
        (["sampler=consensus", f"pacing.end={f}"], few) for f in (0.5, 0.7)]
    return [
        # the README's first comparison: default train settings (6 epochs), 3 seeds
        {"study": "fmnist-default", "scores": "clean", "train": [], "arms": [(o, few) for o, _ in main]},
        {"study": "repro-clean", "scores": "clean", "train": ["epochs=2" if quick else "epochs=4", "eval.per_epoch=1"],
         "arms": main + pacings + random_ties},
        {"study": "repro-limited", "scores": "clean", "train": ["epochs=1", "eval.per_epoch=4"], "arms": main},
        {"study": "repro-noisy", "scores": "noisy", "train": NOISY_DATA + NOISY_TARGET + ["epochs=4" if quick else "epochs=20"],
         "arms": main + pacings + random_ties + pruning},
    ]


def cli(*args: str, store: str) -> str:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    device = ["device=auto"] if args[0] in ("score", "train") else []
    cmd = [sys.executable, "-m", "curriculum", *args, f"mlflow.tracking_uri={store}", *device]
    print("$", " ".join(cmd[1:]), flush=True)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return proc.stdout


def done_seeds(store: str, study: str, overrides: list[str]) -> set[int]:
    """Seeds of this arm that already have a finished run (so an interrupted study resumes): runs whose `arm`
    tag (read as compare reads it, whatever scores) and `training` tag are what `train` with these overrides
    (the study's training settings and the arm's) would tag."""
    import json

    import mlflow
    from omegaconf import OmegaConf

    from curriculum.analysis.comparison import arm_definition, arm_tag
    from curriculum.commands.train import target_config, training_tag
    from curriculum.config import compose_config
    from curriculum.engine import resolve_device

    cfg = compose_config("train", [*overrides, "device=auto"])
    want = arm_tag(str(cfg.sampler.name), OmegaConf.to_container(cfg.pacing, resolve=True), str(cfg.sampler.score),
                   bool(cfg.sampler.balanced), str(cfg.sampler.get("ties", "margin")), "")
    training = json.dumps(training_tag(cfg, target_config(cfg, resolve_device("auto"))), sort_keys=True)

    def without_scores(arm: dict) -> dict:
        return {k: v for k, v in arm_definition(arm).items() if k != "scores"}

    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"],
                              filter_string=f"tags.study = '{study}' and attributes.status = 'FINISHED'")
    if runs.empty or "tags.arm" not in runs:
        return set()
    mask = runs["tags.arm"].map(lambda tag: isinstance(tag, str)
                                and without_scores(json.loads(tag)) == without_scores(want))
    mask &= runs["tags.training"] == training
    return set(runs.loc[mask, "tags.seed"].astype(int))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/reproduce")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="shorter budgets, for a smoke test")
    parser.add_argument("--results-only", action="store_true", help="rewrite docs/results.md from existing outputs")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{out / 'mlflow.db'}"
    if args.results_only:
        return write_results(out, store, args)
    for name, overrides in SCORES.items():
        quick = ["epochs=2"] if args.quick and not any(o.startswith("epochs=") for o in overrides) else []
        # always through `score`: it skips members made with exactly these settings and stops on any other
        cli("score", *overrides, *quick, f"out_dir={out / f'score-{name}'}", store=store)
    for setting in settings(args.seeds, args.quick):
        for overrides, n in setting["arms"]:
            missing = sorted(set(range(n)) - done_seeds(store, setting["study"], [*setting["train"], *overrides]))
            if missing:
                cli("train", "-m", *setting["train"], *overrides, f"study={setting['study']}",
                    f"scores={out / ('score-' + setting['scores'])}", "seed=" + ",".join(map(str, missing)), store=store)
    for s in settings(args.seeds, args.quick):
        cli("compare", f"study={s['study']}", f"out_dir={out / ('compare-' + s['study'])}", store=store)
    for name in SCORES:
        cli("analyze", f"scores={out / f'score-{name}'}", f"out_dir={out / f'analyze-{name}'}", store=store)
    write_results(out, store, args)


def study_wall_minutes(store: str) -> float:
    """From the first run's start to the last run's end, as recorded in the MLflow store."""
    import mlflow

    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"])
    return (runs["end_time"].max() - runs["start_time"].min()).total_seconds() / 60


def arm_metric(out: Path, store: str, study: str, arm: str, metric: str = "test/acc_at_best_val") -> pd.Series:
    """`metric` of each run (by seed) that compare counted in `arm` of `study`."""
    import mlflow

    table = pd.read_csv(out / f"compare-{study}" / "comparison.csv").set_index("arm")
    ids = table.loc[arm, "run_ids"].split(",")
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string=f"tags.study = '{study}'")
    runs = runs[runs["run_id"].isin(ids)]
    return pd.Series(runs[f"metrics.{metric}"].to_numpy(), index=runs["tags.seed"].astype(int).to_numpy())


def tie_effect(out: Path, store: str, study: str) -> str:
    """Consensus ties broken by margin against a seeded shuffle, paired over the seeds both arms have."""
    from curriculum.analysis.comparison import paired_difference

    margin = arm_metric(out, store, study, "consensus/linear")
    shuffle = arm_metric(out, store, study, "consensus/linear[sampler.ties=random]")
    mean, low, high, pairs = paired_difference(margin, shuffle)
    return (f"- {study}: margin − random ties {100 * mean:+.2f} points [{100 * low:+.2f}, {100 * high:+.2f}] "
            f"(test accuracy at best validation, paired over {pairs} seeds)")


def write_results(out: Path, store: str, args) -> None:
    """docs/results.md, every number taken from the compare and analyze outputs."""
    tables = {s["study"]: (out / f"compare-{s['study']}" / "comparison.md").read_text()
              for s in settings(args.seeds, args.quick)}
    wall = study_wall_minutes(store)
    def final(name):
        a = pd.read_csv(out / f"analyze-{name}" / "agreement.csv")
        return a[a["split"] == "train"].iloc[-1], a[a["split"] == "test"].iloc[-1]

    lines = ["# Reproduction study: Fashion-MNIST", "",
             f"Command: `python scripts/reproduce.py --out {args.out} --seeds {args.seeds}"
             f"{' --quick' if args.quick else ''}`  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
             f"CPU only; wall time from the first run's start to the last one's end {wall:.0f} min.", "",
             "## Agreement (last checkpoint, members' own training labels)", "",
             "| ensemble | split | mean acc | TPA | TPA indep. | right in all | indep. | right in none | indep. |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in SCORES:
        for row in final(name):
            lines.append(f"| {name} | {row['split']} | {row['mean_acc']:.4f} | {row['tpa']:.4f} | "
                         f"{row['tpa_independent']:.4f} | {row['all_right']:.4f} | {row['all_right_independent']:.4f} | "
                         f"{row['none_right']:.4f} | {row['none_right_independent']:.4f} |")
    order = pd.read_csv(out / "analyze-mixed" / "order_stability.csv")
    lines += ["", "Spearman correlation of per-example learning speed between members (mixed cnn+mlp ensemble):", ""]
    for kind, g in order.groupby("kind", sort=False):
        lines.append(f"- {kind}: mean {g['spearman'].mean():.4f} over {len(g)} pair(s)")
    noise = pd.read_csv(out / "analyze-noisy" / "noise_auroc.csv")
    lines += ["", "AUROC of each score for finding the 40% flipped labels (noisy ensemble):", "",
              "| score | AUROC |", "|---|---|"] + [f"| {r.score} | {r.auroc:.4f} |" for r in noise.itertuples()]
    lines += ["", "Breaking consensus ties by margin (`sampler.ties=margin`, the default) against a seeded shuffle "
              "(`sampler.ties=random`):", ""]
    lines += [tie_effect(out, store, study) for study in ("repro-clean", "repro-noisy")]
    for study, table in tables.items():
        lines += ["", f"## {study}", "", table.strip().split("\n", 2)[2].strip()]
        figure = ROOT / "docs" / f"results-{study}.png"
        shutil.copyfile(out / f"compare-{study}" / "learning_curves.png", figure)
        lines += ["", f"![learning curves of {study}]({figure.name})"]
    target = ROOT / "docs" / "results.md"
    target.write_text("\n".join(lines) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
