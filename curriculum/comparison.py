"""The comparison table of a study: one row per arm (sampler, pacing, end) over seeds, with paired
differences against the `standard` and `random` controls. Pure functions over a runs frame."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# Two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..30; beyond, the normal 1.96.
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
METRICS = {  # column of the runs frame -> short name in the table
    "test/acc_at_best_val": "test@best_val",
    "test/acc_final": "test_final",
    "test/acc_best": "test_best",
    "test/auc": "test_auc",
}
MIN_SEEDS = 3


def t975(df: int) -> float:
    return T975[df - 1] if 1 <= df <= len(T975) else 1.96


def mean_std(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan")


def paired_difference(a: pd.Series, b: pd.Series) -> tuple[float, float, float, int]:
    """Mean of a - b over the seeds both have, with a 95% t-interval: (mean, low, high, pairs)."""
    common = a.index.intersection(b.index)
    d = (a.loc[common] - b.loc[common]).to_numpy(dtype=np.float64)
    if len(d) == 0:
        return float("nan"), float("nan"), float("nan"), 0
    mean = float(d.mean())
    if len(d) < 2:
        return mean, float("nan"), float("nan"), 1
    half = t975(len(d) - 1) * float(d.std(ddof=1)) / math.sqrt(len(d))
    return mean, mean - half, mean + half, len(d)


def area_under_curve(steps, accs, total_steps: int) -> float:
    """Mean test accuracy over training, as the trapezoid area from step 0 (accuracy taken as the first
    evaluation's) to the last step, divided by the steps: a learning-speed figure in [0, 1]."""
    s = np.concatenate([[0], np.asarray(steps, dtype=np.float64)])
    a = np.concatenate([[accs[0]], np.asarray(accs, dtype=np.float64)])
    return float(np.sum((s[1:] - s[:-1]) * (a[1:] + a[:-1]) / 2) / max(total_steps, 1))


def arm_name(sampler: str, pacing: str, end: float) -> str:
    name = sampler if sampler == "standard" else f"{sampler}/{pacing}"
    return name + (f"@end={end:.3g}" if end < 0.9999 else "")


def compare(runs: pd.DataFrame, rank_by: str = "test/acc_at_best_val") -> pd.DataFrame:
    """`runs`: one row per run with columns sampler, pacing, end, seed and the METRICS columns.
    Returns one row per arm: n, mean and std of each metric, and paired differences of `rank_by`."""
    runs = runs.assign(arm=[arm_name(s, p, e) for s, p, e in zip(runs["sampler"], runs["pacing"], runs["end"])])
    by_arm = {arm: g.set_index("seed") for arm, g in runs.groupby("arm", sort=False)}
    standard = next((g for arm, g in by_arm.items() if arm == "standard"), None)
    rows = []
    for arm, g in by_arm.items():
        row = {"arm": arm, "sampler": g["sampler"].iloc[0], "pacing": g["pacing"].iloc[0], "end": g["end"].iloc[0],
               "n": len(g), "seeds": ",".join(str(s) for s in sorted(g.index))}
        for column, short in METRICS.items():
            if column in g:
                row[f"{short}_mean"], row[f"{short}_std"] = mean_std(g[column])
        random_arm = by_arm.get(arm_name("random", row["pacing"], row["end"]))
        for control_name, control in (("standard", standard), ("random", random_arm)):
            if control is not None and control is not g:
                mean, low, high, pairs = paired_difference(g[rank_by], control[rank_by])
                row |= {f"vs_{control_name}": mean, f"vs_{control_name}_lo": low, f"vs_{control_name}_hi": high,
                        f"vs_{control_name}_pairs": pairs}
        row["note"] = f"only {len(g)} seed{'s' if len(g) != 1 else ''} (< {MIN_SEEDS})" if len(g) < MIN_SEEDS else ""
        rows.append(row)
    key = f"{METRICS[rank_by]}_mean"
    return pd.DataFrame(rows).sort_values(key, ascending=False, kind="stable").reset_index(drop=True)


def to_markdown(table: pd.DataFrame, rank_by: str = "test/acc_at_best_val") -> str:
    """A readable table: accuracies in %, mean ± std (n), differences with their 95% interval."""
    def pm(row, short):
        m, s = row.get(f"{short}_mean"), row.get(f"{short}_std")
        return "" if m is None or pd.isna(m) else f"{100 * m:.2f} ± {100 * s:.2f}" if not pd.isna(s) else f"{100 * m:.2f}"

    def diff(row, control):
        m = row.get(f"vs_{control}")
        if m is None or pd.isna(m):
            return "–"
        lo, hi = row.get(f"vs_{control}_lo"), row.get(f"vs_{control}_hi")
        ci = f" [{100 * lo:+.2f}, {100 * hi:+.2f}]" if not pd.isna(lo) else ""
        return f"{100 * m:+.2f}{ci}"

    lines = [f"| arm | n | {METRICS[rank_by]} | final | best | AUC | vs standard (95% CI) | vs random (95% CI) | note |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, row in table.iterrows():
        lines.append(f"| {row['arm']} | {row['n']} | {pm(row, METRICS[rank_by])} | {pm(row, 'test_final')} | "
                     f"{pm(row, 'test_best')} | {pm(row, 'test_auc')} | {diff(row, 'standard')} | "
                     f"{diff(row, 'random')} | {row['note']} |")
    return "\n".join(lines) + "\n"
