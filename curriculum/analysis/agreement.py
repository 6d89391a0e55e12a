"""Agreement between ensemble members, next to what independent members of the same accuracies would give.
Pure functions over correct-counts, fed one member at a time by member_agreement."""

from __future__ import annotations

import numpy as np


def poisson_binomial(p: np.ndarray) -> np.ndarray:
    """Distribution of the number of successes of independent trials with success probabilities p: (K+1,)."""
    dist = np.array([1.0])
    for pk in np.asarray(p, dtype=np.float64):
        dist = np.convolve(dist, [1 - pk, pk])
    return dist


def tpa(count: np.ndarray, members: int) -> float:
    """True-positive agreement: examples right in all members / examples right in at least one."""
    any_right = int((count > 0).sum())
    return float((count == members).sum() / any_right) if any_right else float("nan")


def tpa_independent(p: np.ndarray) -> float:
    """TPA expected if members with accuracies p erred independently of each other."""
    p = np.asarray(p, dtype=np.float64)
    denom = 1 - np.prod(1 - p)
    return float(np.prod(p) / denom) if denom > 0 else float("nan")


def agreement_rows(count: np.ndarray, accuracy: np.ndarray, checkpoints: np.ndarray, split: str) -> list[dict]:
    """One row per checkpoint. count: (C, N) members right per example; accuracy: (K, C) per member."""
    members = accuracy.shape[0]
    rows = []
    for c, epoch in enumerate(checkpoints):
        baseline = poisson_binomial(accuracy[:, c])
        hist = np.bincount(count[c], minlength=members + 1) / count.shape[1]
        rows.append({"split": split, "checkpoint": c, "epoch": float(epoch), "mean_acc": float(accuracy[:, c].mean()),
                     "tpa": tpa(count[c], members), "tpa_independent": tpa_independent(accuracy[:, c]),
                     "all_right": float(hist[members]), "all_right_independent": float(baseline[members]),
                     "none_right": float(hist[0]), "none_right_independent": float(baseline[0]),
                     "histogram": hist.round(6).tolist(), "histogram_independent": baseline.round(6).tolist()})
    return rows


def member_agreement(members) -> dict:
    """Per split: members-right counts (C, N) and member accuracies (K, C); per member: learning speed on the
    training set (share of checkpoints at which it is right, (N,)) and correctness at the last checkpoint on the
    test split (the training split when the test split was not recorded), and per out-of-distribution split the
    classes each member predicted at every checkpoint. `members` yields MemberDynamics, one in
    memory at a time (scoring.derive.member_files)."""
    count, accuracy, speed, arch, final, ood, identity = {}, {}, [], [], [], {}, []
    for dyn in members:
        for split, part in (("train", dyn.train), ("test", dyn.test)):
            if part.labels.size:   # a test split not recorded (recording.test=false) has no rows
                count[split] = count.get(split, 0) + part.stats["correct"].astype(np.int32)
                accuracy.setdefault(split, []).append(part.stats["correct"].mean(axis=1))
        speed.append(dyn.train.stats["correct"].mean(axis=0))
        identity.append(dyn.identity)
        final.append((dyn.test if dyn.test.labels.size else dyn.train).stats["correct"][-1])
        for name, predicted in dyn.ood.items():
            ood.setdefault(name, []).append(predicted)
        arch.append(dyn.arch)
    rows = [row for split in count
            for row in agreement_rows(count[split], np.array(accuracy[split]), dyn.checkpoints, split)]
    return {"rows": rows, "speed": np.array(speed), "arch": arch, "dataset": dyn.dataset,
            "checkpoints": dyn.checkpoints, "final": np.array(final), "identity": identity,
            "final_split": "test" if dyn.test.labels.size else "train",
            "ood": {name: np.stack(p) for name, p in ood.items() if len(p) == len(arch)}}   # (K, C, N) predicted
