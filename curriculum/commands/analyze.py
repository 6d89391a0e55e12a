"""`python -m curriculum analyze scores=...`: how much the members of a score run agree, against independence;
how stable the per-example learning order is; and, with injected noise, how well each score finds it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from ..analysis.agreement import member_agreement
from ..analysis.noise_detection import noise_auroc
from ..analysis.order_stability import order_stability
from ..analysis.plots import agreement_figure
from ..errors import UserError
from ..io.files import atomic_write
from ..io.score_source import member_paths, score_run_dir
from ..io.scorefile import read_scores
from ..scoring.derive import member_files
from .common import say, tracker, writable_dir


def analyze(cfg: DictConfig) -> None:
    track = tracker(cfg)
    score_dir = score_run_dir(str(cfg.scores), track)
    out_dir = writable_dir(cfg.out_dir)
    paths = member_paths(score_dir)
    if len(paths) < 2:
        raise UserError(f"{score_dir}/dynamics holds {len(paths)} member files; agreement needs at least 2")
    stats = member_agreement(member_files(paths))
    scores, _ = read_scores(score_dir / "scores.parquet")
    agreement = pd.DataFrame(stats["rows"])
    order = order_stability(stats["speed"], stats["arch"])
    noise = noise_auroc(scores)
    table = agreement.drop(columns=["histogram", "histogram_independent"])
    atomic_write(out_dir / "agreement.csv", lambda f: table.to_csv(f, index=False))
    atomic_write(out_dir / "order_stability.csv", lambda f: order.to_csv(f, index=False))
    if noise is not None:
        atomic_write(out_dir / "noise_auroc.csv", lambda f: noise.to_csv(f, index=False))
    agreement_figure(out_dir / "agreement.png", agreement, len(paths))
    report = write_report(out_dir / "report.md", score_dir, stats, agreement, order, noise)
    with track.run("analyze", {"stage": "analyze", "scores_dir": score_dir.resolve(),
                               "dataset": stats["dataset"]}) as run_id:
        last = agreement[agreement["split"] == "train"].iloc[-1]
        track.log_metrics(run_id, {"tpa_final": [(0, last["tpa"])], "tpa_independent_final": [(0, last["tpa_independent"])]})
        for name in ("agreement.csv", "order_stability.csv", "agreement.png", "report.md") + (
                ("noise_auroc.csv",) if noise is not None else ()):
            track.log_artifact(run_id, out_dir / name)
    print(report)
    say(f"wrote {out_dir}/report.md, agreement.csv, order_stability.csv, agreement.png (MLflow run {run_id})")


def write_report(path: Path, score_dir: Path, stats: dict, agreement: pd.DataFrame, order: pd.DataFrame,
                 noise: pd.DataFrame | None) -> str:
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
    if noise is not None:
        lines += ["", "AUROC of each score (hardness) for finding the flipped labels:", "",
                  "| score | AUROC |", "|---|---|"] + [f"| {r.score} | {r.auroc:.4f} |" for r in noise.itertuples()]
    text = "\n".join(lines) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))
    return text
