"""The public Python API for a user's own training code: load a score file, order the examples, pace them with
the same PacedSampler `train` uses (re-exported from curriculum/__init__.py). Thin: every step is the CLI's own
function, so a DataLoader fed by this API draws what `python -m curriculum train` draws for the same seed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError
from .io.importers import is_external, load_external
from .io.scorefile import read_scores
from .schedule.plan import PlanSettings, Scores, make_plan
from .schedule.sampler import DROP_HARDEST, STRATA, TIES, SamplerConfig, check_strata

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
ORDERS = {"easy": "consensus", "hard": "anti", "consensus": "consensus", "anti": "anti", "random": "random",
          "stratified": "stratified"}   # order= -> the sampler name make_ordering takes (train's names work too)
API_NAMES = {"score": "by", "ties": "ties", "keep": "keep", "end": "end"}   # how the messages name the settings


def load_scores(path_or_run: str | Path, labels=None, tracking_uri: str | None = None) -> pd.DataFrame:
    """A scores frame (columns index, label and the scores; one row per example) from a scores.parquet, a score
    run's directory, an imported file (.csv, C-score .npz, a cartography folder) or an MLflow score run id.
    `labels`: the caller's labels by dataset index (labels[i] is example i's); they must be the file's, as
    `train` checks, so scores made for other data or other label noise fail in one line."""
    spec = str(path_or_run).strip()
    path = Path(spec).expanduser()
    if RUN_ID.match(spec) and not path.exists():
        path = _run_scores(spec, tracking_uri or "sqlite:///mlflow.db")
    if is_external(path):
        frame = load_external(path)
    else:
        frame = read_scores(path / "scores.parquet" if path.is_dir() else path)[0]
    if labels is not None:
        frame = _checked(frame, np.asarray(labels), f"scores {spec}")
    return frame.reset_index(drop=True)


def _run_scores(run_id: str, tracking_uri: str) -> Path:
    from .io.score_source import run_scores_path
    from .io.tracking import Tracker

    return run_scores_path(Tracker(tracking_uri, "curriculum"), run_id)


def _checked(frame: pd.DataFrame, labels: np.ndarray, source: str) -> pd.DataFrame:
    """The frame's examples must be the caller's (indices in range) with the same labels; an imported file without
    labels takes the caller's."""
    index = frame["index"].to_numpy()
    outside = np.flatnonzero((index < 0) | (index >= len(labels)))
    if len(outside):
        raise UserError(f"{source} has {len(outside)} indices outside the {len(labels)} labels given (first "
                        f"{int(index[outside[0]])}); pass the labels of the whole dataset the scores were made for")
    if "label" not in frame:
        return frame.assign(label=labels[index])
    bad = np.flatnonzero(frame["label"].to_numpy() != labels[index])
    if len(bad):
        raise UserError(f"{source} was made for other labels: {len(bad)} of {len(index)} labels disagree "
                        f"(first at index {int(index[bad[0]])}); use scores made for these data and label noise")
    return frame


def ordering(scores: pd.DataFrame, by: str = "consensus", order: str = "easy", seed: int = 0,
             balanced: bool = True, ties: str = "margin", strata: int = STRATA,
             drop_hardest: float = DROP_HARDEST) -> np.ndarray:
    """Dataset indices (values of the frame's `index` column), easiest first for order="easy" (or "consensus"),
    exactly reversed for "hard" ("anti"), seeded for "random", even across score strata for "stratified" (the
    hardest `drop_hardest` last): `train`'s ordering (sampler=..., sampler.score=by, sampler.balanced,
    sampler.ties, sampler.strata, sampler.drop_hardest) of the same frame. A prefix of it is a pruned subset."""
    positions = ordering_positions(scores, by, order, seed, balanced, ties, strata, drop_hardest)
    return scores["index"].to_numpy()[positions]


def ordering_positions(scores: pd.DataFrame, by: str = "consensus", order: str = "easy", seed: int = 0,
                       balanced: bool = True, ties: str = "margin", strata: int = STRATA,
                       drop_hardest: float = DROP_HARDEST) -> np.ndarray:
    """ordering() as row positions of `scores`, for callers that want the rows' other columns too."""
    sampler = sampler_config(order, by, balanced, ties, strata, drop_hardest)
    if balanced and "label" not in scores:
        raise UserError("balanced=True needs a label column; pass labels= to load_scores or set balanced=False")
    labels = scores["label"].to_numpy() if "label" in scores else np.zeros(len(scores), dtype=np.int64)
    plan = make_plan(PlanSettings(sampler, names=API_NAMES), Scores(scores), labels, np.zeros(len(scores), bool), seed)
    return plan.ordering


def sampler_config(order: str, by: str, balanced: bool, ties: str, strata: int, drop_hardest: float) -> SamplerConfig:
    """The sampler of an ordering named as the API and `export` name it (order=easy, by=...), checked with their
    names in the messages."""
    if order not in ORDERS:
        raise UserError(f"order={order!r} must be one of {', '.join(ORDERS)}")
    if ties not in TIES:
        raise UserError(f"ties={ties!r} must be margin or random")
    check_strata(strata, drop_hardest, prefix="")
    return SamplerConfig(ORDERS[order], by, balanced, ties, strata=strata, drop_hardest=drop_hardest)
