"""Agreement where no label is right (Hacohen, Choshen & Weinshall: members agree even on out-of-sample and
artificial images): how often all members predict the same class of an out-of-distribution image, against members
that drew their predictions independently with their own predicted-class frequencies, and whether architecture
families agree early on the same images. Pure functions over predicted classes (members, checkpoints, N)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd


def unanimity(predicted: np.ndarray) -> np.ndarray:
    """(N,) bool: all members (rows of (K, N)) predict the same class."""
    return (predicted == predicted[0]).all(axis=0)


def unanimity_independent(predicted: np.ndarray) -> float:
    """The share all K members would agree on if each predicted independently, member k class c with its own
    frequency q_k(c) over these images: sum over c of prod over k of q_k(c)."""
    classes = int(predicted.max()) + 1
    q = np.stack([np.bincount(p, minlength=classes) / len(p) for p in predicted])      # (K, classes)
    return float(np.prod(q, axis=0).sum())


def ood_rows(ood: dict[str, np.ndarray], checkpoints: np.ndarray) -> pd.DataFrame:
    """Per out-of-distribution split (name -> (K, C, N) predicted classes) and checkpoint: the share of images all
    members put in the same class, what independent members would give, and the commonest class's share."""
    rows = []
    for name, predicted in ood.items():
        for c, epoch in enumerate(checkpoints):
            now = predicted[:, c].astype(np.int64)
            rows.append({"split": name, "checkpoint": c, "epoch": float(epoch),
                         "unanimous": float(unanimity(now).mean()),
                         "unanimous_independent": unanimity_independent(now),
                         "top_class_share": float(np.bincount(now.ravel()).max() / now.size)})
    return pd.DataFrame(rows)


def same_images_across_families(predicted: np.ndarray, arch: list[str], checkpoint: int = 0) -> pd.DataFrame:
    """Per pair of families with at least two members each: at `checkpoint`, how many images each family is
    unanimous on, how many both are unanimous on with the same class, and how many that would be if the two
    families' unanimous images and classes were independent (sum over c of n_a(c) n_b(c) / N)."""
    now = predicted[:, checkpoint].astype(np.int64)                       # (K, N)
    families = {a: np.flatnonzero(np.array(arch) == a) for a in dict.fromkeys(arch)}
    agreed = {a: (unanimity(now[m]), now[m[0]]) for a, m in families.items() if len(m) >= 2}
    rows = []
    for a, b in combinations(agreed, 2):
        (in_a, class_a), (in_b, class_b) = agreed[a], agreed[b]
        both = int((in_a & in_b & (class_a == class_b)).sum())
        classes = max(class_a.max(), class_b.max()) + 1
        per_a, per_b = (np.bincount(cls[mask], minlength=classes) for cls, mask in ((class_a, in_a), (class_b, in_b)))
        rows.append({"family_a": a, "family_b": b, "unanimous_a": int(in_a.sum()), "unanimous_b": int(in_b.sum()),
                     "same_class_both": both, "independent": float((per_a * per_b).sum() / now.shape[1])})
    return pd.DataFrame(rows)
