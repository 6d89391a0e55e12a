"""Whether a claim of the literature holds in a study's numbers, as typed values: the study's report renders the
prose from them, and tests check them on hand-made tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd


class Holds(Enum):
    HOLDS = "Holds here"
    PARTLY = "Holds only in part here"
    DOES_NOT_HOLD = "Does not hold here"


@dataclass(frozen=True)
class Verdict:
    claim: str
    holds: Holds
    evidence: dict[str, float] = field(default_factory=dict)   # the numbers the verdict was read from
    by: tuple[str, ...] = ()                       # the measures that support the claim
    not_by: tuple[str, ...] = ()                   # the measures that do not


def all_or_some(supported: list[bool]) -> Holds:
    return Holds.HOLDS if all(supported) else Holds.PARTLY if any(supported) else Holds.DOES_NOT_HOLD


def families_verdict(cnn: pd.Series, gap: pd.Series, measures: list[str]) -> Verdict:
    """Xiao et al.: against mlp, `cnn` (no global pooling) is closer than `cnn_gap`, by each measure (rows of
    families.csv for cnn–mlp and cnn_gap–mlp); `spreads_overlap` is 1 when their learning-order mean ± std overlap."""
    closer = {m: bool(cnn[m] > gap[m]) for m in measures}
    evidence = {f"{m}/cnn": float(cnn[m]) for m in measures} | {f"{m}/cnn_gap": float(gap[m]) for m in measures}
    evidence["spreads_overlap"] = float(spreads_overlap(cnn, gap, "spearman"))
    return Verdict("a cnn without global pooling is closer to an mlp", all_or_some(list(closer.values())), evidence,
                   tuple(m for m in measures if closer[m]), tuple(m for m in measures if not closer[m]))


def spreads_overlap(a: pd.Series, b: pd.Series, name: str) -> bool:
    """The mean ± std of `name` of two families rows overlap (False without stds)."""
    gap = abs(a[name] - b[name])
    return bool(gap < a.get(f"{name}_std", np.nan) + b.get(f"{name}_std", np.nan))


def representation_verdict(same: pd.DataFrame) -> Verdict:
    """Wang et al. 2018 (differently initialised networks' representations are less alike than expected), by linear
    CKA: holds when some same-family pair's CKA is below its output agreement (kappa); `same`: families.csv rows of
    the same family."""
    alike = bool((same["cka"] >= same["kappa"]).all())
    evidence = {f"{m}_{end}": float(getattr(same[m], end)()) for m in ("cka", "kappa") for end in ("min", "max")}
    return Verdict("representations are less alike than the outputs", Holds.DOES_NOT_HOLD if alike else Holds.HOLDS,
                   evidence)


def subspace_verdict(same: pd.DataFrame, half: float = 0.5) -> Verdict:
    """Wang et al. 2018 by their own measure: the same layers of differently initialised networks are far less alike
    than assumed. Holds when, at the most lenient epsilon of `same` (match_summary rows of same-family pairs), fewer
    than `half` of the neurons of every layer match (share below it); in part when only some layers; `by`: the layers
    (family layer) below, `not_by`: the others."""
    lenient = same[same["epsilon"] == same["epsilon"].max()]
    names = [f"{r.family_a} {r.layer}" for r in lenient.itertuples()]
    below = dict(zip(names, (lenient["share"] < half).tolist()))
    evidence = {"epsilon": float(lenient["epsilon"].iloc[0]), "share_min": float(lenient["share"].min()),
                "share_max": float(lenient["share"].max()), "layers": float(len(lenient)),
                "layers_below": float(sum(below.values()))}
    return Verdict("the same layers of differently initialised networks match far less than assumed",
                   all_or_some(list(below.values())), evidence, tuple(n for n in names if below[n]),
                   tuple(n for n in names if not below[n]))


def ood_verdict(last: pd.DataFrame, late: pd.DataFrame) -> Verdict:
    """Hacohen et al.: members agree even out of distribution. Holds when at the last checkpoint more images are
    unanimous than independent members would make on every split (`last`: ood_agreement.csv rows); `by` says
    whether the two families pick the same images and classes beyond independence on every split (`late`:
    ood_families.csv rows at the last epoch)."""
    above = bool((last["unanimous"] > last["unanimous_independent"]).all())
    shared = bool((late["same_class_both"] > late["independent"]).all())
    evidence = {f"{r.split}/{k}": float(getattr(r, k)) for r in last.itertuples()
                for k in ("unanimous", "unanimous_independent")}
    return Verdict("members agree out of distribution", Holds.HOLDS if above else Holds.DOES_NOT_HOLD, evidence,
                   ("families",) if shared else (), () if shared else ("families",))


def tpa_verdict(alike: pd.DataFrame) -> Verdict:
    """More accurate ensembles agree more: holds when TPA and the members' mean accuracy correlate positively
    (Pearson) over ensembles of one size and task."""
    r = float(np.corrcoef(alike["mean_acc"], alike["tpa"])[0, 1])
    return Verdict("more accurate ensembles agree more", Holds.HOLDS if r > 0 else Holds.DOES_NOT_HOLD,
                   {"pearson": r, "ensembles": float(len(alike))})


def oracle_share(standard: pd.Series, oracle: pd.Series, arm: pd.Series) -> tuple[float | None, float]:
    """The share of the oracle's gain over standard that `arm` captures: the arm's mean paired gain over standard
    divided by the oracle's, over the seeds (the index) all three have; None when the oracle gains nothing. Also
    the oracle's gain."""
    seeds = standard.index.intersection(oracle.index).intersection(arm.index)
    gain = float((oracle[seeds] - standard[seeds]).mean())
    if not gain > 0:
        return None, gain
    return float((arm[seeds] - standard[seeds]).mean()) / gain, gain
