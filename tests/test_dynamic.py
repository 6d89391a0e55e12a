"""Dynamic pruning (sampler=infobatch) and cost accounting: the rules on hand-made examples, and the arm through
`train` and `compare`, read back from a real MLflow store."""

import math

import mlflow
import numpy as np
import pytest
from conftest import run_cli

from curriculum.arms import arm_name, arm_tag
from curriculum.cost import (RECORDING_SHARE, amortised, passes_to_reach, recording_passes, run_costs,
                             training_passes)
from curriculum.engine import OptimConfig, lr_factor
from curriculum.errors import UserError
from curriculum.schedule.dynamic import EpochSchedule, epoch_selection, pruned_epochs, well_learned
from curriculum.schedule.sampler import SamplerConfig

NAN = float("nan")


def test_infobatch_calls_well_learned_what_is_below_the_mean_loss_of_the_examples_seen():
    losses = np.array([0.1, 0.5, 0.9, NAN, 1.5])      # seen: mean (0.1 + 0.5 + 0.9 + 1.5) / 4 = 0.75
    assert well_learned(losses, None, "loss").tolist() == [True, True, False, False, False]
    assert not well_learned(np.full(3, NAN), None, "loss").any()   # nothing seen yet: nothing skipped


def test_consensus_and_both_read_the_score_runs_learned_examples():
    losses = np.array([0.1, 0.5, 0.9, NAN, 1.5])
    learned = np.array([False, True, True, True, False])
    assert well_learned(losses, learned, "consensus").tolist() == learned.tolist()
    assert well_learned(losses, learned, "both").tolist() == [False, True, False, False, False]


def test_an_epoch_skips_the_share_of_the_prunable_and_weighs_the_kept_ones_up():
    prunable = np.array([True, True, True, True, False, False])
    kept, weights = epoch_selection(prunable, 0.5, np.random.default_rng(0))
    assert len(kept) == 4 and {4, 5} <= set(kept.tolist()) and list(kept) == sorted(kept)   # 2 of 4 skipped
    assert weights[kept].tolist().count(2.0) == 2 and weights[[4, 5]].tolist() == [1.0, 1.0]
    # the expected gradient: the 4 prunable examples' total weight stays 4 (2 kept x 2)
    assert weights[kept][prunable[kept]].sum() == 4.0
    kept, weights = epoch_selection(np.zeros(3, dtype=bool), 0.5, np.random.default_rng(0))
    assert kept.tolist() == [0, 1, 2] and weights.tolist() == [1.0, 1.0, 1.0]


def test_an_epoch_with_fewer_kept_examples_than_a_batch_is_one_line():
    from curriculum.schedule.dynamic import epoch_steps

    assert epoch_steps(300, 128, 1) == 2
    with pytest.raises(UserError, match="sampler.prune leaves 100 examples in epoch 2, fewer than one batch"):
        epoch_steps(100, 128, 2)


def test_the_last_epochs_use_every_example():
    assert pruned_epochs(200, 0.875) == 175 and pruned_epochs(6, 0.875) == 5 and pruned_epochs(4, 0.875) == 3
    assert pruned_epochs(4, 0.0) == 0 and pruned_epochs(4, 1.0) == 4


def test_a_shortened_epoch_keeps_the_learning_rate_of_the_full_run_at_the_same_point():
    optim = OptimConfig(lr=1.0, schedule="linear", warmup=0.0)
    # the full run: 2 epochs of 10 steps; epoch 1 pruned to 5 steps (steps 7..11 of this run)
    epoch = EpochSchedule(optim, start=7, total=12, epoch=1, epochs=2, full_per_epoch=10)
    assert [epoch.lr(s) for s in range(7, 12)] == [lr_factor(a, 20, "linear", 0.0) for a in (10, 12, 14, 16, 18)]
    assert epoch.lr(7) == pytest.approx(0.5)


def test_infobatch_settings_are_checked_and_named():
    with pytest.raises(UserError, match="sampler.prune=1.0 must be a fraction in"):
        SamplerConfig(name="infobatch", prune=1.0)
    with pytest.raises(UserError, match="sampler.well_learned='easy' must be one of loss, consensus, both"):
        SamplerConfig(name="infobatch", well_learned="easy")
    skipping = {"prune": 0.5, "anneal": 0.875, "well_learned": "loss"}
    assert arm_name(arm_tag("infobatch", {}, "consensus", True, "margin", "abc", skipping=skipping)) == "infobatch"
    tag = arm_tag("infobatch", {}, "consensus", True, "margin", "abc", skipping=skipping | {"well_learned": "both"})
    assert arm_name(tag) == "infobatch[sampler.well_learned=both]" and tag["scores"] == "abc"


def test_an_infobatch_arm_is_named_by_the_settings_off_samplerconfigs_defaults():
    from curriculum.arms import SKIPPING

    defaults = SamplerConfig(name="infobatch")
    assert SKIPPING == {"prune": defaults.prune, "anneal": defaults.anneal, "well_learned": defaults.well_learned}


def test_costs_count_passes_and_share_the_scoring():
    assert training_passes(10, 128) == 1280 and RECORDING_SHARE == pytest.approx(1 / 3)
    assert recording_passes(3, 600) == pytest.approx(600.0)          # 3 clean passes of 600 at a third each
    assert amortised(1000, 500) == 1100.0                            # 500 shared by 5 runs
    assert run_costs(1000, None) == {"cost/example_passes": 1000.0}
    assert run_costs(1000, 500)["cost/amortised_example_passes"] == 1100.0


def test_the_cost_to_reach_an_accuracy_is_the_passes_until_the_first_evaluation_at_it():
    history = [{"step": 10, "val/acc": 0.80}, {"step": 20, "val/acc": 0.86}, {"step": 30, "val/acc": 0.85}]
    assert passes_to_reach(history, 0.85, 128) == 20 * 128      # step 20 is the first at or above 0.85
    assert passes_to_reach(history, 0.80, 128) == 10 * 128
    assert passes_to_reach(history, 0.87, 128) is None          # never reached


@pytest.mark.slow
def test_infobatch_trains_fewer_passes_and_compare_shows_the_cost(tmp_path, store):
    small = ["data=synthetic", "device=cpu", "epochs=4", "threads=1", f"mlflow.tracking_uri={store}"]
    run_cli("score", *small[:2], "epochs=2", "threads=1", "ensemble.size=3", f"out_dir={tmp_path / 's'}",
            f"mlflow.tracking_uri={store}")
    for arm in (["sampler=standard"], ["sampler=infobatch"], ["sampler=infobatch", "sampler.well_learned=both"]):
        run_cli("train", *small, *arm, f"scores={tmp_path / 's'}", "study=cost", cwd=tmp_path)
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.study = 'cost'").set_index(
        "tags.sampler", append=True)
    passes = runs["metrics.cost/example_passes"].droplevel(0)
    steps = runs["metrics.steps"].droplevel(0)
    assert passes["standard"] == 48 * 128 == steps["standard"] * 128              # 1600 // 128 = 12 steps x 4 epochs
    assert (passes["infobatch"] < passes["standard"]).all() and (passes == steps * 128).all()
    score = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'score'")
    scoring = score["metrics.cost/example_passes"].iloc[0]
    # 3 members x (2 epochs x 12 steps x 128) + recording: 5 checkpoints x (1600 train + 500 test) x 1/3 each
    assert scoring == pytest.approx(3 * (24 * 128 + 5 * 2100 / 3))
    both = runs[runs["tags.arm"].str.contains('"both"')]
    assert math.isclose(both["metrics.cost/amortised_example_passes"].iloc[0],
                        both["metrics.cost/example_passes"].iloc[0] + scoring / 5)
    assert runs.loc[runs.index.get_level_values(1) == "standard", "metrics.cost/scoring_example_passes"].isna().all()
    table = run_cli("compare", "study=cost", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    assert "example-passes (with scoring / 5)" in (next((tmp_path / "outputs").rglob("comparison.md"))).read_text()
    assert table.returncode == 0


def test_the_cost_verdict_names_the_cheapest_arm_at_standards_accuracy():
    import pandas as pd

    from curriculum.study.sections.cost import verdict

    table = pd.DataFrame({"test@best_val_mean": [0.900, 0.899, 0.897, 0.880],
                          "passes_mean": [100.0, 80.0, 50.0, 40.0],
                          "amortised_mean": [float("nan"), float("nan"), 55.0, 45.0]},
                         index=["standard", "infobatch", "consensus", "cheap but worse"])
    line = verdict(table, within=0.002)   # consensus is 0.3 points below: not at standard's accuracy
    assert line.startswith("No arm but InfoBatch reaches") and "InfoBatch: 0.80" in line and line.endswith("missed.")
    table.loc["consensus", "test@best_val_mean"] = 0.8985
    assert "consensus, at 0.55" in verdict(table, 0.002) and verdict(table, 0.002).endswith("met.")
    table.loc["infobatch", "passes_mean"] = 50.0          # InfoBatch cheaper than consensus: the goal is missed
    assert verdict(table, 0.002).endswith("missed.")
    assert verdict(table.drop(columns="amortised_mean"), 0.002)   # no arm read scores: no crash


def test_recording_passes_count_what_each_checkpoint_passes_cleanly():
    from curriculum.scoring.ensemble import recorded_per_checkpoint

    steps = [2, 4, 8, 16, 32]                 # 16 steps an epoch of batch 8 over 128 examples: 1/8, 1/4, 1/2, 1, 2
    assert recorded_per_checkpoint("eval", 128, 0, steps, 8) == [128] * 5
    # from the training pass: what was not drawn since the last checkpoint, 128 - 16, 128 - 16, 128 - 32, 128 - 64, 0
    assert recorded_per_checkpoint("train", 128, 0, steps, 8) == [112, 112, 96, 64, 0]
    # folds: 32 held out, never drawn (stale at every checkpoint), and their softmax pass besides
    assert recorded_per_checkpoint("train", 128, 32, [2, 12], 8) == [32 + 80 + 32, 32 + 16 + 32]
    assert recorded_per_checkpoint("eval", 128, 32, [2, 12], 8) == [160, 160]
