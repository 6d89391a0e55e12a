"""Find scores: for a train run, a scores.parquet path, a score run directory, an MLflow run id, an imported file,
or `latest` (the newest complete score run in the experiment for exactly these training data); for analyze, the
score run directory with its member files. One lookup of the latest score run serves both."""

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
        run_id, path = spec, run_scores_path(track, spec)
    else:
        path = Path(spec).expanduser()
        if is_external(path):
            frame = align(load_external(path), data.train.index.cpu().numpy(), data.true_labels, f"scores {path}",
                          data.train.y.cpu().numpy())
            return ScoreSource(frame, {"source": "external"}, path, "", _sha256(path))
        if path.is_dir():
            path = path / "scores.parquet"
    frame, meta = read_scores(path)
    index = data.train.index.cpu().numpy()
    if "recorder" in meta:   # positions of your own dataset (ScoreRecorder): its rows matched by index, any subset
        frame = align(frame, index, data.true_labels, f"scores {path}", data.train.y.cpu().numpy())
        return ScoreSource(frame, meta, path, run_id, _sha256(path))
    paths = data.paths["train"][index] if "train" in data.paths else None
    check_scores(frame, meta, f"scores file {path}", index, data.train.y.cpu().numpy(), paths)
    return ScoreSource(frame.reset_index(drop=True), meta, path, run_id, _sha256(path))


def scores_checksum(path: str | Path) -> str:
    """The checksum `train scores=<path>` tags its runs with, without loading the scores: a score run's directory
    stands for its scores.parquet; an imported file or directory for itself."""
    path = Path(path).expanduser()
    return _sha256(path / "scores.parquet" if path.is_dir() and not is_external(path) else path)


def latest_score_run(track: Tracker, fingerprint: str | None = None):
    """The newest finished score run whose scores are complete (for the training data with this fingerprint, when
    given), or None: the one lookup behind scores=latest of train and analyze."""
    wanted = "tags.stage = 'score' and tags.scores = 'complete' and attributes.status = 'FINISHED'"
    if fingerprint is not None:
        wanted += f" and tags.fingerprint = '{fingerprint}'"
    runs = track.client.search_runs([track.experiment_id], filter_string=wanted,
                                    order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0] if runs else None


def get_run(track: Tracker, run_id: str):
    try:
        return track.client.get_run(run_id)
    except Exception:  # mlflow raises MlflowException (and others on some stores) for unknown ids
        raise UserError(f"scores={run_id}: no such MLflow run in {track.uri}") from None


def score_run_dir(spec: str, track: Tracker) -> Path:
    """A score run directory (dynamics/ and scores.parquet) from a directory, a scores.parquet path, an MLflow run
    id, or `latest` (the newest finished score run, whatever its data)."""
    if spec == "latest":
        run = latest_score_run(track)
        if run is None:
            raise UserError(f"scores=latest: no complete score run in {track.uri}; run `python -m curriculum score`")
        spec = run.data.tags.get("out_dir", "")
    elif RUN_ID.match(spec):
        spec = get_run(track, spec).data.tags.get("out_dir", "")
    path = Path(spec).expanduser()
    path = path.parent if path.suffix == ".parquet" else path
    if not (path / "dynamics").is_dir() or not (path / "scores.parquet").is_file():
        raise UserError(f"{path} is not a finished score run directory (no dynamics/ and scores.parquet); "
                        f"give scores=<score out_dir>, an MLflow score run id, or latest")
    return path


def member_paths(score_dir: Path) -> list[Path]:
    """The member files of a score run directory, in member order."""
    return sorted((score_dir / "dynamics").glob("member-*.npz"), key=lambda p: int(p.stem.split("-")[1]))


def _latest(track: Tracker, data: Data) -> tuple[str, Path]:
    run = latest_score_run(track, data.fingerprint)
    if run is None:
        raise UserError(f"scores=latest: no finished score run for these training data ({data.name}, fingerprint "
                        f"{data.fingerprint}) in MLflow experiment {track.experiment_id} at {track.uri}; run "
                        f"`python -m curriculum score` with the same data settings first, or set scores=<path>")
    return run.info.run_id, run_scores_path(track, run.info.run_id)


def run_scores_path(track: Tracker, run_id: str) -> Path:
    run = get_run(track, run_id)
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
