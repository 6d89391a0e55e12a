"""Pairwise noise and the el2n column end to end: `score` with data.noise=pairwise writes el2n, and `train` orders
by it (sampler.score=el2n), tagged with the noise kind."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

TINY = ["data=synthetic", "device=cpu", "data.noise=pairwise", "data.label_noise=0.2"]


@pytest.mark.slow
def test_pairwise_scores_carry_el2n_and_train_orders_by_it(tmp_path, store):
    out = tmp_path / "score"
    run_cli("score", *TINY, "epochs=1", "ensemble.size=2", f"out_dir={out}", f"mlflow.tracking_uri={store}")
    scores = pd.read_parquet(out / "scores.parquet")
    noisy = scores[scores["noisy"]]
    assert len(noisy) == 320 and ((noisy["true_label"] + 1) % 4 == noisy["label"]).all()   # synthetic: c -> c + 1
    assert scores["el2n"].between(0, np.sqrt(2) + 1e-3).all()
    proc = run_cli("train", *TINY, "epochs=1", "sampler=consensus", "sampler.score=el2n", f"scores={out}",
                   "study=el2n", f"mlflow.tracking_uri={store}")
    assert "Traceback" not in proc.stderr
    mlflow.set_tracking_uri(store)
    run = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.study = 'el2n'").iloc[0]
    assert run["status"] == "FINISHED" and json.loads(run["tags.arm"])["score"] == "el2n"
    assert json.loads(run["tags.training"])["data"]["noise"] == "pairwise"
