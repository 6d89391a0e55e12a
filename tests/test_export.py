"""`python -m curriculum export` on a hand-made dataset and scores whose orderings are worked out by hand."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import fresh_store, run_cli

from curriculum.commands.export import exported_rows
from curriculum.io.scorefile import write_scores

# 8 training examples, two classes; an imported score (higher = easier). Easy first, unbalanced: 1 (1.0), 0 (0.9),
# 2 (0.8), 4 (0.7), 6 (0.6), 7 (0.3), 3 (0.2), 5 (0.1). Balanced, each class keeps its sequence (class 0: 1, 0, 2, 3;
# class 1: 4, 6, 7, 5) and they alternate, class 0 first as its head comes first: 1, 4, 0, 6, 2, 7, 3, 5.
LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
SCORE = [0.9, 1.0, 0.8, 0.2, 0.7, 0.1, 0.6, 0.3]
BALANCED = [1, 4, 0, 6, 2, 7, 3, 5]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """(folder, the command-line settings of its data and scores, the MLflow store)."""
    tmp = tmp_path_factory.mktemp("export")
    x = np.zeros((8, 1, 4, 4), dtype=np.uint8)
    np.savez(tmp / "data.npz", x_train=x, y_train=np.array(LABELS), x_test=x[:2], y_test=np.array([0, 1]))
    pd.DataFrame({"index": range(8), "label": LABELS, "score": SCORE}).to_csv(tmp / "scores.csv", index=False)
    settings = ["data=arrays", f"data.path={tmp / 'data.npz'}", "data.val_size=0", f"scores={tmp / 'scores.csv'}"]
    return tmp, settings, fresh_store(tmp)


def export(dataset, name: str, *overrides: str):
    tmp, settings, store = dataset
    run_cli("export", *settings, *overrides, f"out_dir={tmp / name}", f"mlflow.tracking_uri={store}")
    return tmp / name


def test_the_kept_half_of_the_balanced_easy_first_ordering_as_csv(dataset):
    out = export(dataset, "half", "keep=0.5")
    rows = pd.read_csv(out / "ordering.csv")
    assert rows.columns.tolist() == ["rank", "index", "label"]
    assert rows["index"].tolist() == BALANCED[:4] and rows["label"].tolist() == [0, 1, 0, 1]
    about = json.loads((out / "export.json").read_text())
    assert about["rows"] == 4 and about["of"] == 8 and about["settings"]["order"] == "consensus"
    assert about["settings"]["score"] == "score" and about["settings"]["kept_fraction"] == 0.5   # the import's column
    assert len(about["scores"]["sha256"]) == 64 and about["data"]["name"] == "arrays"


def test_keep_auto_exports_the_share_the_consensus_histogram_says_is_clean(dataset):
    """Consensus of 2 members x 2 checkpoints (4 levels) over the 8 examples: levels 0, 1/4, 1/2, 3/4, 1 hold
    positions {2, 7}, {5}, {6}, {1, 3}, {0, 4}; shares .25, .125, .125, .25, .25; the floor (median of levels 1-2)
    .125 leaves .125 mislabelled at level 0, so keep=auto keeps .875: 7 of 8. Easy first, ties by the larger margin,
    balanced: 4, 0, 1, 6, 3, 5, 2 and not 7 (tests/test_plan.py works the same frame)."""
    tmp, settings, store = dataset
    frame = pd.DataFrame({"index": range(8), "label": LABELS, "consensus": [1.0, 0.75, 0.0, 0.75, 1.0, 0.25, 0.5, 0.0],
                          "margin": [2.0, 0.5, -1.0, 0.1, 3.0, -0.5, 0.4, -2.0]})
    write_scores(tmp / "consensus.parquet", frame, {"ensemble": [{}, {}], "checkpoints": [1, 2]})
    out = tmp / "auto"
    proc = run_cli("export", *settings[:-1], f"scores={tmp / 'consensus.parquet'}", "keep=auto", f"out_dir={out}",
                   f"mlflow.tracking_uri={store}")
    assert pd.read_csv(out / "ordering.csv")["index"].tolist() == [4, 0, 1, 6, 3, 5, 2]
    about = json.loads((out / "export.json").read_text())
    assert about["settings"]["kept_fraction"] == 0.875 and about["settings"]["keep"] == "auto"
    assert "keep=auto: the consensus histogram suggests 0.125 of the labels are wrong" in proc.stderr


def test_hard_first_as_npy_is_the_exact_reverse(dataset):
    out = export(dataset, "anti", "order=anti", "format=npy")
    assert np.load(out / "ordering.npy").tolist() == BALANCED[::-1]


def test_json_holds_the_settings_and_the_examples(dataset):
    out = export(dataset, "json", "balanced=false", "keep=0.25", "format=json")
    content = json.loads((out / "ordering.json").read_text())
    assert content["examples"] == {"index": [1, 0], "label": [0, 0]} and content["settings"]["balanced"] is False


def test_an_export_is_an_mlflow_run_with_its_files(dataset):
    out = export(dataset, "logged", "order=random", "seed=3")
    mlflow.set_tracking_uri(dataset[2])
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'export'")
    run = runs[runs["params.order"] == "random"].iloc[0]
    assert run["params.seed"] == "3" and run["tags.dataset"] == "arrays"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run["run_id"])}
    assert artifacts == {"ordering.csv", "export.json"}
    assert sorted(pd.read_csv(out / "ordering.csv")["index"]) == list(range(8))


@pytest.mark.parametrize("override, message", [
    ("format=xml", "format='xml' must be one of csv, npy, json"),
    ("keep=1.5", "keep=1.5 must be a fraction in (0, 1]"),
    ("order=easiest", "order='easiest' must be one of"),
    ("score=margin", "score='margin' is not a column of"),
    ("keep=auto", "keep=auto estimates the clean share from consensus scores, but the ordering uses 'score'"),
    ("strata=0", "strata=0 must be a whole number, at least 1"),
])
def test_bad_settings_are_one_line(dataset, override, message):
    tmp, settings, store = dataset
    proc = run_cli("export", *settings, override, f"out_dir={tmp / 'bad'}", f"mlflow.tracking_uri={store}",
                   check=False)
    assert proc.returncode == 2 and message in proc.stderr.strip().splitlines()[-1] and "Traceback" not in proc.stderr


def test_folder_rows_carry_their_files_path_even_from_imported_scores():
    frame = pd.DataFrame({"index": [1, 2, 3], "label": [0, 1, 0]})          # an import: no path column
    paths = np.array(["z.png", "a.png", "b.png", "c.png"])                    # the dataset's files, by index
    rows = exported_rows(frame, np.array([2, 0]), paths)
    assert rows.to_dict(orient="list") == {"rank": [0, 1], "index": [3, 1], "label": [0, 0],
                                           "path": ["c.png", "a.png"]}
