"""`python -m curriculum compare study=NAME`: gather a study's train runs from MLflow into a table over seeds,
with paired differences against the controls and learning curves; logged as a `stage=compare` run."""

from __future__ import annotations

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from ..comparison import METRICS, area_under_curve, arm_name, compare as compare_table, to_markdown
from ..errors import UserError
from ..files import atomic_write
from ..plots import learning_curves
from ..tracking import Tracker
from .common import say, tracker, writable_dir


def compare(cfg: DictConfig) -> None:
    study, rank_by = str(cfg.study), str(cfg.rank_by)
    if rank_by not in METRICS:
        raise UserError(f"rank_by={rank_by!r}; choose one of {', '.join(METRICS)}")
    track = tracker(cfg)
    runs, curves = gather(track, study)
    table = compare_table(runs, rank_by)
    out_dir = writable_dir(cfg.out_dir)
    header = (f"# Study `{study}`\n\n{len(runs)} finished train runs on {', '.join(sorted(runs['dataset'].unique()))}; "
              f"ranked by {rank_by} (test accuracy at the best validation point). Accuracies in %, mean ± std over "
              f"seeds; differences are paired over matching seeds, with a 95% t-interval.\n\n")
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
    """One row per finished train run of `study`, and each arm's test-accuracy curves."""
    found = track.client.search_runs(
        [track.experiment_id], max_results=10000,
        filter_string=f"tags.stage = 'train' and tags.study = '{study}' and attributes.status = 'FINISHED'")
    if not found:
        raise UserError(f"no finished train runs with study={study!r} in {track.uri}; "
                        f"run `python -m curriculum train study={study} ...` first")
    rows, curves = [], {}
    for run in found:
        tags, metrics = run.data.tags, run.data.metrics
        history = sorted(track.client.get_metric_history(run.info.run_id, "test/acc"), key=lambda m: m.step)
        steps = np.array([m.step for m in history])
        accs = np.array([m.value for m in history])
        row = {"run_id": run.info.run_id, "sampler": tags["sampler"], "pacing": tags["pacing"],
               "end": float(tags.get("pacing_end", 1.0)), "seed": int(tags["seed"]), "dataset": tags["dataset"],
               "test/auc": area_under_curve(steps, accs, int(metrics.get("steps", steps[-1])))}
        row |= {name: metrics[name] for name in METRICS if name in metrics}
        rows.append(row)
        curves.setdefault(arm_name(row["sampler"], row["pacing"], row["end"]), []).append((steps, accs))
    return pd.DataFrame(rows), curves
