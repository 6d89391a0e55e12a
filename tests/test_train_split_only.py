"""recording.test=false: a score run that records only the training examples (made to rank them, e.g. to find
label errors) gives exactly the training scores of a run that records both splits, writes no test scores, and
its members are never mixed with members that recorded the test split."""

import mlflow
import pandas as pd
import pytest
from conftest import run_cli

from curriculum.scoring.dynamics import load_member

TINY = ["data=synthetic", "device=cpu", "data.label_noise=0.2", "epochs=1", "ensemble.size=2"]


@pytest.mark.slow
def test_training_scores_equal_those_of_a_run_that_records_the_test_split(tmp_path, store):
    both, train_only = tmp_path / "both", tmp_path / "train-only"
    run_cli("score", *TINY, f"out_dir={both}", f"mlflow.tracking_uri={store}")
    proc = run_cli("score", *TINY, "recording.test=false", f"out_dir={train_only}", f"mlflow.tracking_uri={store}")
    assert "test split not recorded" in proc.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(both / "scores.parquet"), pd.read_parquet(train_only / "scores.parquet"))
    assert (both / "test_scores.parquet").is_file() and not (train_only / "test_scores.parquet").exists()
    member = load_member(train_only / "dynamics" / "member-0.npz")
    assert member.test.stats["correct"].shape == (member.train.stats["correct"].shape[0], 0)
    assert member.identity["test"] is False
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'score'")
    assert runs["metrics.member_test_acc_mean"].notna().sum() == 1   # only the run that recorded the test split
    mixed = run_cli("score", *TINY, f"out_dir={train_only}", f"mlflow.tracking_uri={store}", check=False)
    assert mixed.returncode == 2 and "other settings" in mixed.stderr and "test" in mixed.stderr
    analyzed = run_cli("analyze", f"scores={train_only}", f"out_dir={tmp_path / 'analyze'}",
                       f"mlflow.tracking_uri={store}")
    agreement = pd.read_csv(tmp_path / "analyze" / "agreement.csv")
    assert set(agreement["split"]) == {"train"} and "Traceback" not in analyzed.stderr
