"""report.md of the analyze command: agreement per checkpoint, order stability and noise AUROC as tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io.files import atomic_write


def write_report(path: Path, score_dir: Path, stats: dict, agreement: pd.DataFrame, order: pd.DataFrame,
                 noise: pd.DataFrame | None, families: pd.DataFrame | None = None) -> str:
    members = len(stats["arch"])
    lines = [f"# Agreement analysis of {score_dir}", "",
             f"{stats['dataset']}, {members} members ({', '.join(sorted(set(stats['arch'])))}), "
             f"{len(stats['checkpoints'])} checkpoints. Independence = members with the same accuracies erring "
             f"independently.", "",
             "| split | epoch | mean acc | TPA | TPA indep. | right in all | indep. | right in none | indep. |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, r in agreement.iterrows():
        lines.append(f"| {r['split']} | {r['epoch']:.3g} | {r['mean_acc']:.4f} | {r['tpa']:.4f} | "
                     f"{r['tpa_independent']:.4f} | {r['all_right']:.4f} | {r['all_right_independent']:.4f} | "
                     f"{r['none_right']:.4f} | {r['none_right_independent']:.4f} |")
    lines += ["", "Spearman correlation of per-example learning speed (share of checkpoints right):", "",
              "| comparison | n | mean | min | max |", "|---|---|---|---|---|"]
    for kind, g in order.groupby("kind", sort=False):
        lines.append(f"| {kind} | {len(g)} | {g['spearman'].mean():.4f} | {g['spearman'].min():.4f} | "
                     f"{g['spearman'].max():.4f} |")
    if families is not None:
        lines += ["", f"Architecture families: learning order (Spearman of learning speed on the training split) and "
                      f"correctness at the last checkpoint ({stats['final_split']} split: both right or both wrong; "
                      f"independent = members of the same accuracies erring independently; kappa = agreement beyond "
                      f"independence), averaged over the member pairs:", "",
                  "| families | pairs | Spearman | agreement | indep. | kappa |", "|---|---|---|---|---|---|"]
        lines += [f"| {r.family_a} – {r.family_b} | {r.pairs} | {r.spearman:.4f} | {r.agreement:.4f} | "
                  f"{r.agreement_independent:.4f} | {r.kappa:.4f} |" for r in families.itertuples()]
    if noise is not None:
        lines += ["", "AUROC of each score (hardness) for finding the flipped labels:", "",
                  "| score | AUROC |", "|---|---|"] + [f"| {r.score} | {r.auroc:.4f} |" for r in noise.itertuples()]
    text = "\n".join(lines) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))
    return text
