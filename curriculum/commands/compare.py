"""`python -m curriculum compare study=NAME`: gather a study's train runs from MLflow into a table over seeds,
with paired differences against the controls and learning curves; logged as a `stage=compare` run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from ..analysis.comparison import COSTS, MEANING, METRICS, curve_mean, to_markdown
from ..analysis.comparison import compare as compare_table
from ..analysis.plots import learning_curves
from ..arms import old_runs_message, tags_are_current
from ..errors import UserError
from ..io.files import atomic_write
from ..io.tracking import Tracker
from .common import say, tracker, writable_dir


def compare(cfg: DictConfig) -> None:
    study, rank_by = str(cfg.study), str(cfg.rank_by)
    if rank_by not in METRICS:
        raise UserError(f"rank_by={rank_by!r}; choose one of {', '.join(METRICS)}")
    track = tracker(cfg)
    runs, run_curves = gather(track, study)
    table = compare_table(runs, rank_by)
    curves = {row.arm: [run_curves[r] for r in row.run_ids.split(",")] for row in table.itertuples()}
    out_dir = writable_dir(cfg.out_dir)
    finished = runs[runs["status"] == "FINISHED"]
    left_out = len(runs) - int(table["n"].sum())
    header = (f"# Study `{study}`\n\n{int(table['n'].sum())} finished train runs on "
              f"{', '.join(sorted(finished['dataset'].unique()))}"
              + (f" ({left_out} more left out: unfinished or repeated seeds, see the notes)" if left_out else "")
              + f"; ranked by {rank_by} ({MEANING[rank_by]}). Accuracies in %, mean ± std over seeds; differences "
              f"are paired over matching seeds against the control trained with the same settings, with a 95% "
              f"t-interval.\n\n")
    markdown = header + to_markdown(table, rank_by)
    short = table[table["n"] < 3]
    if len(short):
        markdown += f"\nFewer than 3 seeds: {', '.join(short['arm'])}; their std and intervals are not to be trusted.\n"
    atomic_write(out_dir / "comparison.csv", lambda f: table.to_csv(f, index=False))
    atomic_write(out_dir / "comparison.md", lambda f: f.write(markdown.encode()))
    learning_curves(out_dir / "learning_curves.png", curves, f"study {study}")
    with track.run(f"compare-{study}", {"stage": "compare", "study": study}) as run_id:
        for name in ("comparison.csv", "comparison.md", "learning_curves.png"):
            track.log_artifact(run_id, out_dir / name)
    print(markdown)
    say(f"wrote {out_dir}/comparison.csv, comparison.md, learning_curves.png (MLflow run {run_id})")


def gather(track: Tracker, study: str) -> tuple[pd.DataFrame, dict]:
    """One row per train run of `study`, finished or not (compare counts the ones it leaves out), and each
    finished run's test-accuracy curve by run id: (steps, accuracies)."""
    found = track.client.search_runs([track.experiment_id], max_results=10000,
                                     filter_string=f"tags.stage = 'train' and tags.study = '{study}'")
    if not any(run.info.status == "FINISHED" for run in found):
        left = pd.Series([run.info.status for run in found], dtype=object).value_counts().sort_index()
        unfinished = f" (only unfinished ones: {', '.join(f'{n} {s}' for s, n in left.items())})" if len(left) else ""
        raise UserError(f"no finished train runs with study={study!r} in {track.uri}{unfinished}; "
                        f"run `python -m curriculum train study={study} ...` first")
    check_tags(found, study, track.uri)
    rows, curves = [], {}
    for run in found:
        tags, metrics, run_id = run.data.tags, run.data.metrics, run.info.run_id
        row = {"run_id": run_id, "status": run.info.status, "start_time": run.info.start_time,
               "seed": int(tags["seed"]), "dataset": tags["dataset"],
               "arm": tags["arm"], "training": tags["training"],
               "pacing_end": float(tags.get("pacing_end", "nan"))}
        if run.info.status == "FINISHED":
            history = sorted(track.client.get_metric_history(run_id, "test/acc"), key=lambda m: m.step)
            curves[run_id] = (np.array([m.step for m in history]), np.array([m.value for m in history]))
            row["test/acc_curve_mean"] = curve_mean(*curves[run_id]) if history else float("nan")
            row |= {name: metrics[name] for name in (*METRICS, *COSTS) if name in metrics}
        rows.append(row)
    return pd.DataFrame(rows), curves


def check_tags(found: list, study: str, uri: str) -> None:
    """Every run must carry the arm and training tags of this version (every arm tag names sampler.keep, every
    training tag epochs_of and augment): runs logged before do not group with newer ones, so a study mixing them is
    refused in one line."""
    old = [run for run in found if not {"arm", "training"} <= set(run.data.tags)
           or not tags_are_current(json.loads(run.data.tags["arm"]), json.loads(run.data.tags["training"]))]
    if old:
        raise UserError(old_runs_message(len(old), study, uri, old[0].info.run_id))
