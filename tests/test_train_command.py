"""`python -m curriculum train` end to end on synthetic data: score once, then the four arms."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import fresh_store, run_cli

from curriculum.commands.common import data_config
from curriculum.config import compose_config
from curriculum.data.datasets import DataConfig, load_data
from curriculum.io.scorefile import write_scores
from curriculum.schedule.pacing import PacedSampler, make_pacing
from curriculum.schedule.sampler import make_ordering

COMMON = ["data=synthetic", "device=cpu", "epochs=3"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """One score run shared by the tests of this module: (store uri, score out_dir, tmp folder)."""
    tmp = tmp_path_factory.mktemp("train")
    store = fresh_store(tmp)
    run_cli("score", *COMMON, "ensemble.size=2", f"out_dir={tmp / 'score'}", f"mlflow.tracking_uri={store}")
    return store, tmp / "score", tmp


@pytest.mark.slow
def test_four_arms_run_the_same_steps_and_are_read_back_from_mlflow(scored):
    store, _, _ = scored
    run_cli("train", "-m", "sampler=consensus,anti,random,standard", *COMMON, "study=e2e", "seed=0",
            f"mlflow.tracking_uri={store}")
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.study = 'e2e'")
    assert sorted(runs["tags.sampler"]) == ["anti", "consensus", "random", "standard"]
    assert (runs["status"] == "FINISHED").all() and (runs["tags.stage"] == "train").all()
    assert set(runs["metrics.steps"]) == {3 * (1600 // 128)}  # compute-matched
    score_run = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'score'")
    by_sampler = runs.set_index("tags.sampler")
    assert by_sampler.loc["consensus", "tags.scores_run_id"] == score_run["run_id"].iloc[0]  # scores=latest
    assert by_sampler.loc["standard", "tags.pacing"] == "none" and by_sampler.loc["anti", "tags.pacing"] == "linear"
    for column in ("metrics.test/acc_final", "metrics.test/acc_at_best_val", "metrics.val/acc_best"):
        assert runs[column].between(0.25, 1.0).all(), column
    client = mlflow.MlflowClient()
    fraction = client.get_metric_history(by_sampler.loc["consensus", "run_id"], "curriculum/data_fraction")
    values = [m.value for m in sorted(fraction, key=lambda m: m.step)]
    assert len(values) == 6 and values[0] < 1.0 and values[-1] == 1.0 and values == sorted(values)
    assert [m.value for m in client.get_metric_history(by_sampler.loc["standard", "run_id"],
                                                       "curriculum/data_fraction")] == [1.0] * 6
    assert len(client.get_metric_history(by_sampler.loc["random", "run_id"], "test/acc")) == 6
    inputs = client.get_run(by_sampler.loc["anti", "run_id"]).inputs.dataset_inputs   # the UI's Dataset column
    assert [(i.dataset.name, i.dataset.digest, json.loads(i.dataset.profile)["num_rows"]) for i in inputs] == [
        ("synthetic", by_sampler.loc["anti", "tags.fingerprint"], 1600)]
    assert [(t.key, t.value) for t in inputs[0].tags] == [("mlflow.data.context", "training")]


@pytest.mark.slow
def test_compare_and_analyze_close_the_loop(scored):
    store, score_dir, tmp = scored
    run_cli("train", "-m", "sampler=consensus,standard", "seed=0,1", *COMMON, "study=loop", f"mlflow.tracking_uri={store}")
    table = run_cli("compare", "study=loop", f"out_dir={tmp / 'cmp'}", f"mlflow.tracking_uri={store}").stdout
    assert "| consensus/linear | 2 |" in table and "| standard | 2 |" in table and "Fewer than 3 seeds" in table
    report = run_cli("analyze", f"scores={score_dir}", f"out_dir={tmp / 'an'}", f"mlflow.tracking_uri={store}").stdout
    assert "| train | 3 |" in report and "split_half" in report
    for picture in ("data_map.png", "consensus_by_class.png"):
        assert (tmp / "an" / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture
    agreement = pd.read_csv(tmp / "an" / "agreement.csv")
    assert len(agreement) == 2 * 6
    final = agreement.groupby("split").tail(1)  # trained members agree far more than independent ones would
    assert (final["tpa"] > final["tpa_independent"] + 0.03).all()
    mlflow.set_tracking_uri(store)
    assert len(mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'analyze'")) == 1


@pytest.mark.slow
def test_pruning_curriculum_with_auto_end_logs_its_estimate(scored):
    """Hand-made consensus of 2 members x 2 checkpoints (4 levels) over the 1600 examples: 200, 100, 100, 0 and
    1200 of them at levels 0, 1/4, 1/2, 3/4, 1: shares .125, .0625, .0625, 0, .75. The floor (median of levels 1-2)
    is .0625, so .0625 are mislabelled (the excess at level 0) and pacing.end=auto is .9375: 1500 examples."""
    store, score_dir, _ = scored
    data = load_data(data_config(compose_config("train", COMMON)))
    levels = np.repeat(np.arange(5) / 4, [200, 100, 100, 0, 1200])
    frame = pd.DataFrame({"index": data.train.index.numpy(), "label": data.train.y.numpy(),
                          "consensus": np.random.default_rng(0).permutation(levels), "margin": 0.0})
    hand = write_scores(score_dir.parent / "hand.parquet", frame, {"ensemble": [{}, {}], "checkpoints": [1, 2]})
    proc = run_cli("train", *COMMON, "pacing.end=auto", f"scores={hand}", "study=auto",
                   f"mlflow.tracking_uri={store}")
    assert "pacing.end=auto: the consensus histogram suggests 0.062 of the labels are wrong" in proc.stderr
    mlflow.set_tracking_uri(store)
    run = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.study = 'auto'").iloc[0]
    assert 0.5 < run["metrics.curriculum/pacing_end"] < 1.0 and run["metrics.curriculum/pacing_end"] == 0.9375
    assert run["metrics.curriculum/distinct_seen"] <= np.ceil(run["metrics.curriculum/pacing_end"] * 1600)
    out = score_dir.parent / "export-auto"
    run_cli("export", "data=synthetic", "keep=auto", f"scores={hand}", f"out_dir={out}", f"mlflow.tracking_uri={store}")
    about = json.loads((out / "export.json").read_text())
    assert about["settings"]["kept_fraction"] == pytest.approx(run["metrics.curriculum/pacing_end"])   # train's estimate
    assert about["settings"]["kept_fraction"] == 0.9375 and about["rows"] == 1500
    assert about["rows"] == np.ceil(round(about["settings"]["kept_fraction"] * 1600, 6))


@pytest.mark.slow
def test_pruned_subsets_train_their_own_epochs_from_the_first_step(scored):
    store, score_dir, _ = scored
    run_cli("train", "-m", "sampler=consensus,stratified", "pacing=static", "pacing.end=0.5", "epochs_of=kept",
            *COMMON, "study=prune", f"scores={score_dir}", "seed=0", f"mlflow.tracking_uri={store}")
    run_cli("train", "sampler=anti", "sampler.score=el2n", "pacing=static", "pacing.end=0.5", *COMMON, "study=prune",
            f"scores={score_dir}", "seed=0", f"mlflow.tracking_uri={store}")
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.study = 'prune'")
    runs = runs.set_index(runs["tags.sampler"])
    assert runs.loc[["consensus", "stratified"], "metrics.steps"].tolist() == [3 * (800 // 128)] * 2  # 3 epochs of 800
    assert runs.loc["anti", "metrics.steps"] == 3 * (1600 // 128)          # epochs_of=all: the steps of every example
    assert (runs["metrics.curriculum/distinct_seen"] <= 800).all() and (runs["metrics.curriculum/data_fraction"] == 0.5).all()
    client = mlflow.MlflowClient()
    fractions = client.get_metric_history(runs.loc["stratified", "run_id"], "curriculum/data_fraction")
    assert {m.value for m in fractions} == {0.5}                           # the whole subset from the first evaluation
    assert json.loads(runs.loc["consensus", "tags.training"])["epochs_of"] == "kept"
    assert json.loads(runs.loc["anti", "tags.training"])["epochs_of"] == "all"   # every training tag names it


def test_an_epoch_of_a_pruned_run_passes_over_what_it_can_draw():
    from curriculum.schedule.target import TargetConfig, training_size

    kept = TargetConfig(epochs_of="kept")
    assert training_size(TargetConfig(), 1000, np.arange(1000), 0.3, None) == 1000      # epochs_of=all
    assert training_size(kept, 1000, np.arange(1000), 0.3, None) == 300                 # ceil(0.3 x 1000)
    assert training_size(kept, 1000, np.arange(600), 0.5, None) == 300                  # an ordering restricted by keep
    assert training_size(kept, 1000, None, 1.0, np.arange(250)) == 250                  # standard over sampler.keep
    assert training_size(kept, 1000, None, 1.0, None) == 1000                           # standard over everything


@pytest.mark.slow
def test_scores_for_other_labels_stop_train_with_one_line(scored):
    store, score_dir, tmp = scored
    frame = pd.read_parquet(score_dir / "scores.parquet")
    frame.loc[:9, "label"] = (frame.loc[:9, "label"] + 1) % 4
    write_scores(tmp / "other.parquet", frame, {"dataset": "synthetic", "fingerprint": "0123"})
    proc = run_cli("train", *COMMON, f"scores={tmp / 'other.parquet'}", f"mlflow.tracking_uri={store}", check=False)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: scores file") and "10 of 1600 labels disagree" in last
    assert "Traceback" not in proc.stderr
    noisy = run_cli("train", *COMMON, "data.label_noise=0.1", f"mlflow.tracking_uri={store}", check=False)
    assert noisy.returncode == 2 and "scores=latest: no finished score run for these training data" in noisy.stderr


def test_pruned_sampler_never_yields_the_hardest_and_never_the_validation_split():
    data = load_data(DataConfig(name="synthetic", train_size=1000, val_size=200))
    scores = np.random.default_rng(0).random(len(data.train))
    ordering = make_ordering("consensus", scores, data.train.y.numpy(), seed=0)
    sampler = PacedSampler(ordering, make_pacing("linear"), 300, 50, 0.7, seed=0)
    drawn = torch.cat(list(sampler)).unique().numpy()
    assert set(drawn) <= set(ordering[:700].tolist())
    official = data.train.index.numpy()[drawn]
    assert not set(official.tolist()) & set(data.val.index.tolist())


def test_train_breaks_ties_by_the_scores_margin_unless_told_otherwise():
    from curriculum.schedule.plan import PlanSettings, Scores, tie_break, tie_notes
    from curriculum.schedule.sampler import SamplerConfig

    source = Scores(pd.DataFrame({"consensus": [1.0, 1.0], "margin": [0.5, 2.0]}), path="scores")
    margin, shuffled = SamplerConfig(name="consensus", ties="margin"), SamplerConfig(name="consensus", ties="random")
    assert tie_break(source, "consensus", margin).tolist() == [0.5, 2.0]
    assert tie_break(source, "consensus", shuffled) is None
    assert tie_break(source, "margin", margin) is None                    # margin has no ties to break by itself
    imported = Scores(pd.DataFrame({"score": [1.0, 1.0]}), path="scores.csv")
    assert tie_break(imported, "score", margin) is None                   # no margin: a seeded shuffle
    assert tie_notes(PlanSettings(margin), imported, "score") == [
        "sampler.ties=margin: scores.csv has no margin column; ties are broken by a seeded shuffle"]
    assert tie_notes(PlanSettings(margin), source, "consensus") == []
