"""How reproducible the per-example learning order is: Spearman correlations of learning speed between disjoint
sets of members."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from .stats import spearman


def order_stability(speed: np.ndarray, arch: list[str]) -> pd.DataFrame:
    """Spearman correlations of per-example learning speed (speed: (members, N)) between disjoint sets of
    members, never a part against a whole that contains it: member pairs (same and different architectures),
    split-half, and two disjoint m-member ensembles (m = 1 .. members // 2: how reproducible the order of an
    m-member ensemble is). Halves alternate members within each architecture, so with ensemble.models=[cnn,mlp]
    both halves hold both architectures and split-half measures reliability, not cross-architecture agreement."""
    rows = []
    for i, j in combinations(range(len(arch)), 2):
        kind = "same_arch" if arch[i] == arch[j] else "cross_arch"
        rows.append({"kind": kind, "a": f"{i}:{arch[i]}", "b": f"{j}:{arch[j]}", "spearman": spearman(speed[i], speed[j])})
    half_a, half_b = halves(arch)
    if half_b:
        rows.append({"kind": "split_half", "a": members_label(half_a), "b": members_label(half_b),
                     "spearman": spearman(speed[half_a].mean(0), speed[half_b].mean(0))})
    for m in range(1, len(half_b) + 1):
        a, b = half_a[:m], half_b[:m]
        rows.append({"kind": "m_vs_m", "a": members_label(a), "b": members_label(b),
                     "spearman": spearman(speed[a].mean(0), speed[b].mean(0))})
    return pd.DataFrame(rows)


def halves(arch: list[str]) -> tuple[list[int], list[int]]:
    """Members split in two, alternating within each architecture, in member order (the first half takes the extra
    member of an odd count)."""
    seen: dict[str, int] = {}
    a, b = [], []
    for k, name in enumerate(arch):
        (a if seen.get(name, 0) % 2 == 0 else b).append(k)
        seen[name] = seen.get(name, 0) + 1
    return a, b


def members_label(members: list[int]) -> str:
    return ("member " if len(members) == 1 else "members ") + ",".join(map(str, members))
