"""`python -m curriculum score` end to end, as a subprocess, against a temporary MLflow store."""

import hashlib
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FASHION_MNIST, run_cli

import curriculum
from curriculum.analysis.stats import auroc
from curriculum.io.scorefile import read_scores
from curriculum.scoring.ensemble import fold_assignment

SMALL = ["data=synthetic", "epochs=6", "ensemble.size=3", "device=cpu"]


def score_runs(store):
    mlflow.set_tracking_uri(store)
    return mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'score'")


@pytest.mark.slow
def test_flipped_labels_get_the_lowest_consensus_and_the_run_is_in_mlflow(tmp_path, store):
    out = tmp_path / "score"
    run_cli("score", *SMALL, "data.label_noise=0.2", f"out_dir={out}", f"mlflow.tracking_uri={store}")
    scores = pd.read_parquet(out / "scores.parquet")
    assert scores["noisy"].sum() == 320  # 20% of 1600
    assert auroc(1 - scores["consensus"], scores["noisy"]) >= 0.9
    assert (scores["label"] != scores["true_label"]).sum() == 320
    assert sorted(scores["rank"]) == list(range(1600))

    runs = score_runs(store)
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["status"] == "FINISHED" and run["tags.dataset"] == "synthetic" and run["tags.scores"] == "complete"
    assert run["params.data.label_noise"] == "0.2" and run["params.ensemble.size"] == "3"
    members = mlflow.search_runs(experiment_names=["curriculum"],
                                 filter_string=f"tags.mlflow.parentRunId = '{run['run_id']}'")
    assert sorted(members["tags.member"].astype(int)) == [0, 1, 2]
    history = mlflow.MlflowClient().get_metric_history(members["run_id"].iloc[0], "test/acc")
    assert len(history) == 6 + 3  # every epoch plus three checkpoints inside epoch 1
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run["run_id"])}
    assert {"scores.parquet", "test_scores.parquet", "consensus_hist.png", "config.yaml"} <= artifacts


@pytest.mark.slow
def test_resumed_sharded_run_trains_only_missing_members_and_gives_identical_scores(tmp_path, store):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    run_cli("score", *SMALL, f"out_dir={whole}", f"mlflow.tracking_uri={store}")
    first = run_cli("score", *SMALL, "ensemble.shard=0", "ensemble.num_shards=2", f"out_dir={parts}",
                    f"mlflow.tracking_uri={store}")
    assert "members still missing" in first.stderr and not (parts / "scores.parquet").exists()
    assert sorted(p.name for p in (parts / "dynamics").iterdir()) == ["member-0.npz", "member-0.weights.pt",
                                                                   "member-2.npz", "member-2.weights.pt"]
    resumed = run_cli("score", *SMALL, f"out_dir={parts}", f"mlflow.tracking_uri={store}")
    assert resumed.stderr.count("is complete: skipped") == 2
    assert "[member 2/3" in resumed.stderr and "[member 1/3" not in resumed.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(whole / "scores.parquet"), pd.read_parquet(parts / "scores.parquet"))
    pd.testing.assert_frame_equal(pd.read_parquet(whole / "test_scores.parquet"),
                                  pd.read_parquet(parts / "test_scores.parquet"))


@pytest.mark.slow
def test_out_of_fold_members_give_every_example_probabilities_from_members_that_never_saw_it(tmp_path, store):
    out = tmp_path / "folds"
    run_cli("score", "data=synthetic", "data.train_size=400", "data.label_noise=0.2", "epochs=1", "ensemble.size=2",
            "ensemble.folds=2", "recording.within_first_epoch=[0.5]", "device=cpu", f"out_dir={out}",
            f"mlflow.tracking_uri={store}")
    scores, meta = read_scores(out / "scores.parquet")
    probs = np.load(out / "oof_probs.npy")
    assert probs.shape == (400, 4) and probs.dtype == np.float32   # (N, classes), rows as scores.parquet's
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert meta["folds"] == 2 and scores["fold"].value_counts().to_dict() == {0: 200, 1: 200}
    assert meta["oof_probs_sha256"] == hashlib.sha256((out / "oof_probs.npy").read_bytes()).hexdigest()
    by_checkpoint = np.load(out / "oof_probs_by_checkpoint.npy")   # (C, N, classes)
    assert by_checkpoint.shape == (len(meta["checkpoints"]), 400, 4) and np.array_equal(by_checkpoint[-1], probs)
    assert meta["oof_probs_by_checkpoint_sha256"] == hashlib.sha256(
        (out / "oof_probs_by_checkpoint.npy").read_bytes()).hexdigest()
    np.testing.assert_array_equal(scores["fold"], fold_assignment(scores["label"].to_numpy(), 2, seed=0))
    assert "fold" not in pd.read_parquet(out / "test_scores.parquet")
    run = score_runs(store).iloc[0]
    assert "oof_probs.npy" in {a.path for a in mlflow.MlflowClient().list_artifacts(run["run_id"])}
    # confident learning's columns, rows aligned with oof_probs.npy, and its estimate in the meta and in MLflow
    labels, issues = scores["label"].to_numpy(), meta["label_issues"]
    np.testing.assert_allclose(scores["oof_confidence"], probs[np.arange(400), labels], rtol=1e-6)
    assert (scores["cl_keep"] == 1 - scores["label_issue"]).all() and issues["flagged"] == scores["label_issue"].sum()
    changed = scores["suggested_label"] != scores["label"]
    assert (scores.loc[changed, "label_issue"] == 1).all() and issues["relabelled"] == changed.sum()
    assert run["metrics.label_issues/estimated_share"] == pytest.approx(issues["estimated_share"])
    # find_label_issues from the probabilities, and from the columns when the file is gone: the same answer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the chance warning, if the one epoch leaves the members near it
        found = curriculum.find_label_issues(out, return_indices_ranked_by="self_confidence")
        (out / "oof_probs.npy").unlink()
        recorded = curriculum.find_label_issues(out, return_indices_ranked_by="self_confidence")
    assert recorded.issues.tolist() == found.issues.tolist() and recorded.estimated_share == found.estimated_share
    # train reads the estimate for pacing.end=auto and trains on the suggested labels
    trained = run_cli("train", "data=synthetic", "data.train_size=400", "data.label_noise=0.2", "epochs=1",
                      "sampler=consensus", "pacing.end=auto", "sampler.labels=suggested_label", f"scores={out}",
                      "batch_size=32", "device=cpu", f"mlflow.tracking_uri={store}", f"resume_dir={tmp_path / 'resume'}")
    said = trained.stdout + trained.stderr
    assert (f"pacing.end=auto: confident learning on out-of-fold probabilities estimates "
            f"{issues['estimated_share']:.3f}") in said
    assert f"sampler.labels: {changed.sum()} of 400 training labels changed" in said


@pytest.mark.slow
@pytest.mark.skipif(not FASHION_MNIST.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_flipped_labels_get_the_lowest_consensus(tmp_path, store):
    out = tmp_path / "fmnist"
    run_cli("score", "data.train_size=3000", "data.val_size=500", "data.label_noise=0.2", "epochs=3",
            "ensemble.size=3", "device=cpu", f"out_dir={out}", f"mlflow.tracking_uri={store}")
    scores = pd.read_parquet(out / "scores.parquet")
    assert len(scores) == 3000 and scores["noisy"].sum() == 600
    assert auroc(1 - scores["consensus"], scores["noisy"]) >= 0.9
    run = score_runs(store).iloc[0]
    assert run["tags.dataset"] == "fashion_mnist" and run["metrics.member_test_acc_mean"] > 0.7
    test_scores = pd.read_parquet(out / "test_scores.parquet")
    assert len(test_scores) == 10000 and np.isfinite(test_scores["consensus"]).all()


@pytest.mark.slow
def test_any_torchvision_model_and_a_users_own_module_score_from_the_command_line(tmp_path, store):
    """The README's `score model=torchvision model.name=resnet18`, and `model._target_=` alone choosing model=custom
    (a module of tests/ on PYTHONPATH, as a user's package would be), each member named by its arch."""
    common = ["data=synthetic", "data.train_size=200", "epochs=1", "ensemble.size=1", "device=cpu",
              f"mlflow.tracking_uri={store}"]
    for name, model in (("tv", ["model=torchvision", "model.name=resnet18"]),
                        ("own", ["model._target_=test_models.TinyNet", "+model.kwargs.width=3"])):
        proc = run_cli("score", *common, *model, f"out_dir={tmp_path / name}",
                       env={"PYTHONPATH": str(Path(__file__).parent)})
        assert "scores:" in proc.stderr + proc.stdout
    archs = [read_scores(tmp_path / name / "scores.parquet")[1]["ensemble"][0]["arch"] for name in ("tv", "own")]
    assert archs == ["torchvision/resnet18", "custom/test_models.TinyNet"]
    weights = torch.load(tmp_path / "own" / "dynamics" / "member-0.weights.pt", weights_only=True)
    assert weights["kwargs"] == {"width": 3} and weights["state_dict"]["conv.weight"].shape[0] == 3
