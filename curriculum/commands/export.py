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

from ..api import sampler_config
from ..data.datasets import load_data
from ..errors import UserError
from ..io.files import atomic_write
from ..io.score_source import resolve_scores
from ..schedule.pacing import parse_end
from ..schedule.plan import WHOLE, PlanSettings, RunPlan, make_plan
from .common import data_config, say, tracker, writable_dir

FORMATS = ("csv", "npy", "json")
ORDER_SETTINGS = ("order", "score", "balanced", "ties", "strata", "drop_hardest", "seed")  # as api.ordering takes them
EXPORT_NAMES = {"score": "score", "ties": "ties", "keep": "keep", "end": "keep"}   # keep is the plan's end


def export(cfg: DictConfig) -> None:
    fmt, keep = str(cfg.format), parse_keep(cfg.keep)
    if fmt not in FORMATS:
        raise UserError(f"format={fmt!r} must be one of {', '.join(FORMATS)}")
    sampler = sampler_config(str(cfg.order), str(cfg.score), bool(cfg.balanced), str(cfg.ties), cfg.strata,
                             float(cfg.drop_hardest))
    out_dir = writable_dir(cfg.out_dir)
    data = load_data(data_config(cfg))        # the scores are checked against these data's labels, as `train` does
    track = tracker(cfg)
    source = resolve_scores(str(cfg.scores), track, data)
    plan = make_plan(PlanSettings(sampler, WHOLE | {"end": keep}, EXPORT_NAMES), source, data.train.y.numpy(),
                     data.noisy, int(cfg.seed))
    for line in plan.notes:
        say(line)
    rows = exported_rows(source.frame, plan.prefix(), data.paths.get("train"))
    path = out_dir / f"ordering.{fmt}"
    about = export_about(cfg, plan, len(rows), source, data)
    atomic_write(path, lambda f: write_rows(f, rows, fmt, about))
    atomic_write(out_dir / "export.json", lambda f: f.write(json.dumps(about, indent=1).encode()))
    tags = {"stage": "export", "order": str(cfg.order), "dataset": data.name, "fingerprint": data.fingerprint,
            "scores_run_id": source.run_id or "none", "scores_sha256": source.sha256}
    with track.run("export", tags) as run_id:
        track.log_params(run_id, about["settings"])
        track.log_artifact(run_id, path)
        track.log_artifact(run_id, out_dir / "export.json")
    say(f"wrote {path} ({len(rows)} of {len(plan.ordering)} examples, {cfg.order} order"
        f"{'' if plan.end == 1 else f', the first {plan.end:.3g}'}) and export.json (MLflow run {run_id})")


def export_about(cfg: DictConfig, plan: RunPlan, rows: int, source, data) -> dict:
    """export.json: the settings as given (the ordering column as used, the kept share as estimated for auto), how
    many rows of how many, and which scores and data made them."""
    settings = {key: OmegaConf.to_container(cfg, resolve=True)[key] for key in ORDER_SETTINGS}
    return {"settings": settings | {"score": plan.column, "keep": str(cfg.keep), "kept_fraction": plan.end},
            "rows": rows, "of": len(plan.ordering),
            "index": "the dataset's own index of each example (data.train.index), in order",
            "scores": {"path": str(Path(source.path).resolve()), "run_id": source.run_id, "sha256": source.sha256},
            "data": {"name": data.name, "fingerprint": data.fingerprint}}


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
