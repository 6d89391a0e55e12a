"""A score run killed with SIGKILL at any moment and started again with the same out_dir finishes with
exactly the scores of an uninterrupted run. Kill points are deterministic (curriculum/faults.py)."""

import signal

import pandas as pd
import pytest
from conftest import fresh_store, run_cli

ARGS = ["score", "data=synthetic", "ensemble.size=2", "epochs=3", "device=cpu", "threads=1"]
# synthetic: 1600 examples / 128 = 12 steps per epoch, 36 per member; 6 checkpoints x 2 splits per member;
# writes: member 0 resume at epochs 1, 2 (1, 2), member-0.npz (3), member 1 (4, 5, 6), scores.parquet (7)
KILL_POINTS = {
    "step:30": "member 0 training, after its epoch-2 state",
    "step:50": "member 1 training, after member 0 is complete",
    "record:5": "member 0 recording a checkpoint, between the train and test pass",
    "write:3": "writing member-0.npz",
    "write:7": "writing scores.parquet, the final write",
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    run_cli(*ARGS, f"out_dir={tmp / 'out'}", f"mlflow.tracking_uri={fresh_store(tmp, 'm.db')}", cwd=tmp)
    return pd.read_parquet(tmp / "out" / "scores.parquet"), pd.read_parquet(tmp / "out" / "test_scores.parquet")


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkilled_score_run_resumes_to_identical_scores(tmp_path, reference, point):
    out, store = tmp_path / "out", f"mlflow.tracking_uri={fresh_store(tmp_path, 'm.db')}"
    killed = run_cli(*ARGS, f"out_dir={out}", store, cwd=tmp_path, env={"CURRICULUM_DIE_AT": point}, check=False,
                     timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (out / "scores.parquet").exists() or point == "write:7"
    resumed = run_cli(*ARGS, f"out_dir={out}", store, cwd=tmp_path)
    if point in ("step:50", "write:7"):
        assert "member-0.npz is complete: skipped" in resumed.stderr  # only the member in progress is redone
    if point == "step:30":
        assert "resumed at step 24" in resumed.stderr  # continues from its last epoch, not from scratch
    train, test = reference
    pd.testing.assert_frame_equal(pd.read_parquet(out / "scores.parquet"), train)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "test_scores.parquet"), test)
    assert not list((out / "dynamics").glob(".member-*.resume.pt"))  # resume states are cleaned up
