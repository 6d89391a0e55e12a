"""docs/results.md's section of issue 14's data-pruning study: which examples to keep, and what the scores cost."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...io.scorefile import read_scores
from ..plan import arm_name_of
from .common import Context, command_line, comparison_body, wall_minutes

HEADING = "## Data pruning: which examples to keep"


def selection_overrides(selection: str, fraction: float, report: dict) -> list[str]:
    """The train overrides of `selection` (a row of the report) keeping the first `fraction` from the first step."""
    return [*report["selections"][selection].split(), "pacing=static", f"pacing.end={fraction}"]


def pruning_section(ctx: Context) -> list[str]:
    """Each selection at each kept fraction, at equal epochs and at equal steps, against random subsets and all the
    data; what the scores cost."""
    from ...config import compose_config

    report = ctx.plan.report
    tables = {study: pd.read_csv(ctx.out / f"compare-{study}" / "comparison.csv").set_index("arm")
              for study in ctx.plan.studies}
    cost = scoring_passes(ctx.out / f"score-{next(iter(ctx.plan.scores))}")
    epochs = int(compose_config("train", []).epochs)   # the default train run's, which the study keeps
    lines = [HEADING, "", f"Command: `{command_line(ctx)}`; wall time {wall_minutes(ctx):.0f} min.  ",
             description(cost, epochs), ""] + table_lines(tables, report)
    full = tables[report["equal_epochs"]].loc["standard"]
    lines += [f"All the data (`standard`): {100 * full['test@best_val_mean']:.2f} ± "
              f"{100 * full['test@best_val_std']:.2f} ({int(full['n'])} seeds).", "",
              scoring_cost_line(cost, epochs), ""]
    for study in tables:
        lines += [f"### {study}", "", comparison_body(ctx, study), ""]
    return lines


def description(cost: dict, epochs: int) -> str:
    from ...schedule.sampler import SamplerConfig

    defaults = SamplerConfig(name="stratified")
    return (f"Clean Fashion-MNIST ({cost['n']} training examples, the default split), the default cnn and training "
            f"({epochs} epochs), scores from the default score run. Each selection keeps the first fraction "
            "of its ordering, classes in proportion (`sampler.balanced`), and trains on all of it from the first "
            "step (`pacing=static`; each batch drawn uniformly from the subset). Equal epochs: "
            f"{epochs} epochs over the subset (`epochs_of=kept`), so a smaller subset also trains for fewer "
            f"steps; equal steps: the steps of {epochs} epochs over all the data. Stratified: Zheng et al.'s "
            f"coverage-centric selection (`sampler=stratified`): the hardest {defaults.drop_hardest:g} left out, the "
            f"rest dealt evenly from {defaults.strata} equal-width consensus strata (our fixed choice, not tuned per "
            f"fraction as in the paper; consensus takes {cost['levels']} values here, so at most {cost['levels']} "
            "strata are non-empty; at 0.9 it keeps all but the globally hardest tenth, where the easiest selection "
            "keeps the easiest nine tenths of each class).")


def table_lines(tables: dict, report: dict) -> list[str]:
    """Accuracy, then the difference from random, of every selection at each fraction (equal epochs) and at the
    equal-steps fraction."""
    epochs, steps = tables[report["equal_epochs"]], tables[report["equal_steps"]]
    columns = [(epochs, f) for f in report["fractions"]] + [(steps, report["same_steps"])]
    names = [f"{f:g}" for f in report["fractions"]] + [f"{report['same_steps']:g}, equal steps"]
    lines = []
    for against_random, title in ((False, "Test accuracy at the best validation point (%, mean ± std over seeds)"),
                                  (True, "Difference from the random subset of the same size (points, paired over "
                                         "seeds, 95% interval)")):
        lines += [f"{title}, by kept fraction:", "", "| selection | " + " | ".join(names) + " |",
                  "|---|" + "---|" * len(names)]
        for selection in report["selections"]:
            cells = [pruning_cell(table, arm_name_of(selection_overrides(selection, f, report)), against_random)
                     for table, f in columns]
            lines.append(f"| {selection} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def pruning_cell(table: pd.DataFrame, arm: str, against_random: bool) -> str:
    row = table.loc[arm]
    if not against_random:
        return f"{100 * row['test@best_val_mean']:.2f} ± {100 * row['test@best_val_std']:.2f}"
    if arm.startswith("random/"):
        return "–"
    return f"{100 * row['vs_random']:+.2f} [{100 * row['vs_random_lo']:+.2f}, {100 * row['vs_random_hi']:+.2f}]"


def scoring_passes(score_dir: Path) -> dict:
    """What the score run cost, in example passes, from the metadata `score` writes into scores.parquet: n training
    examples; `trained`, the members' training passes; `recorded_train` and `recorded_test`, the forward-only passes
    of the clean (recording.source=eval) recordings at the checkpoints; `levels`, the values consensus can take."""
    frame, meta = read_scores(score_dir / "scores.parquet")
    test = score_dir / "test_scores.parquet"
    evals = sum(len(meta["checkpoints"]) for m in meta["ensemble"] if m.get("source", "eval") == "eval")
    return {"n": len(frame), "trained": round(len(meta["ensemble"]) * max(meta["checkpoints"]) * len(frame)),
            "recorded_train": evals * len(frame),
            "recorded_test": evals * (len(read_scores(test)[0]) if test.is_file() else 0),
            "levels": len(meta["ensemble"]) * len(meta["checkpoints"]) + 1}


def scoring_cost_line(cost: dict, epochs: int) -> str:
    """The scoring cost against what pruning saves, with a forward-only pass counted as a third of a training pass
    (the backward pass costs about two forwards)."""
    n, trained, recorded = cost["n"], cost["trained"], cost["recorded_train"]
    equivalent = trained + recorded / 3
    saved = epochs * 0.5 * n
    return (f"Cost of the scores: the score run trains {trained:,} example passes ({trained / n:.0f} epochs of the "
            f"training set) and records {recorded:,} forward-only passes of the training split at its checkpoints "
            f"({cost['recorded_test']:,} more of the test split, which pruning does not need: `recording.test=false`); "
            f"at a third of a training pass each, {equivalent:,.0f} training-pass equivalents. One target on all the "
            f"data takes {epochs * n:,} passes; keeping f at equal epochs saves {epochs} x (1 - f) x {n:,} per run, "
            f"so at f = 0.5 the scores pay for themselves after {equivalent / saved:.1f} training runs "
            f"({trained / saved:.1f} with `recording.source=train`, which records from the training pass itself).")
