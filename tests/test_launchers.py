"""Scale-out through Hydra's launcher plugins: shards in parallel processes give exactly the scores of one process."""

import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest import run_cli

SMALL = ["data=synthetic", "ensemble.size=3", "epochs=3", "device=cpu", "threads=1"]


# conf/hydra/launcher/ray_local.yaml starts a fresh local Ray in the command (address=local: never another test's or a
# user's cluster, so two test processes each get their own) and ray's exit handler stops it when the command ends:
# the Ray tests also check that no process is left in their folder.
def processes_in(folder: Path) -> list[str]:
    """The command lines of the processes whose working directory is `folder` or below it (Ray's GCS, raylet and
    workers start in the command's folder)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(proc / "cwd").resolve().is_relative_to(folder.resolve()):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:   # gone, or another user's
            continue
    return found


def assert_nothing_left_in(folder: Path, wait_s: float = 10) -> None:
    deadline = time.monotonic() + wait_s   # ray.shutdown signals its processes; they may take a moment to go
    while (left := processes_in(folder)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"processes left behind: {left}"


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["local", "ray_local"])
def test_shards_through_a_launcher_then_one_run_give_exactly_the_single_process_scores(tmp_path, store, launcher):
    run_cli("score", "-m", f"hydra/launcher={launcher}", "ensemble.shard=0,1,2", "ensemble.num_shards=3", *SMALL,
            f"out_dir={tmp_path / 'parts'}", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    if launcher.startswith("ray"):
        assert_nothing_left_in(tmp_path)
    run_cli("score", *SMALL, f"out_dir={tmp_path / 'parts'}", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    run_cli("score", *SMALL, f"out_dir={tmp_path / 'whole'}", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "parts" / "scores.parquet"),
                                  pd.read_parquet(tmp_path / "whole" / "scores.parquet"))


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["submitit_local", "ray_local"])
def test_train_sweep_runs_through_a_launcher(tmp_path, store, launcher):
    run_cli("train", "-m", f"hydra/launcher={launcher}", "sampler=standard,random", "seed=0", "data=synthetic",
            "epochs=1", "device=cpu", "threads=1", f"study={launcher}", f"mlflow.tracking_uri={store}", cwd=tmp_path)
    if launcher.startswith("ray"):
        assert_nothing_left_in(tmp_path)
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string=f"tags.study = '{launcher}'")
    assert sorted(runs["tags.sampler"]) == ["random", "standard"] and (runs["status"] == "FINISHED").all()
