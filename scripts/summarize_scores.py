"""The summary of a scores.parquet in docs/getting-started.md: mean and quartiles of every score column, as a
markdown table.

    .venv/bin/python scripts/summarize_scores.py outputs/score/<run>/scores.parquet

`learned_epoch` is summarised over the examples learned at all (NaN = never learned); `forgetting` is inf for an
example some member never classified correctly, so its mean is given over the finite values, with their count."""

from __future__ import annotations

import argparse

import numpy as np

from curriculum.io.scorefile import read_scores
from curriculum.scoring.scores import DERIVED


def summary_rows(frame) -> list[str]:
    rows = []
    for column in DERIVED:
        if column == "rank" or column not in frame:
            continue
        values = frame[column].to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        label = column if len(finite) == len(values) else f"{column} ({len(finite):,} finite of {len(values):,})"
        q = np.quantile(finite, [0.25, 0.5, 0.75])
        rows.append(f"| {label} | {finite.mean():.3f} | {q[0]:.3g} | {q[1]:.3g} | {q[2]:.3g} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores")
    args = parser.parse_args()
    frame, _ = read_scores(args.scores)
    print(f"{len(frame):,} rows of {args.scores}\n")
    print("| column | mean | 25% | median | 75% |\n|---|---|---|---|---|")
    print("\n".join(summary_rows(frame)))


if __name__ == "__main__":
    main()
