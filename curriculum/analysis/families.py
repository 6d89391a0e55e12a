"""Agreement between architecture families (Xiao, Pennington & Schoenholz 2020: CNNs without global pooling behave
almost like fully connected networks): per pair of families, how alike their members' learning order and final
correctness are, next to pairs within one family. Pure functions over per-member arrays."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from .stats import spearman


def correctness_agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Two members' final correctness ((N,) bool each): the share of examples both get right or both wrong, what
    independent members of the same accuracies would give (p_a p_b + (1 - p_a)(1 - p_b)), and Cohen's kappa (the
    agreement beyond that, as a share of what is left to agree on: comparable across accuracies)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    observed = float((a == b).mean())
    pa, pb = a.mean(), b.mean()
    expected = float(pa * pb + (1 - pa) * (1 - pb))
    kappa = (observed - expected) / (1 - expected) if expected < 1 else float("nan")
    return observed, expected, float(kappa)


def family_agreement(speed: np.ndarray, final: np.ndarray, arch: list[str],
                     cka: np.ndarray | None = None) -> pd.DataFrame:
    """One row per pair of families (a family with itself included), over their member pairs: Spearman of the
    learning order (speed: (K, N_train), share of checkpoints right), the correctness agreement at the last
    checkpoint (final: (K, N), bool) and, given the (K, K) `cka` of the members' representations of the same
    examples, their linear CKA; each the mean (and std) over the pairs where it is defined (a member right on every
    example has no kappa, one without weights no CKA)."""
    pairs: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    for i, j in combinations(range(len(arch)), 2):
        key = tuple(sorted((arch[i], arch[j])))
        similarity = np.nan if cka is None else cka[i, j]
        pairs.setdefault(key, []).append((spearman(speed[i], speed[j]), *correctness_agreement(final[i], final[j]),
                                          similarity))
    rows = []
    names = ("spearman", "agreement", "agreement_independent", "kappa", "cka")
    for (a, b), values in sorted(pairs.items(), key=lambda item: (item[0][0] != item[0][1], item[0])):
        row = {"family_a": a, "family_b": b, "kind": "same family" if a == b else "across families",
               "pairs": len(values)}
        for name, column in zip(names, np.array(values).T):
            if name == "cka" and cka is None:
                continue
            known = column[~np.isnan(column)]
            row[name] = float(known.mean()) if len(known) else np.nan
            if name in ("spearman", "kappa", "cka"):
                row[f"{name}_std"] = float(known.std(ddof=1)) if len(known) > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
