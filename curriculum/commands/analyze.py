"""`python -m curriculum analyze scores=...`: how much the members of a score run agree, against independence;
how stable the per-example learning order is; and, with injected noise, how well each score finds it."""

from __future__ import annotations

import pandas as pd
from omegaconf import DictConfig

from ..analysis.agreement import member_agreement
from ..analysis.families import family_agreement
from ..analysis.noise_detection import noise_auroc
from ..analysis.order_stability import order_stability
from ..analysis.plots import agreement_figure, consensus_by_class, data_map
from ..analysis.report import write_report
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
    families = family_agreement(stats["speed"], stats["final"], stats["arch"]) if len(set(stats["arch"])) > 1 else None
    noise = noise_auroc(scores)
    table = agreement.drop(columns=["histogram", "histogram_independent"])
    atomic_write(out_dir / "agreement.csv", lambda f: table.to_csv(f, index=False))
    atomic_write(out_dir / "order_stability.csv", lambda f: order.to_csv(f, index=False))
    if noise is not None:
        atomic_write(out_dir / "noise_auroc.csv", lambda f: noise.to_csv(f, index=False))
    if families is not None:
        atomic_write(out_dir / "families.csv", lambda f: families.to_csv(f, index=False))
    agreement_figure(out_dir / "agreement.png", agreement, len(paths))
    data_map(out_dir / "data_map.png", scores, f"{stats['dataset']}: {len(paths)} members, {len(scores)} examples")
    consensus_by_class(out_dir / "consensus_by_class.png", scores)
    report = write_report(out_dir / "report.md", score_dir, stats, agreement, order, noise, families)
    with track.run("analyze", {"stage": "analyze", "scores_dir": score_dir.resolve(),
                               "dataset": stats["dataset"]}) as run_id:
        last = agreement[agreement["split"] == "train"].iloc[-1]
        track.log_metrics(run_id, {"tpa_final": [(0, last["tpa"])], "tpa_independent_final": [(0, last["tpa_independent"])]})
        for name in ("agreement.csv", "order_stability.csv", "agreement.png", "data_map.png", "consensus_by_class.png",
                     "report.md") + (("noise_auroc.csv",) if noise is not None else ()) + (
                ("families.csv",) if families is not None else ()):
            track.log_artifact(run_id, out_dir / name)
    print(report)
    say(f"wrote {out_dir}/report.md, agreement.csv, order_stability.csv, agreement.png, data_map.png, "
        f"consensus_by_class.png (MLflow run {run_id})")
