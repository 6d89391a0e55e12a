"""compare on hand-made runs in a temporary MLflow store: every figure is known in advance."""

import numpy as np
import pytest

from conftest import run_cli
from curriculum.commands.compare import gather
from curriculum.comparison import area_under_curve, compare, paired_difference, to_markdown
from curriculum.tracking import Tracker

# test/acc_at_best_val per (sampler, seed)
ACC = {"standard": [0.80, 0.82, 0.84], "random": [0.79, 0.80, 0.81], "consensus": [0.83, 0.86, 0.86], "anti": [0.70, 0.72]}


@pytest.fixture
def study_store(store):
    track = Tracker(store, "curriculum")
    for sampler, values in ACC.items():
        for seed, acc in enumerate(values):
            tags = {"stage": "train", "study": "hand", "sampler": sampler, "seed": seed, "dataset": "synthetic",
                    "pacing": "none" if sampler == "standard" else "linear", "pacing_end": "1"}
            with track.run(f"{sampler}-{seed}", tags) as run_id:
                track.log_metrics(run_id, {"test/acc_at_best_val": [(100, acc)], "test/acc_final": [(100, acc - 0.01)],
                                           "test/acc_best": [(100, acc + 0.01)], "steps": [(100, 100)],
                                           "test/acc": [(50, acc - 0.1), (100, acc)]})
    with track.run("other-study", {"stage": "train", "study": "other", "sampler": "standard", "seed": 0}):
        pass
    return store, track


def test_table_means_stds_paired_differences_and_n_are_exact(study_store):
    _, track = study_store
    runs, curves = gather(track, "hand")
    table = compare(runs).set_index("arm")
    assert table.loc["consensus/linear", "n"] == 3 and table.loc["anti/linear", "n"] == 2
    assert table.loc["consensus/linear", "test@best_val_mean"] == pytest.approx(0.85)
    assert table.loc["consensus/linear", "test@best_val_std"] == pytest.approx(np.std([0.83, 0.86, 0.86], ddof=1))
    # paired over seeds 0..2: consensus - standard = [0.03, 0.04, 0.02] -> mean 0.03, sd 0.01, t(2)=4.303
    assert table.loc["consensus/linear", "vs_standard"] == pytest.approx(0.03)
    assert table.loc["consensus/linear", "vs_standard_hi"] == pytest.approx(0.03 + 4.303 * 0.01 / np.sqrt(3))
    assert table.loc["consensus/linear", "vs_random"] == pytest.approx(np.mean([0.04, 0.06, 0.05]))
    assert table.loc["anti/linear", "vs_standard_pairs"] == 2  # only the seeds both arms have
    assert table.loc["anti/linear", "note"] == "only 2 seeds (< 3)" and table.loc["standard", "note"] == ""
    assert list(table.index[:2]) == ["consensus/linear", "standard"]  # ranked by test@best_val
    assert len(curves["random/linear"]) == 3
    assert table.loc["standard", "test_auc_mean"] == pytest.approx(np.mean(
        [area_under_curve([50, 100], [a - 0.1, a], 100) for a in ACC["standard"]]))
    assert "| consensus/linear | 3 | 85.00 ± 1.73 |" in to_markdown(table.reset_index())


def test_area_under_curve_by_hand():
    # flat at 0.5 until step 50, then a linear rise to 1.0 at step 100: (50*0.5 + 50*0.75) / 100
    assert area_under_curve([50, 100], [0.5, 1.0], 100) == pytest.approx(0.625)


def test_paired_difference_uses_only_common_seeds():
    import pandas as pd
    mean, low, high, pairs = paired_difference(pd.Series([1.0, 2.0, 3.0], index=[0, 1, 2]),
                                               pd.Series([0.5, 1.0], index=[1, 2]))
    assert (mean, pairs) == (1.75, 2) and low < 1.75 < high  # (2 - 0.5 + 3 - 1) / 2


def test_compare_command_writes_table_curves_and_an_mlflow_run(study_store, tmp_path):
    import mlflow

    store, _ = study_store
    proc = run_cli("compare", "study=hand", f"out_dir={tmp_path / 'cmp'}", f"mlflow.tracking_uri={store}")
    assert "| consensus/linear | 3 |" in proc.stdout and "Fewer than 3 seeds: anti/linear" in proc.stdout
    assert {p.name for p in (tmp_path / "cmp").iterdir()} >= {"comparison.csv", "comparison.md", "learning_curves.png"}
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'compare'")
    assert len(runs) == 1 and runs["tags.study"].iloc[0] == "hand"
    missing = run_cli("compare", "study=nothing", f"mlflow.tracking_uri={store}", cwd=tmp_path, check=False)
    assert missing.returncode == 2 and "no finished train runs with study='nothing'" in missing.stderr
