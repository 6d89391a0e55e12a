"""`python -m curriculum export scores=... order=consensus keep=0.7 format=csv`: an ordering of the training
examples, or the kept subset (its first `keep`), as the dataset's own indices (and file paths for folder datasets),
for any other tool; the settings that made it beside it in export.json, and both logged to an MLflow run tagged
stage=export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from ..api import ORDERS, ordering_positions
from ..data.datasets import load_data
from ..errors import UserError
from ..io.files import atomic_write
from ..io.score_source import resolve_scores
from ..schedule.pacing import kept_count, parse_end
from ..schedule.sampler import check_strata, ordering_column
from .common import data_config, estimated_clean_share, say, tracker, writable_dir

FORMATS = ("csv", "npy", "json")
ORDER_SETTINGS = ("order", "score", "balanced", "ties", "strata", "drop_hardest", "seed")  # as api.ordering takes them


def export(cfg: DictConfig) -> None:
    fmt, keep = str(cfg.format), parse_keep(cfg.keep)
    if fmt not in FORMATS:
        raise UserError(f"format={fmt!r} must be one of {', '.join(FORMATS)}")
    if str(cfg.order) not in ORDERS:
        raise UserError(f"order={cfg.order!r} must be one of {', '.join(ORDERS)}")
    check_strata(cfg.strata, cfg.drop_hardest, prefix="")
    out_dir = writable_dir(cfg.out_dir)
    data = load_data(data_config(cfg))        # the scores are checked against these data's labels, as `train` does
    track = tracker(cfg)
    source = resolve_scores(str(cfg.scores), track, data)
    settings = {key: OmegaConf.to_container(cfg, resolve=True)[key] for key in ORDER_SETTINGS}
    settings["score"] = ordering_column(source.frame, settings["score"], "score", str(source.path))  # imports: `score`
    positions = ordering_positions(source.frame, settings["score"], settings["order"], settings["seed"],
                                   settings["balanced"], settings["ties"], settings["strata"], settings["drop_hardest"])
    fraction = estimated_clean_share(source, settings["score"], "keep", "score") if keep == "auto" else keep
    kept = positions[:kept_count(fraction, len(positions))]
    rows = exported_rows(source.frame, kept, data.paths.get("train"))
    about = {"settings": settings | {"keep": str(cfg.keep), "kept_fraction": fraction}, "rows": len(rows),
             "of": len(positions), "index": "the dataset's own index of each example (data.train.index), in order",
             "scores": {"path": str(Path(source.path).resolve()), "run_id": source.run_id, "sha256": source.sha256},
             "data": {"name": data.name, "fingerprint": data.fingerprint}}
    path = out_dir / f"ordering.{fmt}"
    atomic_write(path, lambda f: write_rows(f, rows, fmt, about))
    atomic_write(out_dir / "export.json", lambda f: f.write(json.dumps(about, indent=1).encode()))
    tags = {"stage": "export", "order": settings["order"], "dataset": data.name, "fingerprint": data.fingerprint,
            "scores_run_id": source.run_id or "none", "scores_sha256": source.sha256}
    with track.run("export", tags) as run_id:
        track.log_params(run_id, about["settings"])
        track.log_artifact(run_id, path)
        track.log_artifact(run_id, out_dir / "export.json")
    say(f"wrote {path} ({len(rows)} of {len(positions)} examples, {settings['order']} order"
        f"{'' if fraction == 1 else f', the first {fraction:.3g}'}) and export.json (MLflow run {run_id})")


def parse_keep(keep) -> float | str:
    """keep: the share of the ordering exported, in (0, 1], or auto (the share pacing.end=auto would keep)."""
    try:
        return parse_end(keep)
    except UserError:
        raise UserError(f"keep={keep!r} must be a fraction in (0, 1] (the share of the ordering exported) or auto "
                        f"(the share the consensus scores say is labelled right)") from None


def exported_rows(frame: pd.DataFrame, positions: np.ndarray, paths: np.ndarray | None = None) -> pd.DataFrame:
    """One row per exported example, in order: its rank (0 = first), dataset index, label and, for folder datasets,
    its file's path (`paths`: the dataset's relative paths by index, for scores imported without them)."""
    rows = frame.iloc[positions][["index", "label"]].reset_index(drop=True)
    if paths is not None:
        rows["path"] = paths[rows["index"].to_numpy()]
    return rows.assign(rank=np.arange(len(rows)))[["rank", *rows.columns]]


def write_rows(f, rows: pd.DataFrame, fmt: str, about: dict) -> None:
    """Into `f`, a binary file: csv: the rows; npy: the dataset indices alone (int64); json: export.json's content
    with the rows."""
    if fmt == "csv":
        rows.to_csv(f, index=False)
    elif fmt == "npy":
        np.save(f, rows["index"].to_numpy(dtype=np.int64))
    else:
        f.write(json.dumps(about | {"examples": rows.drop(columns="rank").to_dict(orient="list")}, indent=1).encode())
