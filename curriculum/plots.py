"""Figures written next to the results (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def consensus_histogram(path: str | Path, consensus: np.ndarray, noisy: np.ndarray | None = None,
                        title: str = "") -> Path:
    """Histogram of consensus scores; flipped labels drawn separately when there are any."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    bins = np.linspace(0, 1, 41)
    if noisy is not None and noisy.any():
        ax.hist(consensus[~noisy], bins=bins, alpha=0.8, label="clean label")
        ax.hist(consensus[noisy], bins=bins, alpha=0.8, label="flipped label")
        ax.legend()
    else:
        ax.hist(consensus, bins=bins)
    ax.set_xlabel("consensus score (1 = learned at once by every member)")
    ax.set_ylabel("training examples")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
