"""Find the scores a train run uses: a scores.parquet path, a score run directory, an MLflow run id, or
`latest` (the newest complete score run in the experiment for exactly these training data)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..data.datasets import Data
from ..errors import UserError
from .importers import align, is_external, load_external
from .scorefile import check_scores, read_scores
from .tracking import Tracker

RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class ScoreSource:
    frame: pd.DataFrame   # rows in the order of data.train (checked)
    meta: dict
    path: Path
    run_id: str           # MLflow score run, or "" for a file given directly
    sha256: str           # checksum of the scores file, logged with every train run


def resolve_scores(spec: str, track: Tracker, data: Data) -> ScoreSource:
    spec = str(spec).strip()
    run_id = ""
    if spec == "latest":
        run_id, path = _latest(track, data)
    elif RUN_ID.match(spec) and not Path(spec).exists():
        run_id, path = spec, _from_run(track, spec)
    else:
        path = Path(spec).expanduser()
        if is_external(path):
            frame = align(load_external(path), data.train.index.cpu().numpy(), data.true_labels, f"scores {path}")
            return ScoreSource(frame, {"source": "external"}, path, "", _sha256(path))
        if path.is_dir():
            path = path / "scores.parquet"
    frame, meta = read_scores(path)
    check_scores(frame, meta, f"scores file {path}", data.train.index.cpu().numpy(), data.train.y.cpu().numpy())
    return ScoreSource(frame.reset_index(drop=True), meta, path, run_id, _sha256(path))


def _latest(track: Tracker, data: Data) -> tuple[str, Path]:
    runs = track.client.search_runs(
        [track.experiment_id],
        filter_string=(f"tags.stage = 'score' and tags.scores = 'complete' and attributes.status = 'FINISHED' "
                       f"and tags.fingerprint = '{data.fingerprint}'"),
        order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        raise UserError(f"scores=latest: no finished score run for these training data ({data.name}, fingerprint "
                        f"{data.fingerprint}) in MLflow experiment {track.experiment_id} at {track.uri}; run "
                        f"`python -m curriculum score` with the same data settings first, or set scores=<path>")
    return runs[0].info.run_id, _from_run(track, runs[0].info.run_id)


def _from_run(track: Tracker, run_id: str) -> Path:
    try:
        run = track.client.get_run(run_id)
    except Exception:  # mlflow raises MlflowException (and others on some stores) for unknown ids
        raise UserError(f"scores={run_id}: no such MLflow run in {track.uri}") from None
    local = run.data.tags.get("scores_path")
    if local and Path(local).is_file():
        return Path(local)
    if run.data.tags.get("scores") != "complete":
        raise UserError(f"scores={run_id}: that MLflow run has no scores (is it a score run that finished?)")
    return Path(track.client.download_artifacts(run_id, "scores.parquet"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.glob("*")) if path.is_dir() else [path]:
        h.update(f.read_bytes())
    return h.hexdigest()
