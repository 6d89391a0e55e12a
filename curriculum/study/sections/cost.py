"""docs/results.md's section of the cost study: accuracy against example-passes for standard training, InfoBatch and
pruning by the score run, with the scoring charged shared over AMORTISED_OVER runs (curriculum/cost.py)."""

from __future__ import annotations

import pandas as pd

from ...cost import AMORTISED_OVER
from .common import Context, command_line, comparison_body, wall_minutes

HEADING = "## Cheaper training: example-passes at standard's accuracy"


def cost_section(ctx: Context) -> list[str]:
    """Per study: each arm's accuracy, its difference from standard, its example-passes against standard's (its own
    and with the scoring's share), and whether it is within `within` of standard's accuracy; then each comparison."""
    within = float(ctx.plan.report["within"])
    lines = [HEADING, "", f"Command: `{command_line(ctx)}`; wall time {wall_minutes(ctx):.0f} min.  ",
             f"Data: {ctx.plan.report['data']}. Passes: forward and backward example-passes of the target; "
             f"\"with scoring\" adds the score run's passes (its members' training, and their recording at 1/3 of a "
             f"training pass) shared over {AMORTISED_OVER} runs. \"At standard's accuracy\": mean test accuracy at the "
             f"best validation point within {100 * within:.1f} points of standard's.", ""]
    for study in ctx.plan.studies:
        lines += [f"### {study}", "", *cost_table(ctx, study, within), "", comparison_body(ctx, study), ""]
    return lines


def cost_table(ctx: Context, study: str, within: float) -> list[str]:
    table = pd.read_csv(ctx.out / f"compare-{study}" / "comparison.csv").set_index("arm")
    standard = table.loc["standard"]
    lines = ["| arm | n | test@best_val (%) | vs standard (95% CI) | passes (M) | of standard's | with scoring (M) | "
             "of standard's | at standard's accuracy |", "|---|---|---|---|---|---|---|---|---|"]
    for arm, row in table.iterrows():
        own, shared = row["passes_mean"], row.get("amortised_mean", float("nan"))
        shared = own if pd.isna(shared) else shared
        ci = "–" if arm == "standard" else (f"{100 * row['vs_standard']:+.2f} [{100 * row['vs_standard_lo']:+.2f}, "
                                             f"{100 * row['vs_standard_hi']:+.2f}]")
        reached = row["test@best_val_mean"] >= standard["test@best_val_mean"] - within
        accuracy = f"{100 * row['test@best_val_mean']:.2f} ± {100 * row['test@best_val_std']:.2f}"
        base = standard["passes_mean"]
        lines.append(f"| {arm} | {row['n']} | {accuracy} | {ci} | {own / 1e6:.2f} | {own / base:.2f} | "
                     f"{shared / 1e6:.2f} | {shared / base:.2f} | {'yes' if reached else 'no'} |")
    return lines
