"""docs/results.md's section of the cost study: accuracy against example-passes for standard training, InfoBatch and
pruning by the score run, with the scoring charged shared over AMORTISED_OVER runs (curriculum/cost.py)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ...cost import AMORTISED_OVER, RECORDING_SHARE, passes_to_reach
from .common import Context, command_line, comparison_body, wall_minutes

HEADING = "## Cheaper training: example-passes at standard's accuracy"


def cost_section(ctx: Context) -> list[str]:
    """Per study: each arm's accuracy, its difference from standard, its example-passes against standard's (its own
    and with the scoring's share), and whether it is within `within` of standard's accuracy; then each comparison."""
    within = float(ctx.plan.report["within"])
    day = pd.to_datetime(ctx.runs["end_time"]).max().strftime("%Y-%m-%d")
    lines = [HEADING, "", f"Command: `{command_line(ctx)}`; run {day}; wall time {wall_minutes(ctx):.0f} min.  ",
             f"Data: {ctx.plan.report['data']}. Passes: forward and backward example-passes of the target; "
             f"\"with scoring\" adds the score run's passes (its members' training, and their recording at "
             f"{RECORDING_SHARE:.2f} of a training pass) shared over {AMORTISED_OVER} runs. \"At standard's "
             f"accuracy\": mean test accuracy at the best validation point within {100 * within:.1f} points of "
             f"standard's. \"To reach\": passes (with scoring) until a run's first evaluation whose validation "
             f"accuracy is within {100 * within:.1f} points of standard's mean best, mean over the seeds that reach it "
             f"(k/n). Wall: the train command's seconds, mean over seeds (the machine may have been shared). "
             f"InfoBatch prunes epochs 1 to floor({ctx.plan.report.get('anneal', 0.875)} x epochs) - 1 (epoch 0 has "
             f"no losses yet), so at 2 epochs it prunes none.", ""]
    for study in ctx.plan.studies:
        table = pd.read_csv(ctx.out / f"compare-{study}" / "comparison.csv").set_index("arm")
        lines += [f"### {study}", "", *cost_table(ctx, study, within), "", verdict(table, within), "",
                  comparison_body(ctx, study), ""]
    return lines


GOAL = 0.6   # the goal: standard's accuracy with at least 40% fewer example-passes, scoring included


def verdict(table: pd.DataFrame, within: float) -> str:
    """The cheapest arm other than standard and InfoBatch at standard's accuracy (scoring shared) and whether it
    meets the goal: at most GOAL of standard's passes, and fewer than InfoBatch's."""
    standard = table.loc["standard"]
    own = table["passes_mean"] if "passes_mean" in table else pd.Series(np.nan, table.index)
    shared = (table["amortised_mean"].fillna(own) if "amortised_mean" in table else own) / standard.get(
        "passes_mean", np.nan)
    at_accuracy = table["test@best_val_mean"] >= standard["test@best_val_mean"] - within
    infobatch = shared.get("infobatch", np.nan)
    candidates = shared[at_accuracy & ~table.index.isin(["standard", "infobatch"])].dropna()
    reference = f"InfoBatch: {infobatch:.2f}" + ("" if at_accuracy.get("infobatch", False) else ", below "
                                                 "standard's accuracy")
    if candidates.empty:
        return (f"No arm but InfoBatch reaches standard's accuracy (within {100 * within:.1f} points; "
                f"{reference}): the goal is missed.")
    best = candidates.idxmin()
    met = candidates[best] <= GOAL and (pd.isna(infobatch) or candidates[best] < infobatch)
    return (f"Cheapest at standard's accuracy, scoring included: {best}, at {candidates[best]:.2f} of standard's "
            f"passes ({reference}). Goal (at most {GOAL:.2f} of standard's, and below InfoBatch): "
            f"{'met' if met else 'missed'}.")


def cost_table(ctx: Context, study: str, within: float) -> list[str]:
    """One row per arm of the study's comparison (compare-<study>/comparison.csv)."""
    table = pd.read_csv(ctx.out / f"compare-{study}" / "comparison.csv").set_index("arm")
    standard = table.loc["standard"]
    runs = ctx.runs.set_index("run_id")
    target = float(runs.loc[standard["run_ids"].split(","), "metrics.val/acc_best"].mean()) - within
    lines = ["| arm | n | test@best_val (%) | vs standard (95% CI) | passes (M) | of standard's | with scoring (M) | "
             "of standard's | at standard's accuracy | to reach (M, k/n) | wall (s) |", "|" + "---|" * 11]
    for arm, row in table.iterrows():
        own, shared = row["passes_mean"], row.get("amortised_mean", float("nan"))
        shared = own if pd.isna(shared) else shared
        ci = "–" if arm == "standard" else (f"{100 * row['vs_standard']:+.2f} [{100 * row['vs_standard_lo']:+.2f}, "
                                             f"{100 * row['vs_standard_hi']:+.2f}]")
        reached = row["test@best_val_mean"] >= standard["test@best_val_mean"] - within
        accuracy = f"{100 * row['test@best_val_mean']:.2f} ± {100 * row['test@best_val_std']:.2f}"
        base = standard["passes_mean"]
        lines.append(f"| {arm} | {row['n']} | {accuracy} | {ci} | {own / 1e6:.2f} | {own / base:.2f} | "
                     f"{shared / 1e6:.2f} | {shared / base:.2f} | {'yes' if reached else 'no'} | "
                     f"{reach_cell(ctx, row['run_ids'].split(','), target)} | "
                     f"{runs.loc[row['run_ids'].split(','), 'metrics.wall_seconds'].mean():.0f} |")
    return lines


def reach_cell(ctx: Context, run_ids: list[str], target: float) -> str:
    """Mean example-passes (with the scoring's share) until validation accuracy `target`, over the runs that reach
    it, and how many do."""
    costs = [run_reach(ctx, run_id, target) for run_id in run_ids]
    reached = [c for c in costs if c is not None]
    mean = f"{np.mean(reached) / 1e6:.2f}" if reached else "never"
    return f"{mean} ({len(reached)}/{len(costs)})"


def run_reach(ctx: Context, run_id: str, target: float) -> float | None:
    """One run's passes until `target`, plus its share of the scoring (its cost/ metrics); None: never."""
    from mlflow.tracking import MlflowClient

    run = ctx.runs.set_index("run_id").loc[run_id]
    with tempfile.TemporaryDirectory() as tmp:
        client = MlflowClient(f"sqlite:///{ctx.out / 'mlflow.db'}")
        history = json.loads(Path(client.download_artifacts(run_id, "history.json", tmp)).read_text())
    passes = passes_to_reach(history, target, json.loads(run["tags.training"])["batch_size"])
    scoring = run.get("metrics.cost/scoring_example_passes", np.nan)
    return None if passes is None else passes + (0.0 if pd.isna(scoring) else scoring / AMORTISED_OVER)
