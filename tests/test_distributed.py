"""Several processes training one target (torchrun, gloo on CPU): each rank's share of a batch, the augmentation of
the shares, and a 2-process run against the 1-process run of the same settings, killed and continued too."""

import os
import subprocess
import sys

import mlflow
import pandas as pd
import pytest
import torch
from conftest import fresh_store, run_cli

from curriculum.data.augment import AugmentConfig, Augment
from curriculum.distributed import Ranks, check_batch, from_environment, shares
from curriculum.errors import UserError

ARGS = ["data=synthetic", "device=cpu", "epochs=2", "threads=1", "sampler=random"]
# synthetic: 1600 training examples, batch 128: 12 steps per epoch, 24 in all, an evaluation every 6 steps


def test_each_rank_takes_its_contiguous_share_of_the_batch():
    batch = torch.arange(10, 18)
    assert Ranks(0, 2).share(batch).tolist() == [10, 11, 12, 13]
    assert Ranks(1, 2).share(batch).tolist() == [14, 15, 16, 17]
    assert Ranks(3, 4).share(batch).tolist() == [16, 17]
    assert [b.tolist() for b in shares([batch[:4], batch[4:]], Ranks(1, 2))] == [[12, 13], [16, 17]]


def test_torchrun_variables_give_the_ranks_and_none_give_one_process():
    assert from_environment({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}) == Ranks(1, 2, 1)
    assert from_environment({}) == Ranks(0, 1, 0) and not Ranks().several and Ranks().lead
    with pytest.raises(UserError, match=r"RANK=2 must be in \[0, WORLD_SIZE=2\)"):
        from_environment({"WORLD_SIZE": "2", "RANK": "2"})
    with pytest.raises(UserError, match="must be whole numbers"):
        from_environment({"WORLD_SIZE": "two"})


def test_a_batch_that_does_not_divide_among_the_processes_is_one_line():
    check_batch(128, Ranks(0, 4))
    with pytest.raises(UserError, match="batch_size=100 does not divide among the 3 processes.*multiple of 3"):
        check_batch(100, Ranks(0, 3))


def test_the_shares_are_augmented_as_one_process_augments_the_whole_batch():
    images = torch.randint(0, 256, (8, 1, 6, 6), dtype=torch.uint8)
    cfg = AugmentConfig("flip_crop", pad=2)
    whole = Augment(cfg, seed=7)(images, step=3)
    halves = [Augment(cfg, seed=7, ranks=Ranks(r, 2))(images[4 * r:4 * r + 4], step=3) for r in (0, 1)]
    assert torch.equal(torch.cat(halves), whole)
    assert not torch.equal(whole, images)   # something was augmented


def torchrun(*args, cwd, env=None, command="train"):
    """`torchrun --standalone --nproc_per_node=2 -m curriculum train ...` as a user runs it."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "curriculum", command, *args]
    full_env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)


def finished_runs(store: str, study: str):
    mlflow.set_tracking_uri(store)
    return mlflow.search_runs(experiment_names=["curriculum"], filter_string=f"tags.study = '{study}'")


def history(run_id: str) -> dict:
    client = mlflow.tracking.MlflowClient()
    names = sorted(set(client.get_run(run_id).data.metrics) - {"wall_seconds"})
    return {n: sorted((m.step, m.value) for m in client.get_metric_history(run_id, n)) for n in names}


def weights(run_id: str) -> dict:
    return torch.load(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model/weights.pt"))


@pytest.mark.slow
def test_two_processes_train_the_one_process_target_and_continue_after_a_kill(tmp_path):
    """The 2-process step averages two half-batch means where one process takes one mean: the same sum in
    another order, so each step differs by float rounding (~1e-7 relative), and after 24 steps the weights differ by
    about 1e-7 (6e-8 seen). Tolerance: 1e-5 on every weight and loss; accuracies to within one of the 500 test
    images. A killed 2-process run continued by the same command ends exactly as the uninterrupted one."""
    store = fresh_store(tmp_path)
    run_cli("train", *ARGS, "study=one", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    two = torchrun(*ARGS, "study=two", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "2 processes, 64 examples of each batch apiece" in two.stderr
    (one_id,), (two_id,) = finished_runs(store, "one").run_id, finished_runs(store, "two").run_id
    one_h, two_h = history(one_id), history(two_id)
    assert one_h.keys() == two_h.keys() and finished_runs(store, "two")["tags.processes"].tolist() == ["2"]
    for name in one_h:
        steps = [s for s, _ in one_h[name]]
        assert steps == [s for s, _ in two_h[name]], name
        tolerance = 0.002 if name.endswith("acc") or "acc_" in name else 1e-5
        assert max(abs(a - b) for (_, a), (_, b) in zip(one_h[name], two_h[name])) <= tolerance, name
    one_w, two_w = weights(one_id), weights(two_id)
    assert max((one_w[k] - two_w[k]).abs().max().item() for k in one_w) < 1e-5

    killed = torchrun(*ARGS, "study=killed", f"mlflow.tracking_uri={store}", cwd=tmp_path,
                      env={"CURRICULUM_DIE_AT": "step:16"})   # after the state of step 12
    assert killed.returncode != 0
    again = torchrun(*ARGS, "study=killed", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "continuing MLflow run" in again.stderr and "from step 12" in again.stderr
    runs = finished_runs(store, "killed")
    assert len(runs) == 1 and runs["status"].tolist() == ["FINISHED"]
    assert history(runs.run_id[0]) == two_h
    continued = weights(runs.run_id[0])
    assert all(torch.equal(continued[k], two_w[k]) for k in two_w)


@pytest.mark.slow
def test_two_processes_score_the_members_of_their_ranks_and_the_lead_derives_the_one_process_scores(tmp_path):
    store = fresh_store(tmp_path)
    small = ["data=synthetic", "device=cpu", "epochs=1", "threads=1", "ensemble.size=3", f"mlflow.tracking_uri={store}"]
    run_cli("score", *small, f"out_dir={tmp_path / 'one'}", cwd=tmp_path)
    two = torchrun(*small, f"out_dir={tmp_path / 'two'}", cwd=tmp_path, command="score")
    assert two.returncode == 0, two.stderr[-3000:]
    for name in ("scores.parquet", "test_scores.parquet"):
        one, two = (pd.read_parquet(tmp_path / run / name) for run in ("one", "two"))
        pd.testing.assert_frame_equal(one, two)
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'score'")
    shards = runs[runs["tags.out_dir"].str.endswith("two")]
    assert sorted(shards["tags.shard"]) == ["0/2", "1/2"]
    assert shards["tags.scores"].fillna("").tolist().count("complete") == 1
    refused = torchrun(*small, "ensemble.num_shards=2", f"out_dir={tmp_path / 'no'}", cwd=tmp_path, command="score")
    assert refused.returncode != 0 and "drop ensemble.shard and ensemble.num_shards" in refused.stderr
