"""Scale-out through Hydra's launcher plugins: shards in parallel processes give exactly the scores of one process."""

import mlflow
import pandas as pd
import pytest
from conftest import run_cli

SMALL = ["data=synthetic", "ensemble.size=3", "epochs=3", "device=cpu", "threads=1"]


@pytest.mark.slow
def test_joblib_shards_then_one_run_give_exactly_the_single_process_scores(tmp_path, store):
    run_cli("score", "-m", "hydra/launcher=local", "ensemble.shard=0,1,2", "ensemble.num_shards=3", *SMALL,
            f"out_dir={tmp_path / 'parts'}", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    run_cli("score", *SMALL, f"out_dir={tmp_path / 'parts'}", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    run_cli("score", *SMALL, f"out_dir={tmp_path / 'whole'}", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "parts" / "scores.parquet"),
                                  pd.read_parquet(tmp_path / "whole" / "scores.parquet"))


@pytest.mark.slow
def test_train_sweep_runs_through_submitit_local(tmp_path, store):
    run_cli("train", "-m", "hydra/launcher=submitit_local", "sampler=standard,random", "seed=0", "data=synthetic",
            "epochs=1", "device=cpu", "study=submitit", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.study = 'submitit'")
    assert sorted(runs["tags.sampler"]) == ["random", "standard"] and (runs["status"] == "FINISHED").all()
