"""Finding label errors, side by side with cleanlab: real Fashion-MNIST (20k training examples) with 20% and 40%
symmetric, pairwise and instance-dependent label noise, resumable:

    .venv/bin/python scripts/bench_label_issues.py [--out outputs/label-issues]
        [--settings symmetric-0.2,symmetric-0.4,pairwise-0.2,pairwise-0.4,instance-0.2,instance-0.4] [--levers]
        [--quick] [--repeats 1]

Per setting (data.noise, data.label_noise):
  curriculum: `python -m curriculum score` with the default settings (4 cnn members x 2 epochs) on the noisy labels,
    into a fixed out_dir (members made with exactly these settings are reused, so a rerun resumes), and the same
    with ensemble.folds=4 (each member holds out one fold: out-of-fold probabilities, confident learning). AUROC and
    AUPRC of every score column for finding the flipped examples (turned "higher = more likely flipped" by
    curriculum.analysis.noise_detection); the estimated share of wrong labels that `pacing.end=auto` uses, against
    the truth; precision and recall of the examples `train pacing.end=auto` would never train on
    (curriculum.schedule.plan.auto_dropped), of confident learning's flags (`label_issue`, folds runs) and of its
    corrections (`suggested_label`: a changed label counts as a hit when it is the true one).
  cleanlab: K=4-fold cross-validation (folds stratified by the given labels) with the same architecture through
    curriculum's own engine and the same total training: the ensemble's members x epochs x N examples, split
    evenly over the K folds, each training on (K-1)N/K examples (4 x 2 x N -> 8/3 epochs of 3N/4 per fold),
    rounded to whole steps of the same batch size (curriculum.study.cross_validation, run as its own command). Then
    cleanlab.rank.get_label_quality_scores and cleanlab.filter.find_label_issues with their defaults, and its
    estimated share of wrong labels (the off-diagonal of cleanlab.count.estimate_joint).
  Times, both sides alike: the whole command's wall and CPU seconds (process start to exit: imports, data, training,
    and for curriculum the score files and the MLflow run), and the training wall time (curriculum: the member runs'
    training and recording; cleanlab: the folds' training and prediction), each kept beside its outputs when it
    computed afresh.
--levers adds score runs with recording.source=train (no extra pass), epoch-end checkpoints only, both, and both
without the test split (recording.test=false).
Prints one markdown table per setting and writes <out>/label_issues.csv. A setting this build cannot make (before
data.noise exists) and a score column it does not write (el2n) are reported as not available in this build."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from curriculum.analysis.noise_detection import detection, flag_row, peer_rows, times
from curriculum.atomic import atomic_write
from curriculum.batches import steps_per_epoch
from curriculum.commands.common import data_config
from curriculum.config import compose_config
from curriculum.data.datasets import load_data
from curriculum.io.scorefile import read_scores
from curriculum.schedule.plan import WHOLE, PlanSettings, Scores, auto_dropped, make_plan
from curriculum.schedule.sampler import SamplerConfig
from curriculum.study.cross_validation import FOLDS, cpu_seconds, fold_steps, require_cleanlab
from curriculum.study.runner import run_cli as cli

SETTINGS = {  # name -> (data.noise, data.label_noise)
    "symmetric-0.2": ("symmetric", 0.2), "symmetric-0.4": ("symmetric", 0.4),
    "pairwise-0.2": ("pairwise", 0.2), "pairwise-0.4": ("pairwise", 0.4),
    "instance-0.2": ("instance", 0.2), "instance-0.4": ("instance", 0.4),
}
VARIANTS = {  # our score runs: name -> score overrides (the levers of issue 13, item 4; folds of issue 22)
    "default": [],
    "folds": ["ensemble.folds=4"],
    "train-pass": ["recording.source=train"],
    "epoch-ends": ["recording.within_first_epoch=[]"],
    "train-pass, epoch-ends": ["recording.source=train", "recording.within_first_epoch=[]"],
    "train-pass, epoch-ends, no test": ["recording.source=train", "recording.within_first_epoch=[]",
                                        "recording.test=false"],
    "folds, train-pass, epoch-ends, no test": ["ensemble.folds=4", "recording.source=train",
                                               "recording.within_first_epoch=[]", "recording.test=false"],
}
BASIC = ("default", "folds")   # the variants run without --levers
COLUMNS = ("consensus", "rank", "margin", "confidence", "el2n", "loss", "forgetting", "learned_epoch",
           "oof_confidence")   # score columns, where a run writes them (oof_confidence: folds runs)
RECOMMENDED = "margin"   # the score curriculum recommends for finding label errors (docs/label_noise.md)
QUICK = ["data.train_size=2000", "data.val_size=500", "epochs=1"]


# ---------------------------------------------------------------------------------------------- settings

def setting_overrides(name: str, quick: bool) -> tuple[list[str], str]:
    """(score overrides, "") for a setting this build can make, else ([], why not). Symmetric noise is all that
    a build without data.noise has, so there it is asked for by data.label_noise alone."""
    kind, fraction = SETTINGS[name]
    base = (QUICK if quick else []) + [f"data.label_noise={fraction}"]
    why = unavailable(base + [f"data.noise={kind}"])
    if not why:
        return base + [f"data.noise={kind}"], ""
    if kind == "symmetric" and not unavailable(base):
        return base, ""
    return [], f"data.noise={kind}: not available in this build ({why})"


def unavailable(overrides: list[str]) -> str:
    """"" when the score config composes with `overrides`, else the first line of why not."""
    try:
        compose_config("score", overrides)
    except Exception as err:  # Hydra's ConfigCompositionException, or a schema's UserError
        return str(err).splitlines()[0]
    return ""


# ---------------------------------------------------------------------------------------------- our side

def timed_command(path: Path, fresh, command) -> dict:
    """Run `command` (a function), and when it computed afresh (`fresh()`, asked afterwards), keep its whole wall
    and CPU seconds in `path` (a rerun that reuses the results in seconds keeps the first timing): wall_s, and cpu_s,
    the CPU seconds of the child process (on a shared machine, the figure other jobs inflate least), and what
    `command` returns."""
    started, cpu = time.perf_counter(), cpu_seconds()
    extra = command()
    if fresh():
        timing = {"wall_s": time.perf_counter() - started, "cpu_s": cpu_seconds() - cpu, **(extra or {}),
                  "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
        atomic_write(path, lambda f: f.write(json.dumps(timing).encode()))
    nan = {"wall_s": float("nan"), "cpu_s": float("nan"), "train_s": float("nan")}
    return nan | json.loads(path.read_text()) if path.is_file() else nan


def timed_score(overrides: list[str], run_dir: Path, store: str, members: int) -> dict:
    """`score` into run_dir, timed whole (timed_command), with train_s: the members' training and recording."""
    fresh = not list((run_dir / "dynamics").glob("member-*.npz"))   # else NaN or the run that trained them

    def score() -> dict:
        cli("score", *overrides, f"out_dir={run_dir}", store=store)
        return {"train_s": members_seconds(store, run_dir, members)}
    return timed_command(run_dir / "bench_timing.json", lambda: fresh, score)


def timed_cv(path: Path, overrides: list[str]) -> dict:
    """curriculum.study.cross_validation into `path`, timed whole (timed_command), with train_s: the folds' training and
    prediction, as the cache holds it."""
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    meta = {}

    def cross_validate() -> dict:
        subprocess.run([sys.executable, "-m", "curriculum.study.cross_validation", str(path), *overrides],
                       check=True, env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"))
        with np.load(path, allow_pickle=False) as z:
            meta.update(json.loads(z["meta"].tobytes()))
        return {"train_s": meta["seconds"]}
    # fresh: the folds were computed by this command (a cache made otherwise is computed again), not read
    return timed_command(path.with_suffix(".timing.json"), lambda: meta["measured_at"] >= started, cross_validate)


def members_seconds(store: str, run_dir: Path, members: int) -> float:
    """The summed durations of the member runs (training and recording) of the newest score run into `run_dir`
    that trained all `members` (one nested run each); NaN when the members were trained over several runs."""
    import mlflow

    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], order_by=["attributes.start_time DESC"],
                              filter_string="tags.stage = 'score' and attributes.status = 'FINISHED'")
    runs = runs[runs["tags.out_dir"] == str(run_dir.resolve())]
    children = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'score_member'")
    for _, run in runs.iterrows():
        mine = children[children["tags.mlflow.parentRunId"] == run["run_id"]]
        if len(mine) == members:
            return float((mine["end_time"] - mine["start_time"]).dt.total_seconds().sum())
    return float("nan")


def our_rows(run_dir: Path, data, variant: str, timing: dict) -> list[dict]:
    """One row per score column the run writes; one for what pacing.end=auto drops, with the share it estimates;
    and for a folds run, confident learning's flags and its suggested labels."""
    frame, meta = read_scores(run_dir / "scores.parquet")
    assert np.array_equal(frame["label"].to_numpy(), data.train.y.numpy()), "scores made for other labels"
    noisy = data.noisy
    present = [c for c in COLUMNS if c in frame]
    found = detection(frame, present, noisy).set_index("score")
    side = f"curriculum ({variant})"
    rows = [{"side": side, "method": f"score `{c}`", "auroc": found.loc[c, "auroc"], "auprc": found.loc[c, "auprc"],
             **times(timing)} for c in present]
    dropped = auto_dropped(frame["consensus"].to_numpy(), frame["margin"].to_numpy(), frame["label"].to_numpy(), meta)
    rows.append(flag_row(side, "pacing.end=auto drops", dropped, noisy, timing) | {"estimate": auto_share(frame, meta)})
    if "label_issue" in frame:
        rows.append(flag_row(side, "confident learning flags", frame["label_issue"].to_numpy() == 1, noisy, timing))
        rows.append(relabel_row(side, frame["suggested_label"].to_numpy(), data, timing))
    return rows


def auto_share(frame: pd.DataFrame, meta: dict) -> float:
    """The share of wrong labels pacing.end=auto estimates from these scores (1 - the end it resolves)."""
    settings = PlanSettings(SamplerConfig(name="consensus"), WHOLE | {"end": "auto"})
    labels = frame["label"].to_numpy()
    return 1 - make_plan(settings, Scores(frame, meta), labels, np.zeros(len(frame), dtype=bool), 0).end


def relabel_row(side: str, suggested: np.ndarray, data, timing: dict) -> dict:
    """The suggested labels as a set of corrections: `flagged` the labels changed, precision the share of them that
    are now the true label, recall the share of the flipped labels corrected."""
    given, truth = data.train.y.numpy(), data.true_labels
    changed, fixed = suggested != given, (suggested != given) & (suggested == truth)
    return {"side": side, "method": "suggested_label corrects", "flagged": int(changed.sum()), **times(timing),
            "precision": fixed.sum() / changed.sum() if changed.any() else float("nan"),
            "recall": fixed.sum() / data.noisy.sum()}


# ---------------------------------------------------------------------------------------------- one setting

def run_setting(name: str, args, store: str, cleanlab) -> tuple[list[dict], str]:
    """All rows of one setting, and a line on its data and budgets. With --repeats R, every score run and the CV
    are made R times, interleaved (other jobs on a shared machine then weigh on both sides alike), each repeat
    into its own out_dir and cache; the rows give the first repeat's results and the median times."""
    overrides, why = setting_overrides(name, args.quick)
    if why:
        return [{"side": "-", "method": "-", "note": why}], why
    cfg = compose_config("score", overrides)
    data = load_data(data_config(cfg))
    setting_dir = args.out / f"{name}-{data.fingerprint}"   # other data (e.g. a build whose noise differs): anew
    variants = list(VARIANTS) if args.levers else list(BASIC)
    steps = fold_steps(len(data.train), int(cfg.ensemble.size), int(cfg.epochs), FOLDS, int(cfg.batch_size))
    ours, cvs = {v: [] for v in variants}, []
    for r in range(args.repeats):
        for variant in variants:
            ours[variant].append(timed_score([*overrides, *VARIANTS[variant]], score_dir(setting_dir, variant, r),
                                             store, int(cfg.ensemble.size)))
        cvs.append(timed_cv(cv_path(setting_dir, r), overrides))
    rows = [row for v in variants for row in our_rows(score_dir(setting_dir, v, 0), data, v, median_times(ours[v]))]
    with np.load(cv_path(setting_dir, 0), allow_pickle=False) as z:
        probs = z["probs"]
    rows += peer_rows(cleanlab, probs, data.train.y.numpy(), data.noisy, median_times(cvs), f"cleanlab ({FOLDS}-fold CV)")
    flagged = next(r for r in rows if r["method"] == "find_label_issues")
    flagged["estimate"] = cleanlab_share(probs, data.train.y.numpy())
    truth = float(data.noisy.mean())
    return ([r | {"setting": name, "truth": truth} for r in rows],
            setting_line(cfg, data, overrides, steps, len(cvs)))


def cleanlab_share(probs: np.ndarray, labels: np.ndarray) -> float:
    """cleanlab's estimated share of wrong labels: the off-diagonal mass of its calibrated joint."""
    from cleanlab.count import estimate_joint

    return float(1 - np.trace(estimate_joint(labels, probs)))


def cv_path(setting_dir: Path, repeat: int) -> Path:
    return setting_dir / f"cv-probs{f'-r{repeat}' if repeat else ''}.npz"


def score_dir(setting_dir: Path, variant: str, repeat: int) -> Path:
    return setting_dir / f"score-{variant.replace(', ', '+').replace(' ', '-')}{f'-r{repeat}' if repeat else ''}"


def median_times(timings: list[dict]) -> dict:
    """Median wall and CPU seconds over repeats (NaN: a repeat whose members were trained over several runs)."""
    return {k: float(np.median([t[k] for t in timings])) for k in ("wall_s", "cpu_s", "train_s")} | {"repeats": len(timings)}


def setting_line(cfg, data, overrides: list[str], steps: int, repeats: int) -> str:
    n, batch = len(data.train), int(cfg.batch_size)
    fold_n = n - n // FOLDS
    return (f"{n} training examples, {int(data.noisy.sum())} labels flipped ({' '.join(overrides)}); ensemble "
            f"{cfg.ensemble.size} x {cfg.epochs} epochs x {steps_per_epoch(n, batch)} steps of {batch}; each of the "
            f"{FOLDS} folds trains on ~{fold_n} examples for {steps} steps of {batch} ({steps * batch / fold_n:.3f} "
            f"epochs); times: median of {repeats} interleaved repeat(s) of every command, each timed when it "
            f"trained")


# ---------------------------------------------------------------------------------------------- report

def fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def print_table(name: str, rows: list[dict], line: str, command: str) -> None:
    print(f"\n### {name}\n\n`{command}`\n\n{line}\n")
    if rows[0]["side"] == "-":   # a setting this build cannot make: the line says why
        return
    print("| side | method | AUROC | AUPRC | estimated share | flagged | precision | recall | command wall (s) | "
          "command CPU (s) | training wall (s) | note |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['side']} | {r['method']} | {fmt(r.get('auroc'))} | {fmt(r.get('auprc'))} | "
              f"{fmt(r.get('estimate'), 3)} | {fmt(r.get('flagged'))} | {fmt(r.get('precision'))} | "
              f"{fmt(r.get('recall'))} | "
              f"{fmt(r.get('wall_s'), 1)} | {fmt(r.get('cpu_s'), 1)} | {fmt(r.get('train_s'), 1)} | "
              f"{r.get('note', '')} |")
    print_goal(rows)


def print_goal(rows: list[dict]) -> None:
    """Issue 22's goals per curriculum run: the recommended score's AUROC (and, for a folds run, that of
    `oof_confidence`, cleanlab's own label quality on our out-of-fold probabilities; both named before the run, not
    picked by their AUROC) at least cleanlab's, at no more time; the estimated share within 0.03 of the truth."""
    peer = next(r for r in rows if r["method"] == "get_label_quality_scores")
    peer_estimate = next(r for r in rows if r["method"] == "find_label_issues")["estimate"]
    truth = rows[0]["truth"]
    print(f"\ntrue share of wrong labels {truth:.3f}; cleanlab's estimate {peer_estimate:.3f} "
          f"({peer_estimate - truth:+.3f})\n")
    print(f"| curriculum run | `{RECOMMENDED}` AUROC - cleanlab's | `oof_confidence` AUROC - cleanlab's | "
          f"estimate - truth | command wall / cleanlab's | command CPU / cleanlab's | training wall / cleanlab's |")
    print("|---|---|---|---|---|---|---|")
    for side in dict.fromkeys(r["side"] for r in rows if r["side"].startswith("curriculum")):
        mine = {r["method"]: r for r in rows if r["side"] == side}
        recommended = mine[f"score `{RECOMMENDED}`"]
        oof = mine.get("score `oof_confidence`")
        estimate = mine["pacing.end=auto drops"]["estimate"]
        print(f"| {side} | {recommended['auroc'] - peer['auroc']:+.4f} | "
              f"{'' if oof is None else format(oof['auroc'] - peer['auroc'], '+.4f')} | {estimate - truth:+.3f} | "
              + " | ".join(f"{recommended[k] / peer[k]:.2f}" for k in ("wall_s", "cpu_s", "train_s")) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="default outputs/label-issues (-quick)")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--levers", action="store_true", help="also score with the cheaper recordings")
    parser.add_argument("--quick", action="store_true", help="2000 examples, 1 epoch: a smoke run")
    parser.add_argument("--repeats", type=int, default=1, help="time every run this many times (medians)")
    args = parser.parse_args()
    names = [s for s in args.settings.split(",") if s]
    unknown = [s for s in names if s not in SETTINGS]
    if unknown:
        raise SystemExit(f"unknown setting {unknown[0]!r}; choose from {', '.join(SETTINGS)}")
    cleanlab = require_cleanlab()
    args.out = (args.out or Path("outputs/label-issues" + ("-quick" if args.quick else ""))).resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{args.out / 'mlflow.db'}"
    command = " ".join(["python scripts/bench_label_issues.py", *sys.argv[1:]])
    results = [(name, *run_setting(name, args, store, cleanlab)) for name in names]
    for name, rows, line in results:
        print_table(name, rows, line, command)
    table = pd.DataFrame([r for _, rows, _ in results for r in rows])
    table.to_csv(args.out / "label_issues.csv", index=False)
    print(f"\nwrote {args.out / 'label_issues.csv'}")


if __name__ == "__main__":
    main()
