"""The command line: bad input ends in one line on stderr and exit code 2, never a traceback."""

import re

import numpy as np
import pandas as pd
import pytest
from conftest import fresh_store, run_cli


def test_no_command_prints_usage_and_fails():
    proc = run_cli(check=False)
    assert proc.returncode == 2 and "usage: python -m curriculum {score,train" in proc.stderr


def test_the_tests_forked_command_line_answers_as_a_fresh_interpreter(tmp_path, monkeypatch):
    """run_cli runs each command in a fork of one process that has imported the package (tests/forked_cli.py): the
    same exit status, stdout and stderr as `python -m curriculum` in a fresh interpreter."""
    args = ("score", "data=synthetic", "epochs=0", f"mlflow.tracking_uri=sqlite:///{tmp_path / 'm.db'}")
    forked = run_cli(*args, cwd=tmp_path, check=False)
    monkeypatch.setenv("CURRICULUM_TEST_FORK", "0")
    fresh = run_cli(*args, cwd=tmp_path, check=False)
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert (fresh.returncode, fresh.stderr) == (2, "error: epochs=0 must be at least 1\n")


def test_the_tests_forked_command_line_succeeds_as_a_fresh_interpreter(tmp_path, monkeypatch):
    """A command that works (export of 4 hand-made examples, an MLflow run) answers alike both ways: exit status 0,
    the same stdout (empty) and stderr but for the MLflow run id, and the same file."""
    x = np.zeros((4, 1, 2, 2), dtype=np.uint8)
    np.savez(tmp_path / "data.npz", x_train=x, y_train=np.array([0, 0, 1, 1]), x_test=x[:2], y_test=np.array([0, 1]))
    pd.DataFrame({"index": range(4), "score": [0.4, 0.3, 0.2, 0.1]}).to_csv(tmp_path / "s.csv", index=False)
    args = ("export", "data=arrays", f"data.path={tmp_path / 'data.npz'}", "data.val_size=0",
            f"scores={tmp_path / 's.csv'}", f"out_dir={tmp_path / 'out'}",
            f"mlflow.tracking_uri={fresh_store(tmp_path)}")
    answers = []
    for fork in ("1", "0"):
        monkeypatch.setenv("CURRICULUM_TEST_FORK", fork)
        proc = run_cli(*args, cwd=tmp_path)
        run_id = re.search(r"MLflow run ([0-9a-f]{32})", proc.stderr).group(1)   # say() writes to stderr
        answers.append((proc.returncode, proc.stdout.replace(run_id, "RUN"), proc.stderr.replace(run_id, "RUN"),
                        (tmp_path / "out" / "ordering.csv").read_text()))
    assert answers[0] == answers[1]
    assert answers[0][3].splitlines()[1:] == ["0,0,0", "1,2,1", "2,1,0", "3,3,1"]   # balanced, easiest first


def test_unknown_command_is_named():
    proc = run_cli("fit", check=False)
    assert proc.returncode == 2 and "error: unknown command 'fit'; choose one of score, train" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["score", "data=synthetic", "ensemble.models=[cnn,vit]"], "unknown model 'vit'; choose one of mlp"),
    (["score", "data=synthetic", "data.label_noise=1.2"], "data.label_noise=1.2 is out of range"),
    (["score", "data=synthetic", "data.noise=flip"], "data.noise='flip' is not a kind of label noise; choose one of"),
    (["score", "data=synthetic", "data.noise=pairwise", "data.noise_map={0:7}"], "names class 7, but the dataset has"),
    (["train", "data=synthetic", "data.noise=pairwise", "data.noise_map={1:1}"], "maps class 1 to itself"),
    (["score", "data=synthetic", "data.train_size=5000"], "exceeds the 2000 training examples of synthetic"),
    (["score", "data=synthetic", "ensemble.shard=2", "ensemble.num_shards=2"], "ensemble.shard=2 must be in [0, ensemble.num_shards=2)"),
    (["score", "data=synthetic", "out_dir=/proc/forbidden"], "out_dir='/proc/forbidden' cannot be created"),
    (["score", "data=synthetic", "mlflow.tracking_uri=./mlruns"], "MLflow 3 no longer accepts the file store"),
    (["score", "data=synthetic", "mlflow.tracking_uri=http://127.0.0.1:9"], "cannot reach the MLflow server"),
    (["score", "data=synthetic", "mlflow.tracking_uri=sqlite:////nonexistent/dir/m.db"], "folder /nonexistent/dir does not exist"),
    (["score", "data=mnist", "data.root=/nonexistent", "data.download=false"], "MNIST is not in /nonexistent/"),
    (["score", "data=cifar10", "data.root=/nonexistent", "data.download=false"], "CIFAR10 is not in /nonexistent/"),
    (["score", "data=synthetic", "device=tpu"], "device='tpu' is not one of auto, cpu, cuda"),
    (["score", "data=synthetic", "recording.source=logits"], "recording.source='logits' must be one of eval, train"),
    (["train", "data=synthetic", "pacing.a=0"], "pacing.a=0 is out of range for linear: allowed (0, inf)"),
    (["train", "data=synthetic", "sampler.name=easy"], "unknown sampler 'easy'; choose one of consensus"),
    (["train", "data=synthetic", "scores=/nonexistent/scores.parquet"], "scores file /nonexistent/scores.parquet does not exist"),
    (["train", "data=synthetic", "scores=0123456789abcdef0123456789abcdef"], "no such MLflow run"),
    (["train", "data=synthetic", "pacing.end=2"], "pacing.end=2.0 must be a fraction in (0, 1] or auto"),
    (["train", "data=synthetic", "lr=1e6", "sampler=standard", "epochs=1"], "training loss became"),
])
def test_bad_input_stops_with_one_line_naming_the_value(tmp_path, args, message):
    command, *overrides = args
    proc = run_cli(command, f"mlflow.tracking_uri={fresh_store(tmp_path)}", *overrides, cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, last
    assert "Traceback" not in proc.stderr


def test_truncated_scores_file_given_to_train_is_one_line(tmp_path):
    broken = tmp_path / "scores.parquet"
    broken.write_bytes(b"PAR1 not really a parquet file")
    proc = run_cli("train", "data=synthetic", f"scores={broken}", f"mlflow.tracking_uri={fresh_store(tmp_path)}",
                   cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "is corrupt or truncated" in proc.stderr.strip().splitlines()[-1]


def test_truncated_dynamics_file_given_to_analyze_is_one_line(tmp_path):
    (tmp_path / "run" / "dynamics").mkdir(parents=True)
    for k in range(2):
        (tmp_path / "run" / "dynamics" / f"member-{k}.npz").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "run" / "scores.parquet").write_bytes(b"")
    proc = run_cli("analyze", f"scores={tmp_path / 'run'}", f"mlflow.tracking_uri={fresh_store(tmp_path)}",
                   cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "is corrupt or truncated" in proc.stderr.strip().splitlines()[-1]
