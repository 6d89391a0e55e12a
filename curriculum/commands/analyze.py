"""`python -m curriculum analyze scores=...`: how much the members of a score run agree, against independence;
how stable the per-example learning order is; and, with injected noise, how well each score finds it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from omegaconf import DictConfig

from ..analysis.agreement import member_agreement
from ..analysis.cka import cka_matrix
from ..analysis.families import family_agreement
from ..analysis.gallery import SHOWN_SCORE, gallery_picks
from ..analysis.noise_detection import noise_auroc
from ..analysis.order_stability import order_stability
from ..analysis.plots import agreement_figure, consensus_by_class, data_map, gallery
from ..analysis.report import write_report
from ..data.datasets import DataConfig, load_data
from ..engine import resolve_device
from ..errors import UserError
from ..io.files import atomic_write
from ..io.score_source import member_paths, score_run_dir
from ..io.scorefile import read_scores
from ..scoring.derive import member_files
from ..scoring.representations import majority_vote, member_outputs
from .common import say, tracker, writable_dir

MAX_GALLERIES = 20   # given labels with a gallery (CIFAR-100's hundred would bury the report's folder)


def analyze(cfg: DictConfig) -> None:
    track = tracker(cfg)
    score_dir = score_run_dir(str(cfg.scores), track)
    out_dir = writable_dir(cfg.out_dir)
    paths = member_paths(score_dir)
    if len(paths) < 2:
        raise UserError(f"{score_dir}/dynamics holds {len(paths)} member files; agreement needs at least 2")
    stats = member_agreement(member_files(paths))
    scores, meta = read_scores(score_dir / "scores.parquet")
    data, notes = reload_data(meta)
    features, predicted, missing = member_outputs(paths, data, resolve_device("auto")) if data else ([], [], [])
    notes += missing
    features = features if any(f is not None for f in features) else None
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
    if data is not None:
        written += galleries(out_dir, scores, data, [p for p in predicted if p is not None], meta["data"]["root"])
    report = write_report(out_dir / "report.md", score_dir, stats, agreement, order, noise, families, notes)
    with track.run("analyze", {"stage": "analyze", "scores_dir": score_dir.resolve(),
                               "dataset": stats["dataset"]}) as run_id:
        last = agreement[agreement["split"] == "train"].iloc[-1]
        track.log_metrics(run_id, {"tpa_final": [(0, last["tpa"])], "tpa_independent_final": [(0, last["tpa_independent"])]})
        for name in written:
            track.log_artifact(run_id, out_dir / name)
    print(report)
    say(f"wrote {', '.join(written)} in {out_dir} (MLflow run {run_id})")


def reload_data(meta: dict):
    """The data the scores were made with, from the settings they keep (None with a line saying why not): for the
    members' representations and the galleries' images."""
    settings = meta.get("data")
    if settings is None:
        return None, ["no representations or galleries: these scores were made before `score` kept the data settings "
                      "and the members' final weights; score again into a new out_dir to get them"]
    try:
        data = load_data(DataConfig(**settings))
    except UserError as err:
        return None, [f"no representations or galleries: the data the scores were made with cannot be loaded ({err})"]
    if data.fingerprint != meta.get("fingerprint"):
        return None, [f"no representations or galleries: the data at {settings.get('path') or settings['root']} are "
                      f"no longer those the scores were made with (fingerprint {data.fingerprint}, scores "
                      f"{meta.get('fingerprint')})"]
    return data, []


def galleries(out_dir: Path, scores: pd.DataFrame, data, predicted: list, root: str) -> list[str]:
    """gallery-<label>.png for the first MAX_GALLERIES given labels: the easiest, the hardest and the most likely
    mislabelled examples, each under its given label, the members' majority prediction (from their final weights;
    '?' without them) and its score. Folder datasets show the original files (their paths are below `root`)."""
    majority = majority_vote(predicted, data.num_classes) if predicted else None
    position = pd.Index(data.train.index.numpy()).get_indexer(scores["index"])   # scores row -> data.train position
    names = []
    for label in sorted(scores["label"].unique())[:MAX_GALLERIES]:
        rows = {}
        for kind, picked in gallery_picks(scores, label).items():
            shown = SHOWN_SCORE[kind]
            rows[kind] = [(example_image(data, scores, r, position[r], root),
                           f"{label}→{'?' if majority is None else majority[position[r]]}\n"
                           f"{shown} {scores[shown].iloc[r]:.2f}") for r in picked]
        name = f"gallery-{label}.png"
        gallery(out_dir / name, rows, f"{data.name}, given label {label}: given→majority prediction, score")
        names.append(name)
    return names


def example_image(data, scores: pd.DataFrame, row: int, position: int, root: str) -> np.ndarray:
    """The image of a scores row as (H, W) or (H, W, 3) uint8: the original file for folder datasets."""
    if "path" in scores and data.name == "folder":
        with Image.open(Path(root) / scores["path"].iloc[row]) as image:
            return np.asarray(image.convert("RGB"))
    image = data.train.x[position].cpu().numpy()                            # (C, H, W)
    return image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
