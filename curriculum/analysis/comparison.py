"""The comparison table of a study: one row per arm over seeds, with paired differences against the
`standard` and `random` controls trained with the same settings. Runs are grouped by their arm (curriculum/arms.py:
every setting the study varies); runs whose other training settings differ are split into distinct arms. Pure
functions over a runs frame."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from ..arms import SHOWN, arm_key, arm_name, show, with_settings
from ..cost import AMORTISED_OVER
from ..dicts import flatten
from ..errors import UserError
from .stats import t975

METRICS = {  # column of the runs frame -> short name in the table
    "test/acc_at_best_val": "test@best_val",
    "test/acc_final": "test_final",
    "test/acc_best": "test_best",
    "test/acc_curve_mean": "curve_mean",  # mean test accuracy along the learning curve (not an AUROC)
}
MEANING = {
    "test/acc_at_best_val": "test accuracy at the best validation point",
    "test/acc_final": "test accuracy at the end of training",
    "test/acc_best": "best test accuracy over training (optimistic: selected on the test set)",
    "test/acc_curve_mean": "mean test accuracy over training, from the first evaluation to the last",
}
COSTS = {  # cost columns of the runs frame (cost.py) -> short name; means only, no pairing
    "cost/example_passes": "passes",
    "cost/amortised_example_passes": "amortised",
}
MIN_SEEDS = 3
STANDARD = {"sampler": "standard", "keep": "all"}   # the arm every other is compared with


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


def curve_mean(steps, accs) -> float:
    """Mean test accuracy over training: the trapezoid area under the learning curve from the first
    evaluation to the last, over the steps it spans. Nothing is assumed before the first evaluation."""
    s, a = np.asarray(steps, dtype=np.float64), np.asarray(accs, dtype=np.float64)  # (evaluations,)
    if s[-1] == s[0]:
        return float(a.mean())
    return float(np.sum(np.diff(s) * (a[1:] + a[:-1]) / 2) / (s[-1] - s[0]))


def study_names(arms: list[dict], trainings: list[dict]) -> list[str]:
    """Distinct names for the (arm definition, training settings) pairs of one study: the arm_name, then in
    brackets the settings that tell apart arms of the same arm_name, and the training settings that differ
    within the study (arms trained differently are never compared with each other)."""
    base = [arm_name(a) for a in arms]
    shown = [shown_settings(a) for a in arms]
    trained = [{k: show(v) for k, v in flatten(t).items()} for t in trainings]
    across = differing(trained)
    names = []
    for i in range(len(arms)):
        alike = differing([shown[j] for j in range(len(arms)) if base[j] == base[i]])
        names.append(with_settings(base[i], [f"{k}={shown[i].get(k, '?')}" for k in alike]
                                   + [f"{k}={trained[i].get(k, '?')}" for k in across]))
    assert len(set(names)) == len(names), names
    return names


def shown_settings(arm: dict) -> dict:
    """An arm's settings under the overrides a reader knows them by (the scores by a checksum prefix)."""
    shown = {f"pacing.{k}": v for k, v in arm.get("params", {}).items()}
    shown |= {SHOWN[k]: v[:8] if k == "scores" else v for k, v in arm.items() if k in SHOWN}
    return {k: show(v) for k, v in shown.items()}


def differing(settings: list[dict]) -> list[str]:
    """Keys, in order of appearance, whose value is not the same in every dict (a missing key counts as '?')."""
    keys = list(dict.fromkeys(k for s in settings for k in s))
    return [k for k in keys if len({s.get(k, "?") for s in settings}) > 1]


def compare(runs: pd.DataFrame, rank_by: str = "test/acc_at_best_val") -> pd.DataFrame:
    """`runs`: one row per train run of a study, finished or not, with columns run_id, status, start_time,
    seed, arm and training (the runs' JSON tags), pacing_end and the METRICS columns. Returns one row per arm
    (definition and training settings): n, mean and std of each metric, paired differences of `rank_by`
    against the `standard` and `random` arms trained alike, and notes."""
    runs = runs.assign(key=[arm_key(json.loads(a)) for a in runs["arm"]])
    kept = newest_finished(runs)
    check_metric(kept, rank_by)
    groups = {k: g.set_index("seed").sort_index() for k, g in kept.groupby(["key", "training"], sort=False)}
    names = study_names([json.loads(key) for key, _ in groups], [json.loads(training) for _, training in groups])
    rows = []
    for ((key, training), g), name in zip(groups.items(), names):
        arm = json.loads(key)
        random_key = arm_key(arm | {"sampler": "random"}) if arm["sampler"] not in ("standard", "infobatch") else None
        controls = {"standard": groups.get((arm_key(STANDARD), training)),
                    "random": groups.get((random_key, training))}
        row = {"arm": name, "sampler": arm["sampler"], "pacing": arm.get("pacing", "none"),
               "end": float(g["pacing_end"].mean()), "n": len(g), "seeds": ",".join(map(str, g.index))}
        row |= summary(g, {c: control for c, control in controls.items() if control is not None and control is not g},
                       rank_by)
        row["note"] = "; ".join(arm_notes(arm, runs[(runs["key"] == key) & (runs["training"] == training)], g))
        rows.append(row | {"run_ids": ",".join(g["run_id"]), "definition": key, "training": training})
    return pd.DataFrame(rows).sort_values(f"{METRICS[rank_by]}_mean", ascending=False, kind="stable").reset_index(
        drop=True)


def newest_finished(runs: pd.DataFrame) -> pd.DataFrame:
    """Finished runs only, one per arm, training settings and seed: the newest (latest start)."""
    finished = runs[runs["status"] == "FINISHED"].sort_values("start_time", kind="stable")
    return finished.drop_duplicates(["key", "training", "seed"], keep="last")


def check_metric(runs: pd.DataFrame, rank_by: str) -> None:
    """Every counted run must have logged the metric the table ranks and pairs by."""
    missing = int(runs[rank_by].isna().sum()) if rank_by in runs else len(runs)
    if not missing:
        return
    have = [m for m in METRICS if m in runs and runs[m].notna().all()]
    why = " (it needs a validation set: data.val_size > 0)" if rank_by == "test/acc_at_best_val" else ""
    fix = f"rank by one they all have: {', '.join(have)} (e.g. rank_by={have[0]})" if have else \
        f"none of {', '.join(METRICS)} is logged by all of them"
    raise UserError(f"rank_by={rank_by}: {missing} of {len(runs)} runs of the study did not log it{why}; {fix}")


def summary(g: pd.DataFrame, controls: dict[str, pd.DataFrame], rank_by: str) -> dict:
    """Mean and std of each metric over an arm's seeds (rows of g), and the paired difference of `rank_by`
    against each control over the seeds both have."""
    row = {}
    for column, short in METRICS.items():
        if column in g:
            row[f"{short}_mean"], row[f"{short}_std"] = mean_std(g[column])
    for column, short in COSTS.items():
        if column in g and g[column].notna().any():
            row[f"{short}_mean"] = float(g[column].mean())
    for name, control in controls.items():
        mean, low, high, pairs = paired_difference(g[rank_by], control[rank_by])
        row |= {f"vs_{name}": mean, f"vs_{name}_lo": low, f"vs_{name}_hi": high, f"vs_{name}_pairs": pairs}
    return row


def arm_notes(arm: dict, runs: pd.DataFrame, kept: pd.DataFrame) -> list[str]:
    """What a reader must know about an arm's figures: few seeds, seeds run more than once (all of the arm's
    runs are in `runs`, the counted ones in `kept`), runs left out, the end that pacing.end=auto estimated."""
    notes = [f"only {len(kept)} seed{'s' * (len(kept) != 1)} (< {MIN_SEEDS})"] if len(kept) < MIN_SEEDS else []
    finished = runs.loc[runs["status"] == "FINISHED", "seed"]
    repeated = sorted(finished[finished.duplicated()].unique())
    if repeated:
        many = len(repeated) > 1
        notes.append(f"seed{'s' * many} {', '.join(map(str, repeated))} ran more than once; "
                     f"the newest run{' of each' * many} counts")
    left = runs.loc[runs["status"] != "FINISHED", "status"].value_counts().sort_index()
    if len(left):
        notes.append(f"{left.sum()} unfinished run{'s' * (int(left.sum()) != 1)} left out "
                     f"({', '.join(f'{count} {status}' for status, count in left.items())})")
    if arm.get("end") == "auto":
        low, high = f"{kept['pacing_end'].min():.3g}", f"{kept['pacing_end'].max():.3g}"
        notes.append(f"pacing.end=auto estimated {low}" + (f"–{high}" if high != low else ""))
    return notes


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

    def passes(row):
        own, shared = row.get("passes_mean"), row.get("amortised_mean")
        if own is None or pd.isna(own):
            return "–"
        return f"{own / 1e6:.2f}M" + ("" if shared is None or pd.isna(shared) else f" ({shared / 1e6:.2f}M)")

    lines = [f"| arm | n | {METRICS[rank_by]} | final | best | mean acc over training | vs standard (95% CI) | "
             f"vs random (95% CI) | example-passes (with scoring / {AMORTISED_OVER}) | note |", "|" + "---|" * 10]
    for _, row in table.iterrows():
        lines.append(f"| {row['arm']} | {row['n']} | {pm(row, METRICS[rank_by])} | {pm(row, 'test_final')} | "
                     f"{pm(row, 'test_best')} | {pm(row, 'curve_mean')} | {diff(row, 'standard')} | "
                     f"{diff(row, 'random')} | {passes(row)} | {row['note']} |")
    return "\n".join(lines) + "\n"
