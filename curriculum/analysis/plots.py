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


def _save(plt, fig, path: str | Path) -> Path:
    """The figure, laid out, as a PNG at `path`, written whole or not at all, then closed."""
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
    return Path(path)


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
    return _save(plt, fig, path)


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
    return _save(plt, fig, path)


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
    return _save(plt, fig, path)


def data_map(path: str | Path, scores, title: str = "") -> Path:
    """Dataset cartography's map (Swayamdipta et al. 2020) from the ensemble: each training example at its
    variability (x) and confidence (y), over members and checkpoints, coloured by correctness (consensus: the share
    of member-checkpoints right). Easy examples sit top left, hard ones bottom left, ambiguous ones to the right;
    flipped labels, when injected, are drawn as crosses."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    noisy = scores["noisy"].to_numpy(bool) if "noisy" in scores else np.zeros(len(scores), dtype=bool)
    for flipped, marker in ((False, "o"), (True, "x")):
        part = scores[noisy == flipped]
        if len(part):
            drawn = ax.scatter(part["variability"], part["confidence"], c=part["consensus"], cmap="viridis",
                               vmin=0, vmax=1, s=3 if marker == "o" else 8, marker=marker, linewidths=0.6,
                               alpha=0.5, label="flipped label" if flipped else "given label", rasterized=True)
    fig.colorbar(drawn, ax=ax, label="correctness (consensus)")
    if noisy.any():
        ax.legend(fontsize=8, markerscale=3)
    ax.set_xlabel("variability (std of the label's probability)")
    ax.set_ylabel("confidence (mean probability of the label)")
    ax.set_title(title, fontsize=9)
    return _save(plt, fig, path)


def consensus_by_class(path: str | Path, scores, class_names: list[str] | None = None) -> Path:
    """The distribution of consensus within each given label, one violin per class, with its mean: which classes the
    ensemble finds hard, and whether a class's hard examples are a tail or a second mode."""
    plt = _pyplot()
    classes = np.sort(scores["label"].unique())
    values = [scores.loc[scores["label"] == c, "consensus"].to_numpy() for c in classes]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(classes)), 3.8), dpi=110)
    ax.violinplot(values, positions=np.arange(len(classes)), widths=0.85, showmeans=True, showextrema=False)
    names = class_names or [str(c) for c in classes]
    ax.set_xticks(np.arange(len(classes)), names, rotation=45 if len(classes) > 10 or class_names else 0,
                  ha="right" if class_names else "center", fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("given label")
    ax.set_ylabel("consensus")
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def tpa_against_accuracy(path: str | Path, ensembles) -> Path:
    """One point per ensemble (rows: ensemble, mean_acc, tpa, tpa_independent): its test TPA against its members'
    mean test accuracy, with the TPA independent members would give as a hollow marker. Left: every ensemble; right:
    those above 0.7 accuracy, named."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), dpi=110)
    close = ensembles[ensembles["mean_acc"] >= 0.7]
    for ax, shown in zip(axes, (ensembles, close)):
        ax.scatter(shown["mean_acc"], shown["tpa"], label="observed")
        ax.scatter(shown["mean_acc"], shown["tpa_independent"], facecolors="none", edgecolors="grey",
                   label="independent members")
        ax.set_xlabel("members' mean test accuracy (last checkpoint)")
        ax.set_ylabel("test TPA (right in all / right in any)")
        ax.grid(alpha=0.3)
    for i, row in enumerate(close.sort_values("tpa").itertuples()):
        axes[1].annotate(row.ensemble, (row.mean_acc, row.tpa), fontsize=7, xytext=(6, -12 + 9 * (i % 4)),
                         textcoords="offset points")
    axes[0].legend(fontsize=8)
    axes[1].set_title("accuracy above 0.7, named", fontsize=9)
    return _save(plt, fig, path)


def gallery(path: str | Path, rows: dict[str, list[tuple[np.ndarray, str]]], title: str = "") -> Path:
    """A grid of images, one row per kind (its name on the left), each image (H, W) or (H, W, 3) uint8 under its
    caption; a row with fewer images leaves its last cells blank."""
    plt = _pyplot()
    width = max(len(cells) for cells in rows.values())
    fig, axes = plt.subplots(len(rows), width, figsize=(1.25 * width + 1.2, 1.55 * len(rows)), dpi=110,
                             squeeze=False)
    for axes_row, (kind, cells) in zip(axes, rows.items()):
        for ax in axes_row:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.axis("off")
        for ax, (image, caption) in zip(axes_row, cells):
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
            ax.set_title(caption, fontsize=6.5)
        axes_row[0].text(-0.15, 0.5, kind, transform=axes_row[0].transAxes, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    return _save(plt, fig, path)


def match_figure(path: str | Path, table) -> Path:
    """The subspace match share against epsilon (subspace_match.csv rows), mean over member pairs: one line per
    family pair and layer, colour the family pair, marker the layer; same-family pairs left, pairs across families
    right."""
    from .subspace_match import match_summary

    plt = _pyplot()
    summary = match_summary(table)
    kinds = ["same family", "across families"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110, sharey=True)
    families = list(dict.fromkeys(zip(summary["family_a"], summary["family_b"])))
    markers = dict(zip(dict.fromkeys(summary["layer"]), "osD^v<>pP*Xh"))
    for ax, kind in zip(axes, kinds):
        for (a, b, layer), g in summary[summary["kind"] == kind].groupby(["family_a", "family_b", "layer"],
                                                                         sort=False):
            name, g = (a if a == b else f"{a}–{b}"), g.sort_values("epsilon")
            ax.plot(g["epsilon"], g["share"], marker=markers.get(layer, "o"), color=f"C{families.index((a, b)) % 10}",
                    label=f"{name} {layer} (n={g['pairs'].iloc[0]})")
        ax.set_title(f"member pairs {'within a family' if kind == 'same family' else 'across families'}",
                     fontsize=9)
        ax.set_xlabel("epsilon (distance from the other layer's span / norm)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no such pairs", transform=ax.transAxes, ha="center", color="grey")
    axes[0].set_ylabel("maximum match share (mean over member pairs)")
    return _save(plt, fig, path)
