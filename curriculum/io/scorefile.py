"""scores.parquet: one row per example with its labels, and metadata that lets any reader check alignment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UserError
from .files import atomic_write, check_alignment

META_KEY = b"curriculum"


def write_scores(path: str | Path, frame: pd.DataFrame, meta: dict) -> Path:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(meta).encode()})
    return atomic_write(path, lambda f: pq.write_table(table, f))


def read_scores(path: str | Path) -> tuple[pd.DataFrame, dict]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"scores file {path} does not exist; run `python -m curriculum score` first "
                        f"or point scores= at a scores.parquet, a score run directory or an MLflow run id")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise UserError(f"scores file {path} is corrupt or truncated ({str(err).splitlines()[0]}); "
                        f"rerun score with the same out_dir to rewrite it") from None
    raw = (table.schema.metadata or {}).get(META_KEY)
    meta = json.loads(raw) if raw else {}
    frame = table.to_pandas()
    for column in ("index", "label"):
        if column not in frame:
            raise UserError(f"scores file {path} has no {column!r} column; it was not written by curriculum")
    return frame, meta


def check_scores(frame: pd.DataFrame, meta: dict, source: str, index: np.ndarray, labels: np.ndarray,
                 paths: np.ndarray | None = None) -> None:
    """The file's examples and labels must be the data's; with `paths` (data=folder, by row), so must its images."""
    made_for = f"{meta.get('dataset', '?')}, fingerprint {meta.get('fingerprint', '?')}" if meta else ""
    check_alignment(source, frame["index"].to_numpy(), frame["label"].to_numpy(), index, labels, made_for)
    if paths is not None and "path" in frame:
        differ = np.flatnonzero(frame["path"].to_numpy() != paths)
        if len(differ):
            first = differ[0]
            origin = f" (made for {made_for})" if made_for else ""
            raise UserError(f"{source}{origin} names other images: {len(differ)} of {len(paths)} paths "
                            f"differ (index {int(index[first])}: {frame['path'].iloc[first]} in the file, "
                            f"{paths[first]} in data.root); use scores made from this folder")
