"""Run a study plan through the command line, resumably: score runs (score itself skips members made with the same
settings), cleanlab's verdicts, each arm's missing seeds, then each study's comparison and the analyses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from .plan import StudyPlan, TrainCall, done_seeds, missing_runs


def run_cli(*args: str, store: str) -> str:
    """`python -m curriculum <args>` against `store`, its stdout; a failure stops the study."""
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    device = ["device=auto"] if args[0] in ("score", "train") else []
    cmd = [sys.executable, "-m", "curriculum", *args, f"mlflow.tracking_uri={store}", *device]
    print("$", " ".join(cmd[1:]), flush=True)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return proc.stdout


def store_runs(store: str) -> pd.DataFrame:
    """Every run of the `curriculum` experiment in `store` (empty before the first)."""
    import mlflow

    mlflow.set_tracking_uri(store)
    if mlflow.get_experiment_by_name("curriculum") is None:
        return pd.DataFrame()
    return mlflow.search_runs(experiment_names=["curriculum"])


def run_plan(plan: StudyPlan, out: Path, store: str, seeds: int, extra_score: list[str],
             extra_train: list[str]) -> None:
    """Score runs (and cleanlab's verdicts of each), every arm's missing seeds, the comparisons, the analyses."""
    if plan.peer:
        from .cross_validation import require_cleanlab

        require_cleanlab()   # before the first score run, not after it
    for name, overrides in plan.scores.items():
        run_cli("score", *overrides, *extra_score, f"out_dir={out / f'score-{name}'}", store=store)
        if plan.peer:
            cross_validate(out / f"cv-{name}.npz", [*overrides, *extra_score])
    from ..io.score_source import scores_checksum

    runs = store_runs(store)

    def done(study: str, overrides: list[str], scores: str) -> set[int]:
        return done_seeds(runs, study, overrides, scores_checksum(out / scores))

    for call in missing_runs(plan, seeds, done, extra_train):
        train(call, out, store)
    for study in plan.studies:
        run_cli("compare", f"study={study}", f"out_dir={out / f'compare-{study}'}", store=store)
    for name in analyses(plan, out):
        run_cli("analyze", f"scores={out / f'score-{name}'}", f"out_dir={out / f'analyze-{name}'}", store=store)


def train(call: TrainCall, out: Path, store: str) -> None:
    run_cli("train", "-m", *call.overrides, f"study={call.study}", f"scores={out / call.scores}",
            "seed=" + ",".join(map(str, call.seeds)), store=store)


def cross_validate(path: Path, overrides: list[str]) -> None:
    """cleanlab's verdicts beside `path` (cross_validation.py as its own process, as a cleanlab user runs it)."""
    subprocess.run([sys.executable, "-m", "curriculum.study.cross_validation", str(path), *overrides], check=True,
                   env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"))


def analyses(plan: StudyPlan, out: Path) -> list[str]:
    """The plan's analyses, and with reanalyze_stale every other score run in `out` whose analysis is missing or
    older than its scores."""
    names = list(plan.analyze)
    if plan.reanalyze_stale:
        names += [p.name.removeprefix("score-") for p in sorted(out.glob("score-*"))
                  if p.name.removeprefix("score-") not in names and not analysis_is_current(out, p.name[6:])]
    return names


def analysis_is_current(out: Path, name: str) -> bool:
    """analyze-<name> was made from score-<name> as it is now (written after its scores)."""
    analysis, scores = out / f"analyze-{name}" / "agreement.csv", out / f"score-{name}" / "scores.parquet"
    return analysis.is_file() and scores.is_file() and analysis.stat().st_mtime >= scores.stat().st_mtime
