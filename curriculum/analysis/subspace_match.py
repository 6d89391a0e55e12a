"""Neuron activation subspace match (Wang et al. 2018, "Towards Understanding Learning Representations: To What
Extent Do Different Neural Networks Learn the Same Representation", arXiv 1810.11750): how much of one layer of two
networks spans the same subspace of activation vectors. A neuron is its activation vector over d samples (test
images for hidden units; (image, position) pairs for a conv channel). Neuron x of X is epsilon-matched by a set Y when
dist(z_x, span(Z_Y)) <= epsilon ||z_x||; the maximum match is the largest pair of subsets matching each other, found
by dropping unmatched neurons from both sides until nothing changes (their Algorithm 1). Pure math on arrays."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from ..errors import UserError

SAMPLES_PER_NEURON = 10   # d >= 10 x the wider layer: a random vector then lies sqrt(1 - k/d) >= 0.95 of its norm
                          # from a random k-dim span, so no epsilon <= 0.5 matches by chance
EPSILONS = (0.2, 0.3, 0.4, 0.5)


@dataclass(frozen=True)
class MatchConfig:
    """analyze's `match` settings."""
    epsilons: tuple[float, ...] = EPSILONS   # relative distances from the other layer's span that still match
    samples: int = 10000                     # activation samples per neuron (d): test images for hidden units,
                                             # (test image, position) pairs for conv channels; drawn once, the same
                                             # for every member; at least 10 x the widest layer compared

    def __post_init__(self):
        object.__setattr__(self, "epsilons", tuple(float(e) for e in self.epsilons))   # a list from the command line
        bad = [e for e in self.epsilons if not 0 < e < 1]
        if not self.epsilons or bad:
            raise UserError(f"match.epsilons={list(self.epsilons)}: each epsilon must lie in (0, 1) (a relative "
                            f"distance from the other layer's span), e.g. match.epsilons=[0.2,0.3,0.4,0.5]")
        if self.samples < 1:
            raise UserError(f"match.samples={self.samples} must be at least 1 (activation samples per neuron; at "
                            f"least {SAMPLES_PER_NEURON} x the widest layer)")


def span_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(ka,) the distance of every column of a (d, ka) from the span of the columns of b (d, kb), relative to the
    column's norm: one least-squares projection (SVD-based, so a rank-deficient b is its numerical span), float64.
    A zero column has no direction: NaN."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    residual = a if b.shape[1] == 0 else a - b @ np.linalg.lstsq(b, a, rcond=None)[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.linalg.norm(residual, axis=0) / np.linalg.norm(a, axis=0)


def maximum_matches(x: np.ndarray, y: np.ndarray, epsilons) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each epsilon, the maximum match of the neurons of x (d, kx) and y (d, ky) (columns, over the same d
    samples) as two bool masks ((kx,), (ky,)). Dead neurons (all-zero vectors) are never matched.

    Both layers are first written in one orthonormal basis of their joint span (the R of a QR of [x y]: distances
    and norms unchanged), so each round works on (kx + ky)-row matrices whatever d is. Epsilons run from the largest
    down, each starting from the match of the next larger one: a match at epsilon is one at any larger epsilon, so
    that start holds the maximum match and the rounds shrink to it."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"layers of shapes {x.shape} and {y.shape}: the match needs (samples, neurons) of the same "
                         f"samples")
    joint = np.linalg.qr(np.concatenate([x, y], axis=1), mode="r")          # (min(d, kx + ky), kx + ky)
    cx, cy = joint[:, :x.shape[1]], joint[:, x.shape[1]:]
    keep_x, keep_y = np.linalg.norm(x, axis=0) > 0, np.linalg.norm(y, axis=0) > 0
    found = {}
    for eps in sorted(set(epsilons), reverse=True):
        keep_x, keep_y = shrink(cx, cy, keep_x, keep_y, eps)
        found[eps] = (keep_x, keep_y)
    return [found[eps] for eps in epsilons]


def shrink(cx: np.ndarray, cy: np.ndarray, keep_x: np.ndarray, keep_y: np.ndarray, eps: float):
    """Algorithm 1 from (keep_x, keep_y): drop the kept neurons of x farther than eps from the span of y's kept
    ones, then those of y from the span of x's remaining ones, until a round drops nothing."""
    for _ in range(len(keep_x) + len(keep_y) + 1):      # each round but the last drops at least one neuron
        new_x = keep_x.copy()
        new_x[keep_x] = span_distances(cx[:, keep_x], cy[:, keep_y]) <= eps
        new_y = keep_y.copy()
        new_y[keep_y] = span_distances(cy[:, keep_y], cx[:, new_x]) <= eps
        if (new_x == keep_x).all() and (new_y == keep_y).all():
            return keep_x, keep_y
        keep_x, keep_y = new_x, new_y
    raise AssertionError("the maximum match did not settle")


def match_share(matched_x: np.ndarray, matched_y: np.ndarray) -> float:
    """(|X*| + |Y*|) / (|X| + |Y|): Wang et al.'s similarity (their released code's), dead neurons in the
    denominator (they never match)."""
    return float((matched_x.sum() + matched_y.sum()) / (len(matched_x) + len(matched_y)))


def check_samples(name: str, layer, samples: int) -> str | None:
    """None when `layer` (a scoring.representations.NeuronLayer) has at least SAMPLES_PER_NEURON samples per
    neuron; a note leaving it out when the test split has too few to draw; a UserError when match.samples is what is
    too small."""
    need = SAMPLES_PER_NEURON * layer.activations.shape[1]
    if len(layer.activations) >= need:
        return None
    if layer.available < need:
        what = f"{layer.available} (test image, position) pairs" if layer.grid else f"{layer.available} test images"
        return (f"subspace match: {name} ({layer.activations.shape[1]} neurons) left out: the test split gives "
                f"{what}, fewer than the {need} ({SAMPLES_PER_NEURON} per neuron) the match needs")
    raise UserError(f"match.samples={samples} is too few for {name}'s {layer.activations.shape[1]} neurons: the match "
                    f"needs {SAMPLES_PER_NEURON} samples per neuron; set match.samples={need} or more")


def match_table(layers: list[dict | None], arch: list[str], epsilons) -> pd.DataFrame:
    """One row per member pair, layer and epsilon: the maximum match of the two members' layers of the same name and
    grid (layers: per member, name -> scoring.representations.NeuronLayer; None for a member without weights), its
    share and each side's matched and dead neurons. A pair's members are ordered by family name (family_a <= family_b), as in families.csv."""
    rows = []
    for i, j in combinations(range(len(arch)), 2):
        if layers[i] is None or layers[j] is None:
            continue
        i, j = (j, i) if arch[j] < arch[i] else (i, j)
        for name in [n for n in layers[i] if n in layers[j] and layers[i][n].grid == layers[j][n].grid]:
            a, b = layers[i][name].activations, layers[j][name].activations
            pair = {"member_a": i, "member_b": j, "family_a": arch[i], "family_b": arch[j],
                    "kind": "same family" if arch[i] == arch[j] else "across families", "layer": name,
                    "width_a": a.shape[1], "width_b": b.shape[1], "samples": len(a),
                    "dead_a": int((~a.any(axis=0)).sum()), "dead_b": int((~b.any(axis=0)).sum())}
            for eps, (mx, my) in zip(epsilons, maximum_matches(a, b, epsilons)):
                rows.append(pair | {"epsilon": eps, "matched_a": int(mx.sum()), "matched_b": int(my.sum()),
                                    "share": match_share(mx, my)})
    return pd.DataFrame(rows)


def match_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per family pair (same-family pairs first), layer (in network order) and epsilon: the mean and std of the
    share over the member pairs, how many pairs, the layers' widths and samples, and the mean share of dead neurons
    (never matched: the share cannot exceed 1 - dead)."""
    key = ["family_a", "family_b", "kind", "layer", "epsilon"]
    table = table.assign(dead=(table["dead_a"] + table["dead_b"]) / (table["width_a"] + table["width_b"]))
    summary = table.groupby(key, sort=False).agg(
        share=("share", "mean"), share_std=("share", "std"), pairs=("share", "size"), width_a=("width_a", "first"),
        width_b=("width_b", "first"), samples=("samples", "first"), dead=("dead", "mean")).reset_index()
    across = summary["kind"] != "same family"
    return (summary.assign(_across=across).sort_values(["_across", "family_a", "family_b"], kind="stable")
            .drop(columns="_across").reset_index(drop=True))
