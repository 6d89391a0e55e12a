"""docs/results.md's first section: the members' agreement, tie-breaks and every curriculum study's comparison."""

from __future__ import annotations

import os
import platform
import shutil

import pandas as pd

from ...analysis.comparison import paired_difference
from .common import Context, arm_metric, command_line, comparison_body, wall_minutes

HEADING = "# Reproduction study: Fashion-MNIST"


def curriculum_section(ctx: Context) -> list[str]:
    """The agreement of every score run, order stability, noise AUROC, tie-breaks, then each study's table."""
    lines = [HEADING, "", f"Command: `{command_line(ctx)}`  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
             f"CPU only; wall time from the first run's start to the last one's end {wall_minutes(ctx):.0f} min.", ""]
    lines += agreement_lines(ctx) + stability_lines(ctx) + tie_lines(ctx)
    for study in ctx.plan.studies:
        figure = ctx.docs / f"results-{study}.png"
        shutil.copyfile(ctx.out / f"compare-{study}" / "learning_curves.png", figure)
        lines += ["", f"## {study}", "", comparison_body(ctx, study), "", f"![learning curves of {study}]({figure.name})"]
    return lines


def agreement_lines(ctx: Context) -> list[str]:
    """Each score run's agreement at its last checkpoint, training and test split."""
    lines = ["## Agreement (last checkpoint, members' own training labels)", "",
             "| ensemble | split | mean acc | TPA | TPA indep. | right in all | indep. | right in none | indep. |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in ctx.plan.scores:
        a = pd.read_csv(ctx.out / f"analyze-{name}" / "agreement.csv")
        for row in (a[a["split"] == "train"].iloc[-1], a[a["split"] == "test"].iloc[-1]):
            lines.append(f"| {name} | {row['split']} | {row['mean_acc']:.4f} | {row['tpa']:.4f} | "
                         f"{row['tpa_independent']:.4f} | {row['all_right']:.4f} | {row['all_right_independent']:.4f} | "
                         f"{row['none_right']:.4f} | {row['none_right_independent']:.4f} |")
    return lines


def stability_lines(ctx: Context) -> list[str]:
    """Learning-order Spearman of the report's mixed ensemble, and each score's noise AUROC on the noisy one."""
    mixed, noisy = ctx.plan.report["order_stability"], ctx.plan.report["noise_auroc"]
    order = pd.read_csv(ctx.out / f"analyze-{mixed}" / "order_stability.csv")
    lines = ["", "Spearman correlation of per-example learning speed between members (mixed cnn+mlp ensemble):", ""]
    for kind, g in order.groupby("kind", sort=False):
        lines.append(f"- {kind}: mean {g['spearman'].mean():.4f} over {len(g)} pair(s)")
    noise = pd.read_csv(ctx.out / f"analyze-{noisy}" / "noise_auroc.csv")
    return lines + ["", "AUROC of each score for finding the 40% flipped labels (noisy ensemble):", "",
                    "| score | AUROC |", "|---|---|"] + [f"| {r.score} | {r.auroc:.4f} |" for r in noise.itertuples()]


def tie_lines(ctx: Context) -> list[str]:
    """Consensus ties broken by margin against a seeded shuffle, paired over the seeds both arms have."""
    lines = ["", "Breaking consensus ties by margin (`sampler.ties=margin`, the default) against a seeded shuffle "
             "(`sampler.ties=random`):", ""]
    for study in ctx.plan.report["ties"]:
        margin = arm_metric(ctx, study, "consensus/linear")
        shuffle = arm_metric(ctx, study, "consensus/linear[sampler.ties=random]")
        mean, low, high, pairs = paired_difference(margin, shuffle)
        lines.append(f"- {study}: margin − random ties {100 * mean:+.2f} points [{100 * low:+.2f}, {100 * high:+.2f}] "
                     f"(test accuracy at best validation, paired over {pairs} seeds)")
    return lines
