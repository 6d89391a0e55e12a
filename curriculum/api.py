"""The public Python API for a user's own training code: load a score file, order the examples, pace them with
the same PacedSampler `train` uses (re-exported from curriculum/__init__.py). Thin: every step is the CLI's own
function, so a DataLoader fed by this API draws what `python -m curriculum train` draws for the same seed. And a
score run's likely label errors (find_label_issues, cleanlab's call from the run's own out-of-fold probabilities)."""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .errors import UserError
from .io.importers import is_external, load_external
from .io.scorefile import read_scores
from .scoring.confident import chance_warning, check_class_sizes, confident_learning
from .schedule.plan import PlanSettings, Scores, make_plan
from .schedule.pruning import HISTOGRAM_CAVEAT, estimate_clean_fraction
from .schedule.sampler import DROP_HARDEST, STRATA, TIES, SamplerConfig, check_strata

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
ORDERS = ("consensus", "anti", "random", "stratified")   # order=: train's sampler= names, export's order= names
OLD_ORDERS = {"easy": "consensus", "hard": "anti"}         # the API's names before it spoke train's: refused
API_NAMES = {"score": "score", "ties": "ties", "keep": "keep", "end": "end"}   # how the messages name the settings


def load_scores(path_or_run: str | Path, labels=None, tracking_uri: str | None = None) -> pd.DataFrame:
    """A scores frame (columns index, label and the scores; one row per example) from a scores.parquet, a score
    run's directory, an imported file (.csv, C-score .npz, a cartography folder) or an MLflow score run id.
    `labels`: the caller's labels by dataset index (labels[i] is example i's); they must be the file's, as
    `train` checks, so scores made for other data or other label noise fail in one line. The frame remembers its
    file and metadata (frame.attrs["path"], ["meta"]), so find_label_issues can read what the run wrote beside it."""
    spec = str(path_or_run).strip()
    path = Path(spec).expanduser()
    if RUN_ID.match(spec) and not path.exists():
        path = _run_scores(spec, tracking_uri or "sqlite:///mlflow.db")
    if is_external(path):
        frame, meta = load_external(path), {}
    else:
        path = path / "scores.parquet" if path.is_dir() else path
        frame, meta = read_scores(path)
    if labels is not None:
        frame = _checked(frame, np.asarray(labels), f"scores {spec}")
    frame = frame.reset_index(drop=True)
    frame.attrs.update(path=str(path), meta=meta)
    return frame


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


def ordering(scores, score: str | None = None, order: str = "consensus", seed: int = 0, balanced: bool = True,
             ties: str = "margin", strata: int = STRATA, drop_hardest: float = DROP_HARDEST, *,
             labels=None) -> np.ndarray:
    """Dataset indices, in `train`'s order of them: order="consensus" easy first by the `score` column (any score
    with a direction), "anti" its exact reverse, "random" seeded, "stratified" even across score strata with the
    hardest `drop_hardest` last; class-balanced, ties broken by the larger margin. The names are train's (sampler=,
    sampler.score=, sampler.balanced, sampler.ties, sampler.strata, sampler.drop_hardest) and export's. A prefix of
    it is a pruned subset.

    `scores`: a frame from load_scores or ScoreRecorder.scores() (indices: its `index` column; `score` defaults to
    consensus), or a 1-D array of one score per example (indices: positions; `score=` required: the name of its
    kind, which gives its direction; `labels=` the labels, needed when balanced)."""
    frame, score = frame_of_scores(scores, score, labels)
    return frame["index"].to_numpy()[ordering_positions(frame, score, order, seed, balanced, ties, strata,
                                                        drop_hardest)]


def ordering_positions(scores, score: str | None = None, order: str = "consensus", seed: int = 0,
                       balanced: bool = True, ties: str = "margin", strata: int = STRATA,
                       drop_hardest: float = DROP_HARDEST, *, labels=None) -> np.ndarray:
    """ordering() as row positions of `scores`, for callers that want the rows' other columns too."""
    frame, score = frame_of_scores(scores, score, labels)
    sampler = sampler_config(order, score, balanced, ties, strata, drop_hardest)
    if balanced and "label" not in frame:
        raise UserError("balanced=True needs labels: pass labels= (to ordering, or to load_scores) or set "
                        "balanced=False")
    given = frame["label"].to_numpy() if "label" in frame else np.zeros(len(frame), dtype=np.int64)
    plan = make_plan(PlanSettings(sampler, names=API_NAMES), Scores(frame), given, np.zeros(len(frame), bool), seed)
    return plan.ordering


def frame_of_scores(scores, score: str | None, labels=None) -> tuple[pd.DataFrame, str]:
    """A frame as load_scores gives it and the column to order by: `scores` itself (with `labels` checked against
    it; `score` consensus unless named), or one made from a 1-D array of `score` values per example: index =
    position, label = `labels` when given."""
    if isinstance(scores, pd.DataFrame):
        return (scores if labels is None else _checked(scores, _as_numpy(labels), "scores")), score or "consensus"
    if score is None:
        raise UserError("an array of scores needs score= naming its kind (e.g. score='margin', 'loss', "
                        "'consensus'), which says whether higher is easier")
    values = _as_numpy(scores).astype(np.float64)
    if values.ndim != 1:
        raise UserError(f"scores of shape {values.shape}: give a frame (load_scores) or one score per example")
    frame = pd.DataFrame({"index": np.arange(len(values)), score: values})
    if labels is not None:
        labels = _as_numpy(labels)
        if labels.shape != values.shape:
            raise UserError(f"labels of shape {labels.shape} for {len(values)} scores; give one label per example")
        frame["label"] = labels.astype(np.int64)
    return frame, score


def _as_numpy(values) -> np.ndarray:
    """An array, list or tensor (on any device) as a numpy array."""
    return np.asarray(values.detach().cpu() if hasattr(values, "detach") else values)


def sampler_config(order: str, score: str, balanced: bool, ties: str, strata: int,
                   drop_hardest: float) -> SamplerConfig:
    """The sampler of an ordering named as the API and `export` name it (order=consensus, score=...), checked with
    their names in the messages."""
    if order in OLD_ORDERS:
        raise UserError(f"order={order!r} is order={OLD_ORDERS[order]!r} now, as train's sampler= names it")
    if order not in ORDERS:
        raise UserError(f"order={order!r} must be one of {', '.join(ORDERS)}")
    if ties not in TIES:
        raise UserError(f"ties={ties!r} must be margin or random")
    check_strata(strata, drop_hardest, prefix="")
    return SamplerConfig(order, score, balanced, ties, strata=strata, drop_hardest=drop_hardest)


class FoundIssues(NamedTuple):
    """What find_label_issues returns: unpack as `issues, share, method = find_label_issues(...)`."""
    issues: np.ndarray        # (N,) bool per row of the scores frame, or dataset indices, most likely error first
    estimated_share: float    # the estimated share of wrong labels among all the examples
    method: str               # "confident learning" (out-of-fold probabilities) or "consensus histogram"


RANKINGS = {"self_confidence": "p of the given label", "normalized_margin": "p of the label - the largest other p",
            "margin": "the scores' margin column (area under the margin)"}   # return_indices_ranked_by=, ascending


def find_label_issues(scores, labels=None, *, return_indices_ranked_by: str | None = None,
                      tracking_uri: str | None = None) -> FoundIssues:
    """Likely label errors of a score run, and the estimated share of wrong labels: the counterpart of
    cleanlab.filter.find_label_issues(labels, pred_probs, *, return_indices_ranked_by=None, ...), which takes
    out-of-fold probabilities you computed; this takes the score run that computed them.

    `scores`: a score run's directory, its scores.parquet, an MLflow score run id, or a frame from load_scores (which
    remembers its file); `labels` as load_scores checks them. Or, as cleanlab takes them, out-of-fold probabilities
    (N, classes) of your own with `labels` (N,): confident learning on those. With a run of
    `score ensemble.folds=K`, it is confident learning on `<score dir>/oof_probs.npy` (cleanlab's default filter, prune_by_noise_rate; scoring/confident.py),
    or, when that file is gone, what the run found with it (the label_issue and oof_confidence columns, the meta's
    estimate). Without folds, it is the consensus histogram's estimate (pacing.end=auto's) with that many
    lowest-margin examples flagged, and a warning that this misses class-conditional and instance-dependent noise.
    Returns FoundIssues(issues, estimated_share, method): `issues` is a boolean mask over the frame's rows, or with
    return_indices_ranked_by ("self_confidence" or "normalized_margin", as cleanlab's, or "margin") the flagged
    examples' dataset indices (the frame's `index`), least likely correct first."""
    if return_indices_ranked_by is not None and return_indices_ranked_by not in RANKINGS:
        raise UserError(f"return_indices_ranked_by={return_indices_ranked_by!r} must be None or one of "
                        f"{', '.join(RANKINGS)}")
    if _is_array(scores):
        if return_indices_ranked_by == "margin":
            raise UserError("return_indices_ranked_by='margin' ranks by a score run's margin column; rank "
                            "probabilities by 'self_confidence' or 'normalized_margin'")
        frame, probs = _probabilities_frame(scores, labels)
        flags, share, quality, method = _confident_issues(frame, probs, return_indices_ranked_by)
    else:
        frame = scores if isinstance(scores, pd.DataFrame) else load_scores(scores, labels, tracking_uri)
        if labels is not None and isinstance(scores, pd.DataFrame):
            frame = _checked(frame, np.asarray(labels), "scores")
        flags, share, quality, method = _found_issues(frame, return_indices_ranked_by)
    if return_indices_ranked_by is None:
        return FoundIssues(flags, share, method)
    rows = np.flatnonzero(flags)
    return FoundIssues(frame["index"].to_numpy()[rows[np.argsort(quality[rows], kind="stable")]], share, method)


def _is_array(value) -> bool:
    return isinstance(value, (np.ndarray, list)) or hasattr(value, "detach")


def _probabilities_frame(probs, labels) -> tuple[pd.DataFrame, np.ndarray]:
    """Probabilities (N, classes) and labels (N,) given as arrays: a frame of positions and labels, and the probs."""
    probs = _as_numpy(probs).astype(np.float64)
    if labels is None or probs.ndim != 2:
        raise UserError(f"find_label_issues of arrays takes out-of-fold probabilities (N, classes) and labels= "
                        f"(N,), as cleanlab's does; got {'no labels' if labels is None else f'shape {probs.shape}'}")
    labels = _as_numpy(labels)
    if labels.shape != (len(probs),):
        raise UserError(f"labels of shape {labels.shape} for {len(probs)} rows of probabilities")
    return pd.DataFrame({"index": np.arange(len(probs)), "label": labels}), probs


def _found_issues(frame: pd.DataFrame, ranked_by: str | None):
    """Flags, estimated share, quality (higher = more likely correct) and method, from the best the run left: its
    out-of-fold probabilities, else what confident learning found with them, else the consensus histogram."""
    probs = _oof_probs(frame)
    if probs is not None:
        return _confident_issues(frame, probs, ranked_by)
    if "label_issue" in frame and "label_issues" in frame.attrs.get("meta", {}):
        return _recorded_issues(frame, ranked_by)
    return _histogram_issues(frame, ranked_by)


def _oof_probs(frame: pd.DataFrame) -> np.ndarray | None:
    """(N, K) out-of-fold probabilities beside the frame's file, or None when its run has none; refused when they
    are not the file its scores were written with (its sha256 in their meta: a run killed between the two writes, or
    a file left by an earlier run) or would not line up with the frame's rows (a reordered or subset frame)."""
    path = Path(frame.attrs.get("path", "."))
    probs_path = path.parent / "oof_probs.npy"
    if not path.is_file() or not probs_path.is_file():
        return None
    meta = frame.attrs.get("meta", {})
    if not meta.get("folds"):
        raise UserError(f"{probs_path} is not from the run that wrote {path} (its scores have no ensemble.folds); "
                        f"delete it or score again with ensemble.folds")
    raw = probs_path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != meta.get("oof_probs_sha256"):
        raise UserError(f"{probs_path} is not the file {path} was written with (its sha256 differs); score again "
                        f"with ensemble.folds")
    probs = np.load(io.BytesIO(raw))
    if len(probs) != len(frame) or not np.array_equal(frame["index"].to_numpy(), read_scores(path)[0]["index"]):
        raise UserError(f"the frame's rows are not those of {path} in its order (reordered or a subset), so "
                        f"{probs_path.name} cannot be matched to them; pass the file or the frame as load_scores "
                        f"gives it")
    return probs


def _confident_issues(frame: pd.DataFrame, probs: np.ndarray, ranked_by: str | None):
    """Confident learning on the run's out-of-fold probabilities: flags, estimated share, quality, method."""
    labels = frame["label"].to_numpy()
    check_class_sizes(labels, probs.shape[1])
    found = confident_learning(probs, labels)
    recorded = frame.attrs.get("meta", {}).get("label_issues", {}).get("warning")   # e.g. the test-split check
    if warning := chance_warning(probs, labels) or recorded:
        warnings.warn(warning, stacklevel=4)
    quality = {"self_confidence": lambda: found.confidence, "margin": lambda: _margin(frame),
               "normalized_margin": lambda: found.confidence - np.where(
                   np.eye(probs.shape[1], dtype=bool)[labels], -np.inf, probs).max(axis=1)}
    return found.flags, found.share, quality[ranked_by]() if ranked_by else None, "confident learning"


def _recorded_issues(frame: pd.DataFrame, ranked_by: str | None):
    """Without oof_probs.npy: what confident learning found when the run scored (the frame's label_issue and
    oof_confidence columns, the meta's estimate), the same flags as recomputing it from the probabilities."""
    found = frame.attrs["meta"]["label_issues"]
    if ranked_by == "normalized_margin":
        raise UserError(f"return_indices_ranked_by={ranked_by} needs oof_probs.npy beside the scores (every class's "
                        f"probability); rank by 'self_confidence' or 'margin'")
    if found.get("warning"):
        warnings.warn(found["warning"], stacklevel=4)
    quality = {"self_confidence": lambda: frame["oof_confidence"].to_numpy(dtype=np.float64),
               "margin": lambda: _margin(frame)}
    flags = frame["label_issue"].to_numpy() == 1
    return flags, float(found["estimated_share"]), quality[ranked_by]() if ranked_by else None, "confident learning"


def _histogram_issues(frame: pd.DataFrame, ranked_by: str | None):
    """Without out-of-fold probabilities: the consensus histogram's share, its lowest-margin examples flagged."""
    meta = frame.attrs.get("meta", {})
    if "consensus" not in frame or not (meta.get("ensemble") and meta.get("checkpoints")):
        raise UserError("find_label_issues needs a score run of `python -m curriculum score` (ensemble.folds=4 for "
                        "confident learning), or a frame load_scores read from one; these scores are not")
    if ranked_by in ("self_confidence", "normalized_margin"):
        raise UserError(f"return_indices_ranked_by={ranked_by} needs out-of-fold probabilities: score with "
                        f"ensemble.folds=4, or rank by 'margin'")
    share = 1.0 - estimate_clean_fraction(frame["consensus"].to_numpy(), meta)
    warnings.warn(f"find_label_issues: the consensus histogram suggests {share:.3f} of the labels are wrong; "
                  f"{HISTOGRAM_CAVEAT}", stacklevel=4)
    margin = _margin(frame)
    flags = np.zeros(len(frame), dtype=bool)
    flags[np.argsort(margin, kind="stable")[:round(share * len(frame))]] = True
    return flags, share, margin, "consensus histogram"


def _margin(frame: pd.DataFrame) -> np.ndarray:
    if "margin" not in frame:
        raise UserError("these scores have no margin column to rank by; score again with `python -m curriculum score`")
    return frame["margin"].to_numpy(dtype=np.float64)
