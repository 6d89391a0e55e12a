"""Figures written next to the results (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.files import atomic_write


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def consensus_histogram(path: str | Path, consensus: np.ndarray, levels: int, noisy: np.ndarray | None = None,
                        title: str = "") -> Path:
    """Histogram of consensus scores, one bin per attainable value (members x checkpoints `levels`, capped at 50);
    flipped labels drawn separately when there are any."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    levels = min(levels, 50)
    bins = (np.arange(levels + 2) - 0.5) / levels
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
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
    return Path(path)


def learning_curves(path: str | Path, curves: dict[str, list[tuple[np.ndarray, np.ndarray]]], title: str = "",
                    ylabel: str = "test accuracy") -> Path:
    """Mean curve per arm with a ±1 std band over seeds; runs of an arm are put on their common steps."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for arm, runs in curves.items():
        steps = runs[0][0]
        values = np.stack([np.interp(steps, s, v) for s, v in runs])  # (seeds, evaluations)
        mean, std = values.mean(axis=0), values.std(axis=0)
        (line,) = ax.plot(steps, mean, label=f"{arm} (n={len(runs)})")
        ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
    return Path(path)


def agreement_figure(path: str | Path, agreement, members: int) -> Path:
    """Left: TPA over checkpoints against independence. Right: histogram of members-right per example at
    the first, middle and last checkpoint (train), bars observed, dots independent."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for split, g in agreement.groupby("split", sort=False):
        (line,) = left.plot(g["epoch"], g["tpa"], marker="o", label=f"{split}: observed")
        left.plot(g["epoch"], g["tpa_independent"], ls="--", color=line.get_color(), label=f"{split}: independent")
    left.set_xscale("log")
    epochs = agreement["epoch"].unique()
    left.set_xticks(epochs, [f"{e:.3g}" for e in epochs])
    left.minorticks_off()
    left.set_xlabel("epoch (log)")
    left.set_ylabel("TPA: right in all / right in at least one")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    train = agreement[agreement["split"] == "train"].reset_index(drop=True)
    picks = sorted({0, len(train) // 2, len(train) - 1})
    width = 0.8 / len(picks)
    x = np.arange(members + 1)
    for i, row in enumerate(train.iloc[picks].itertuples()):
        bars = right.bar(x + i * width, row.histogram, width, label=f"epoch {row.epoch:.3g}")
        right.plot(x + i * width, row.histogram_independent, "o", color=bars[0].get_facecolor(),
                   markersize=5, markeredgecolor="black")
    right.set_xticks(x + width * (len(picks) - 1) / 2, [str(k) for k in x])
    right.set_xlabel("members right (train examples)")
    right.set_ylabel("share of examples (dots: independent)")
    right.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
    return Path(path)
