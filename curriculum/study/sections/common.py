"""What every section of docs/results.md reads: the study's outputs, its MLflow runs, the command that made them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..plan import StudyPlan


@dataclass
class Context:
    """One study's outputs: what its section is rendered from."""
    name: str                  # the study plan's name (study=NAME)
    plan: StudyPlan
    out: Path                  # compare-*/, analyze-*/, score-*/ and command-<name>.txt
    runs: pd.DataFrame         # every run of the study's MLflow store (mlflow.search_runs)
    docs: Path                 # the folder of results.md, where figures are copied


def command_line(ctx: Context) -> str:
    """The command that ran the study, as recorded in <out>/command-<name>.txt."""
    path = ctx.out / f"command-{ctx.name}.txt"
    return path.read_text().strip() if path.is_file() else "(not recorded)"


def wall_minutes(ctx: Context) -> float:
    """From the first run's start to the last run's end of the study's runs: the train runs of its studies, its
    score runs and their members."""
    runs = ctx.runs
    ours = runs["tags.study"].isin(list(ctx.plan.studies)) if "tags.study" in runs else pd.Series(False, runs.index)
    if "tags.out_dir" in runs:
        ours |= runs["tags.out_dir"].isin([str(ctx.out / f"score-{name}") for name in ctx.plan.scores])
    if "tags.mlflow.parentRunId" in runs:   # the score runs' members
        ours |= runs["tags.mlflow.parentRunId"].isin(runs.loc[ours, "run_id"])
    return (runs.loc[ours, "end_time"].max() - runs.loc[ours, "start_time"].min()).total_seconds() / 60


def arm_metric(ctx: Context, study: str, arm: str, metric: str = "test/acc_at_best_val") -> pd.Series:
    """`metric` of each run (by seed) that compare counted in `arm` of `study`."""
    table = pd.read_csv(ctx.out / f"compare-{study}" / "comparison.csv").set_index("arm")
    runs = ctx.runs[ctx.runs["run_id"].isin(table.loc[arm, "run_ids"].split(","))]
    return pd.Series(runs[f"metrics.{metric}"].to_numpy(), index=runs["tags.seed"].astype(int).to_numpy())


def comparison_body(ctx: Context, study: str) -> str:
    """compare's comparison.md without its title."""
    return (ctx.out / f"compare-{study}" / "comparison.md").read_text().strip().split("\n", 2)[2].strip()


def pm(row, name: str) -> str:
    """`name` of a row as mean ± std (the std when the row has one)."""
    std = row.get(f"{name}_std", np.nan)
    return f"{row[name]:.4f}" + ("" if pd.isna(std) else f" ± {std:.4f}")
