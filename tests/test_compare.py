"""compare on hand-made runs in a temporary MLflow store: every figure is known in advance."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, run_cli

from curriculum.analysis.comparison import compare, curve_mean, paired_difference, to_markdown
from curriculum.arms import DEFAULTS, arm_name, arm_tag
from curriculum.commands.compare import gather
from curriculum.errors import UserError
from curriculum.io.tracking import Tracker

# test/acc_at_best_val per (sampler, seed)
ACC = {"standard": [0.80, 0.82, 0.84], "random": [0.79, 0.80, 0.81], "consensus": [0.83, 0.86, 0.86], "anti": [0.70, 0.72]}
TRAINING = {"epochs_of": "all", "augment": {"name": "none", "pad": 0},
            "model": {"name": "cnn", "kwargs": {"width": 16, "hidden": 128}}, "lr": 0.05, "epochs": 4,
            "batch_size": 128, "eval": {"per_epoch": 2.0}, "optim": {"momentum": 0.9, "weight_decay": 5e-4},
            "data": {"name": "synthetic", "train_size": 1600, "val_size": 200, "label_noise": 0.0, "seed": 0}}


def train_tags(sampler: str, seed: int, study: str = "hand", training: dict | None = None, **arm) -> dict:
    """The tags `train` gives a run: its arm definition and its training settings as JSON."""
    definition = {"sampler": sampler, "keep": "all"} if sampler == "standard" else {
        "sampler": sampler, "pacing": "linear", "function": "linear", "params": {"a": 0.5, "b": 0.2}, "end": "1.0",
        "score": "consensus", "balanced": True, "ties": "margin", "scores": "ab" * 32, "keep": "all"} | arm
    pacing = {"pacing": "none"} if sampler == "standard" else {
        "pacing": definition["pacing"], "pacing_end_spec": definition["end"],
        "pacing_end": "0.5873" if definition["end"] == "auto" else definition["end"]}  # auto: the estimate
    return {"stage": "train", "study": study, "sampler": sampler, "seed": seed, "dataset": "synthetic", **pacing,
            "arm": json.dumps(definition, sort_keys=True),
            "training": json.dumps(TRAINING | (training or {}), sort_keys=True)}


def log_run(track: Tracker, tags: dict, acc: float, start: int = 0, status: str = "FINISHED",
            best_val: bool = True) -> None:
    """One run with test/acc_at_best_val = acc (unless not best_val: no validation set), final acc - 0.01,
    best acc + 0.01 and a two-point test curve from acc - 0.1 at step 50 to acc at step 100."""
    run = track.client.create_run(track.experiment_id, start_time=start, tags={k: str(v) for k, v in tags.items()})
    track.log_metrics(run.info.run_id, {"test/acc_final": [(100, acc - 0.01)], "test/acc_best": [(100, acc + 0.01)],
                                        "test/acc": [(50, acc - 0.1), (100, acc)]}
                      | ({"test/acc_at_best_val": [(100, acc)]} if best_val else {}))
    if status != "RUNNING":
        track.client.set_terminated(run.info.run_id, status)


@pytest.fixture
def study_store(store):
    track = Tracker(store, "curriculum")
    for sampler, values in ACC.items():
        for seed, acc in enumerate(values):
            log_run(track, train_tags(sampler, seed), acc, start=seed)
    with track.run("other-study", train_tags("standard", 0, study="other")):
        pass
    return store, track


def test_table_means_stds_paired_differences_and_n_are_exact(study_store):
    _, track = study_store
    runs, curves = gather(track, "hand")
    table = compare(runs).set_index("arm")
    assert table.loc["consensus/linear", "n"] == 3 and table.loc["anti/linear", "n"] == 2
    assert table.loc["consensus/linear", "test@best_val_mean"] == pytest.approx(0.85)
    assert table.loc["consensus/linear", "test@best_val_std"] == pytest.approx(np.std([0.83, 0.86, 0.86], ddof=1))
    # paired over seeds 0..2: consensus - standard = [0.03, 0.04, 0.02] -> mean 0.03, sd 0.01, t(2)=4.302653
    assert table.loc["consensus/linear", "vs_standard"] == pytest.approx(0.03)
    assert table.loc["consensus/linear", "vs_standard_hi"] == pytest.approx(0.03 + 4.302653 * 0.01 / np.sqrt(3))
    assert table.loc["consensus/linear", "vs_random"] == pytest.approx(np.mean([0.04, 0.06, 0.05]))
    assert table.loc["anti/linear", "vs_standard_pairs"] == 2  # only the seeds both arms have
    assert table.loc["anti/linear", "note"] == "only 2 seeds (< 3)" and table.loc["standard", "note"] == ""
    assert list(table.index[:2]) == ["consensus/linear", "standard"]  # ranked by test@best_val
    random_runs = table.loc["random/linear", "run_ids"].split(",")
    assert len(random_runs) == 3 and all(len(curves[r][0]) == 2 for r in random_runs)  # 2 evaluations each
    # mean over the curve from step 50 to 100 of a line from acc - 0.1 to acc: acc - 0.05
    assert table.loc["standard", "curve_mean_mean"] == pytest.approx(np.mean(ACC["standard"]) - 0.05)
    assert "| consensus/linear | 3 | 85.00 ± 1.73 |" in to_markdown(table.reset_index())


def test_curve_mean_covers_only_the_evaluated_span():
    # a linear rise from 0.5 at step 50 to 1.0 at step 100, nothing assumed before step 50: 0.75
    assert curve_mean([50, 100], [0.5, 1.0]) == pytest.approx(0.75)


def test_paired_difference_uses_only_common_seeds():
    import pandas as pd
    mean, low, high, pairs = paired_difference(pd.Series([1.0, 2.0, 3.0], index=[0, 1, 2]),
                                               pd.Series([0.5, 1.0], index=[1, 2]))
    assert (mean, pairs) == (1.75, 2) and low < 1.75 < high  # (2 - 0.5 + 3 - 1) / 2


def test_compare_command_writes_table_curves_and_an_mlflow_run(study_store, tmp_path):
    import mlflow

    store, _ = study_store
    proc = run_cli("compare", "study=hand", f"out_dir={tmp_path / 'cmp'}", f"mlflow.tracking_uri={store}")
    assert "| consensus/linear | 3 |" in proc.stdout and "Fewer than 3 seeds: anti/linear" in proc.stdout
    assert {p.name for p in (tmp_path / "cmp").iterdir()} >= {"comparison.csv", "comparison.md", "learning_curves.png"}
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'compare'")
    assert len(runs) == 1 and runs["tags.study"].iloc[0] == "hand"
    missing = run_cli("compare", "study=nothing", f"mlflow.tracking_uri={store}", cwd=tmp_path, check=False)
    assert missing.returncode == 2 and "no finished train runs with study='nothing'" in missing.stderr


def table_of(track: Tracker, study: str = "hand", rank_by: str = "test/acc_at_best_val") -> pd.DataFrame:
    runs, _ = gather(track, study)
    return compare(runs, rank_by).set_index("arm")


def test_two_pacing_parameter_settings_are_two_arms_each_paired_with_its_own_random_control(store):
    track = Tracker(store, "curriculum")
    values = {("consensus", 0.5): [0.83, 0.86, 0.86], ("consensus", 0.8): [0.80, 0.81, 0.85],
              ("random", 0.5): [0.79, 0.80, 0.81], ("random", 0.8): [0.70, 0.72, 0.74]}
    for (sampler, a), accs in values.items():
        for seed, acc in enumerate(accs):
            log_run(track, train_tags(sampler, seed, params={"a": a, "b": 0.2}), acc)
    for seed, acc in enumerate([0.80, 0.82, 0.84]):
        log_run(track, train_tags("standard", seed), acc)
    table = table_of(track)
    assert sorted(table.index) == ["consensus/linear[pacing.a=0.5]", "consensus/linear[pacing.a=0.8]",
                                   "random/linear[pacing.a=0.5]", "random/linear[pacing.a=0.8]", "standard"]
    assert (table["n"] == 3).all()
    assert table.loc["consensus/linear[pacing.a=0.8]", "test@best_val_mean"] == pytest.approx(0.82)
    # consensus - random at a=0.8: [0.10, 0.09, 0.11]; at a=0.5: [0.04, 0.06, 0.05]
    assert table.loc["consensus/linear[pacing.a=0.8]", "vs_random"] == pytest.approx(0.10)
    assert table.loc["consensus/linear[pacing.a=0.5]", "vs_random"] == pytest.approx(0.05)
    assert table.loc["consensus/linear[pacing.a=0.8]", "vs_standard"] == pytest.approx(0.0)  # [0, -0.01, 0.01]


def test_a_seed_run_twice_counts_once_the_newest_with_a_note(store):
    track = Tracker(store, "curriculum")
    for seed, acc in enumerate([0.80, 0.82, 0.84]):
        log_run(track, train_tags("standard", seed), acc, start=seed)
    for seed, acc in enumerate([0.83, 0.86, 0.86]):
        log_run(track, train_tags("consensus", seed), acc, start=10 + seed)
    log_run(track, train_tags("consensus", 1), 0.80, start=20)  # seed 1 again, newer: it counts
    log_run(track, train_tags("consensus", 2), 0.99, start=5)   # seed 2 again, logged last but started earlier
    table = table_of(track)
    row = table.loc["consensus/linear"]
    assert (row["n"], row["seeds"]) == (3, "0,1,2")
    assert row["test@best_val_mean"] == pytest.approx((0.83 + 0.80 + 0.86) / 3)
    # paired over seeds 0..2 once each: [0.03, -0.02, 0.02]
    assert (row["vs_standard"], row["vs_standard_pairs"]) == (pytest.approx(0.01), 3)
    assert row["note"] == "seeds 1, 2 ran more than once; the newest run of each counts"
    assert "seeds 1, 2 ran more than once" in to_markdown(table.reset_index())


def test_unfinished_runs_are_left_out_and_counted_in_a_note(store):
    track = Tracker(store, "curriculum")
    for seed, acc in enumerate([0.83, 0.86, 0.86]):
        log_run(track, train_tags("consensus", seed), acc)
    log_run(track, train_tags("consensus", 3), 0.99, status="FAILED")
    log_run(track, train_tags("consensus", 4), 0.99, status="RUNNING")
    log_run(track, train_tags("consensus", 1), 0.99, start=99, status="KILLED")  # not newer than a finished run
    row = table_of(track).loc["consensus/linear"]
    assert (row["n"], row["seeds"]) == (3, "0,1,2") and row["test@best_val_mean"] == pytest.approx(0.85)
    assert row["note"] == "3 unfinished runs left out (1 FAILED, 1 KILLED, 1 RUNNING)"


def test_a_study_of_unfinished_runs_only_says_so(store):
    track = Tracker(store, "curriculum")
    log_run(track, train_tags("consensus", 0), 0.8, status="FAILED")
    with pytest.raises(UserError, match="no finished train runs with study='hand' .*1 FAILED"):
        gather(track, "hand")


def test_standard_is_one_arm_whatever_pacing_end_it_was_given(store):
    track = Tracker(store, "curriculum")
    for seed, end in enumerate(["1", "1", "0.7"]):
        arm = arm_tag("standard", {"name": "linear", "end": end}, "consensus", True, "margin", "ab" * 32)
        log_run(track, train_tags("standard", seed) | {"arm": json.dumps(arm, sort_keys=True)}, 0.8 + seed / 100)
    table = table_of(track)
    assert list(table.index) == ["standard"] and table.loc["standard", "n"] == 3


def test_runs_logged_before_the_present_tags_are_refused_in_one_line(store):
    """Runs without an arm tag, with an arm tag that lacks sampler.keep, or a training tag that lacks epochs_of were
    logged by an earlier version: they would not group with new runs, so the study must be rerun."""
    track = Tracker(store, "curriculum")
    for seed in range(3):
        log_run(track, train_tags("consensus", seed), 0.8)
    tags = train_tags("standard", 0)
    olds = [{k: v for k, v in tags.items() if k != "arm"}, tags | {"arm": json.dumps({"sampler": "standard"})},
            tags | {"training": json.dumps({k: v for k, v in TRAINING.items() if k != "epochs_of"})}]
    for old in olds:
        run = track.client.create_run(track.experiment_id, tags={k: str(v) for k, v in old.items()})
        track.client.set_terminated(run.info.run_id, "FINISHED")
    with pytest.raises(UserError, match=r"^3 train runs of study='hand' in .* were logged by an earlier version of "
                                        r"curriculum .*; rerun the study into a new MLflow store"):
        gather(track, "hand")


def test_arms_trained_differently_are_split_and_compared_only_within_their_settings(store):
    track = Tracker(store, "curriculum")
    values = {("standard", 4): [0.80, 0.82, 0.84], ("standard", 6): [0.85, 0.86, 0.87],
              ("consensus", 4): [0.83, 0.86, 0.86], ("consensus", 6): [0.86, 0.86, 0.90]}
    for (sampler, epochs), accs in values.items():
        for seed, acc in enumerate(accs):
            log_run(track, train_tags(sampler, seed, training={"epochs": epochs}), acc)
    table = table_of(track)
    assert sorted(table.index) == ["consensus/linear[epochs=4]", "consensus/linear[epochs=6]",
                                   "standard[epochs=4]", "standard[epochs=6]"]
    assert table.loc["consensus/linear[epochs=4]", "vs_standard"] == pytest.approx(0.03)
    assert table.loc["consensus/linear[epochs=6]", "vs_standard"] == pytest.approx(0.04 / 3)  # [0.01, 0, 0.03]


def test_arm_names_stay_short_for_defaults_and_name_every_other_setting():
    linear = {"sampler": "consensus", "pacing": "linear", "function": "linear", "params": {"a": 0.5, "b": 0.2},
              "end": "1.0", "score": "consensus", "balanced": True, "ties": "margin", "scores": "ab" * 32, "keep": "all"}
    assert arm_name({"sampler": "standard", "keep": "all"}) == "standard"
    assert arm_name(linear) == "consensus/linear"
    assert arm_name(linear | {"end": "0.7"}) == "consensus/linear@end=0.7"
    assert arm_name(linear | {"end": "auto"}) == "consensus/linear@end=auto"
    assert arm_name(linear | {"pacing": "steep", "function": "exp_stairs"}) == "consensus/steep"
    assert arm_name(linear | {"end": "0.70", "score": "margin", "balanced": False, "ties": "random"}) == (
        "consensus/linear@end=0.7[sampler.score=margin, sampler.balanced=false, sampler.ties=random]")


def test_pruning_arms_are_named_by_their_selection_and_stratified_ones_have_a_random_control(store):
    from curriculum.schedule.sampler import SamplerConfig

    defaults = SamplerConfig(name="stratified")
    assert DEFAULTS["strata"] == (defaults.strata,) and DEFAULTS["drop_hardest"] == (defaults.drop_hardest,)
    static = {"name": "static", "end": 0.5, "preset": None}
    tag = arm_tag("stratified", static, "consensus", True, "margin", "ab" * 32, "all", 50, 0.1)
    assert tag["strata"] == 50 and tag["drop_hardest"] == 0.1 and "strata" not in arm_tag(
        "consensus", static, "consensus", True, "margin", "ab" * 32)
    assert arm_name(tag) == "stratified/static@end=0.5"
    assert arm_name(tag | {"strata": 10, "drop_hardest": 0.0}) == (
        "stratified/static@end=0.5[sampler.strata=10, sampler.drop_hardest=0]")
    assert arm_name(arm_tag("anti", static | {"end": 0.3}, "el2n", True, "margin", "ab" * 32)) == (
        "anti/static@end=0.3[sampler.score=el2n]")
    track = Tracker(store, "curriculum")
    for seed, (ours, random) in enumerate([(0.80, 0.78), (0.82, 0.79), (0.81, 0.80)]):
        random_tag = arm_tag("random", static, "consensus", True, "margin", "ab" * 32)
        log_run(track, train_tags("stratified", seed, **{k: v for k, v in tag.items() if k != "sampler"}), ours)
        log_run(track, train_tags("random", seed, **{k: v for k, v in random_tag.items() if k != "sampler"}), random)
    table = table_of(track)
    assert sorted(table.index) == ["random/static@end=0.5", "stratified/static@end=0.5"]
    assert table.loc["stratified/static@end=0.5", "vs_random"] == pytest.approx(0.02)   # [0.02, 0.03, 0.01]


def test_consensus_on_another_score_is_another_arm_against_the_same_random_control(store):
    track = Tracker(store, "curriculum")
    for seed in range(3):
        log_run(track, train_tags("consensus", seed), 0.85)
        log_run(track, train_tags("consensus", seed, score="margin"), 0.84)
        log_run(track, train_tags("random", seed), 0.80)
        log_run(track, train_tags("random", seed, score="margin"), 0.80)  # random ignores sampler.score
    table = table_of(track)
    assert sorted(table.index) == ["consensus/linear", "consensus/linear[sampler.score=margin]", "random/linear"]
    assert table.loc["random/linear", "n"] == 3
    assert table.loc["consensus/linear[sampler.score=margin]", "vs_random"] == pytest.approx(0.04)


def test_a_study_without_the_ranking_metric_names_the_metrics_it_has(store, tmp_path):
    track = Tracker(store, "curriculum")
    for seed in range(2):  # data.val_size=0: no validation set, no test/acc_at_best_val
        log_run(track, train_tags("standard", seed), 0.8, best_val=False)
    runs, _ = gather(track, "hand")
    with pytest.raises(UserError, match=r"rank_by=test/acc_at_best_val: 2 of 2 runs of the study did not log it .*"
                                        r"rank by one they all have: test/acc_final, test/acc_best, test/acc_curve_mean"):
        compare(runs, "test/acc_at_best_val")
    assert compare(runs, "test/acc_final").loc[0, "n"] == 2
    proc = run_cli("compare", "study=hand", f"out_dir={tmp_path / 'cmp'}", f"mlflow.tracking_uri={store}", check=False)
    assert proc.returncode == 2 and "error: rank_by=test/acc_at_best_val: 2 of 2 runs" in proc.stderr
    assert "Traceback" not in proc.stderr and "rank_by=test/acc_final" in proc.stderr


@pytest.mark.slow
def test_train_tags_define_the_arm_and_the_study_finds_finished_seeds_by_them(store, tmp_path):
    run_cli("train", "-m", "sampler=standard,random", "pacing=steep", "pacing.end=0.7", "data=synthetic", "epochs=1",
            "device=cpu", "study=tags", "seed=0", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    track = Tracker(store, "curriculum")
    runs = {r.data.tags["sampler"]: r.data.tags for r in track.client.search_runs([track.experiment_id])}
    assert "pacing_end" not in runs["standard"] and "pacing_end_spec" not in runs["standard"]
    assert json.loads(runs["standard"]["arm"]) == {"sampler": "standard", "keep": "all"}
    random_arm = json.loads(runs["random"]["arm"])
    assert (random_arm["pacing"], random_arm["function"], random_arm["end"]) == ("steep", "exp_stairs", "0.7")
    assert random_arm["params"] == {"start": 0.04, "inc": 1.9, "step": 0.1}
    assert json.loads(runs["random"]["training"])["epochs"] == 1
    assert json.loads(runs["random"]["training"]) == json.loads(runs["standard"]["training"])
    table = table_of(track, "tags")
    assert sorted(table.index) == ["random/steep@end=0.7", "standard"]
    from curriculum.study.plan import done_seeds as found_seeds
    from curriculum.study.runner import store_runs

    runs = store_runs(store)

    def done_seeds(arm, training=("data=synthetic", "epochs=1")):
        return found_seeds(runs, "tags", [*training, *arm])

    assert done_seeds(["sampler=standard"]) == {0}
    assert done_seeds(["sampler=random", "pacing=steep", "pacing.end=0.7"]) == {0}
    assert done_seeds(["sampler=random", "pacing=steep"]) == set()     # end 1: not run
    assert done_seeds(["sampler=random", "pacing.end=0.7"]) == set()   # linear pacing: not run
    assert done_seeds(["sampler=consensus", "pacing=steep", "pacing.end=0.7"]) == set()
    assert done_seeds(["sampler=standard"], ("data=synthetic", "epochs=2")) == set()   # other training settings
