"""`python -m curriculum analyze scores=...`: how much the members of a score run agree, against independence;
how stable the per-example learning order is; and, with injected noise, how well each score finds it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from ..analysis.agreement import member_agreement
from ..analysis.cka import cka_matrix
from ..analysis.families import family_agreement
from ..analysis.noise_detection import noise_auroc
from ..analysis.order_stability import order_stability
from ..analysis.plots import agreement_figure, consensus_by_class, data_map
from ..analysis.report import write_report
from ..data.datasets import DataConfig, load_data
from ..engine import resolve_device
from ..errors import UserError
from ..io.files import atomic_write
from ..io.score_source import member_paths, score_run_dir
from ..io.scorefile import read_scores
from ..scoring.derive import member_files
from ..scoring.representations import member_representations
from .common import say, tracker, writable_dir


def analyze(cfg: DictConfig) -> None:
    track = tracker(cfg)
    score_dir = score_run_dir(str(cfg.scores), track)
    out_dir = writable_dir(cfg.out_dir)
    paths = member_paths(score_dir)
    if len(paths) < 2:
        raise UserError(f"{score_dir}/dynamics holds {len(paths)} member files; agreement needs at least 2")
    stats = member_agreement(member_files(paths))
    scores, meta = read_scores(score_dir / "scores.parquet")
    features, notes = test_representations(meta, paths)
    agreement = pd.DataFrame(stats["rows"])
    order = order_stability(stats["speed"], stats["arch"])
    families = family_agreement(stats["speed"], stats["final"], stats["arch"],
                                cka_matrix(features) if features is not None else None)
    noise = noise_auroc(scores)
    tables = {"agreement.csv": agreement.drop(columns=["histogram", "histogram_independent"]),
              "order_stability.csv": order, "families.csv": families, "noise_auroc.csv": noise}
    written = [name for name, table in tables.items() if table is not None]
    for name in written:
        atomic_write(out_dir / name, lambda f, table=tables[name]: table.to_csv(f, index=False))
    agreement_figure(out_dir / "agreement.png", agreement, len(paths))
    data_map(out_dir / "data_map.png", scores, f"{stats['dataset']}: {len(paths)} members, {len(scores)} examples")
    consensus_by_class(out_dir / "consensus_by_class.png", scores)
    written += ["agreement.png", "data_map.png", "consensus_by_class.png", "report.md"]
    report = write_report(out_dir / "report.md", score_dir, stats, agreement, order, noise, families, notes)
    with track.run("analyze", {"stage": "analyze", "scores_dir": score_dir.resolve(),
                               "dataset": stats["dataset"]}) as run_id:
        last = agreement[agreement["split"] == "train"].iloc[-1]
        track.log_metrics(run_id, {"tpa_final": [(0, last["tpa"])], "tpa_independent_final": [(0, last["tpa_independent"])]})
        for name in written:
            track.log_artifact(run_id, out_dir / name)
    print(report)
    say(f"wrote {', '.join(written)} in {out_dir} (MLflow run {run_id})")


def test_representations(meta: dict, paths: list[Path]) -> tuple[list | None, list[str]]:
    """The members' penultimate representations of the test split, from their saved weights and the data settings
    the scores keep (None when there are none), and the lines that say what is missing and why."""
    settings = meta.get("data")
    if settings is None:
        return None, ["no representations: these scores were made before `score` kept the data settings and the "
                      "members' final weights; score again into a new out_dir to compare them"]
    try:
        data = load_data(DataConfig(**settings))
    except UserError as err:
        return None, [f"no representations: the data the scores were made with cannot be loaded again ({err})"]
    if data.fingerprint != meta.get("fingerprint"):
        return None, [f"no representations: the data at {settings.get('path') or settings['root']} are no longer "
                      f"those the scores were made with (fingerprint {data.fingerprint}, scores {meta.get('fingerprint')})"]
    features, notes = member_representations(paths, data, resolve_device("auto"))
    return (features if any(f is not None for f in features) else None), notes
