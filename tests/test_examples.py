"""examples/ run as a user runs them (`python examples/NAME.py`, in a fresh interpreter, from another folder): the
plain PyTorch loop that records scores and trains on their paced ordering, and the Lightning callback's."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from curriculum.io.scorefile import read_scores

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_the_own_loop_example_records_scores_and_trains_on_their_paced_ordering(tmp_path):
    out = run_example("own_loop.py", tmp_path)
    right, wrong = map(float, re.search(r"right labels ([\d.]+), wrong labels ([\d.]+)", out).groups())
    assert wrong < right - 0.2   # the recorded consensus tells the wrong labels apart
    steps, accuracy = re.search(r"curriculum: (\d+) steps on the paced ordering, test accuracy ([\d.]+)", out).groups()
    assert int(steps) == 4 * (1200 // 32) and float(accuracy) > 0.5   # 4 classes: chance is 0.25


def test_the_lightning_callback_writes_the_score_file_of_a_fit(tmp_path):
    pytest.importorskip("lightning", reason="the optional lightning extra is not installed")
    out = run_example("lightning_callback.py", tmp_path)
    frame, meta = read_scores(tmp_path / "scores.parquet")
    assert len(frame) == 1200 and meta["checkpoints"] == [1.0, 2.0, 3.0] and meta["recorder"] == {"source": "train"}
    assert np.array_equal(frame["index"], np.arange(1200)) and "scores.parquet: 1200 examples, 3 checkpoints" in out
