"""Scores made elsewhere, turned into a scores frame (index, label, score, ...; higher `score` = easier):
the C-score release (.npz with `labels` and `scores`), dataset-cartography training dynamics
(a folder of `dynamics_epoch_*.jsonl`), and a CSV with an `index` column and score columns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError


def is_external(path: Path) -> bool:
    return path.suffix in (".npz", ".csv") or (path.is_dir() and any(path.glob("dynamics_epoch_*.jsonl")))


def load_external(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise UserError(f"scores file {path} does not exist")
    if path.suffix == ".npz":
        return _cscore(path)
    if path.suffix == ".csv":
        return _csv(path)
    return _cartography(path)


def _cscore(path: Path) -> pd.DataFrame:
    """C-score release: scores and labels in the dataset's official order; higher C-score = more regular."""
    try:
        with np.load(path, allow_pickle=False) as z:
            scores, labels = z["scores"], z["labels"]
    except (KeyError, ValueError, OSError) as err:
        raise UserError(f"{path} is not a C-score file with 'labels' and 'scores' arrays ({err})") from None
    if scores.ndim != 1 or labels.ndim != 1 or len(labels) != len(scores):
        raise UserError(f"{path} has {labels.size} labels but {scores.size} scores (shapes {labels.shape} and "
                        f"{scores.shape}); a C-score file holds one label and one score per training example")
    return pd.DataFrame({"index": np.arange(len(scores)), "label": labels.astype(np.int64),
                         "cscore": scores.astype(np.float64), "score": scores.astype(np.float64)})


def _csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    if "index" not in frame:
        raise UserError(f"{path} has no 'index' column (the example's position in the dataset's training split)")
    numeric = [c for c in frame if c not in ("index", "label") and pd.api.types.is_numeric_dtype(frame[c])]
    if not numeric:
        raise UserError(f"{path} has no numeric score column besides index and label")
    if "score" not in frame:  # the first score column orders by default; higher = easier
        frame["score"] = frame[numeric[0]]
    return _unique_rows(frame, path)


def _unique_rows(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """One row per index: exact repeats are read once; an index with two different rows (another score or
    label) has no single value to use, so it is refused rather than letting the first row win."""
    frame = frame.drop_duplicates(ignore_index=True)
    repeated = frame["index"][frame["index"].duplicated()]
    if len(repeated):
        first = repeated.iloc[0]
        rows = int((frame["index"] == first).sum())
        raise UserError(f"{path} has {rows} different rows for index {first} ({len(repeated.unique())} indices repeat "
                        f"with other values); keep one row per example")
    return frame


def _cartography(folder: Path) -> pd.DataFrame:
    """Swayamdipta et al. (2020) training dynamics: per epoch, one JSON line per example with its `guid`,
    `gold` label and `logits_epoch_<e>`. Confidence and variability of the gold label's probability."""
    files = sorted(folder.glob("dynamics_epoch_*.jsonl"), key=lambda p: int(re.findall(r"\d+", p.stem)[-1]))
    probs, guids, gold = [], None, None
    for f in files:
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        rows.sort(key=lambda r: int(r["guid"]))
        logits = np.array([next(v for k, v in r.items() if k.startswith("logits")) for r in rows], dtype=np.float64)
        ids, labels = np.array([int(r["guid"]) for r in rows]), np.array([int(r["gold"]) for r in rows])
        if guids is not None and not np.array_equal(ids, guids):
            raise UserError(f"{f} covers other examples than {files[0]}")
        guids, gold = ids, labels
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs.append((p / p.sum(axis=1, keepdims=True))[np.arange(len(labels)), labels])
    probs = np.array(probs)  # (epochs, N)
    return pd.DataFrame({"index": guids, "label": gold, "confidence": probs.mean(0), "variability": probs.std(0),
                         "score": probs.mean(0)})


def align(frame: pd.DataFrame, index: np.ndarray, true_labels: np.ndarray, source: str,
          trained_labels: np.ndarray | None = None) -> pd.DataFrame:
    """Rows of `frame` for the training examples `index`, in that order; labels (when the file has them) must match
    the dataset's own labels, or all of the labels trained on (with injected noise: a tool that saw the noisy
    labels, as cleanlab does, writes those)."""
    by_index = frame.drop_duplicates("index").set_index("index")
    missing = np.setdiff1d(index, by_index.index.to_numpy())
    if len(missing):
        raise UserError(f"{source} has no scores for {len(missing)} of the {len(index)} training examples "
                        f"(first missing index {int(missing[0])}); was it made for this dataset?")
    rows = by_index.loc[index].reset_index()
    if "label" in rows:
        given = rows["label"].to_numpy()
        bad = np.flatnonzero(given != true_labels)
        if len(bad) and trained_labels is not None and np.array_equal(given, trained_labels):
            bad = bad[:0]
        if len(bad):
            raise UserError(f"{source} was made for other labels: {len(bad)} of {len(index)} labels disagree "
                            f"(first at index {int(index[bad[0]])}); was it made for this dataset?")
    rows["label"] = true_labels
    return rows
