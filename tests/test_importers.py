"""Scores from elsewhere: the C-score release, dataset cartography and CSV, aligned to the training subset."""

import json

import numpy as np
import pandas as pd
import pytest

from curriculum.data.datasets import DataConfig, load_data, synthetic
from curriculum.errors import UserError
from curriculum.io.importers import align, is_external, load_external

CFG = DataConfig(name="synthetic", train_size=500, val_size=100)


@pytest.fixture(scope="module")
def data():
    return load_data(CFG)


@pytest.fixture(scope="module")
def all_labels():
    return synthetic(CFG)[1]  # labels of all 2000 training examples, in official order


def aligned(path, data):
    return align(load_external(path), data.train.index.numpy(), data.true_labels, str(path))


def test_cscore_file_round_trips_onto_the_training_subset(tmp_path, data, all_labels):
    scores = np.linspace(0, 1, len(all_labels))
    np.savez(tmp_path / "cscores.npz", labels=all_labels, scores=scores)
    assert is_external(tmp_path / "cscores.npz")
    frame = aligned(tmp_path / "cscores.npz", data)
    np.testing.assert_array_equal(frame["index"], data.train.index.numpy())
    np.testing.assert_allclose(frame["score"], scores[data.train.index.numpy()])
    np.testing.assert_array_equal(frame["label"], data.true_labels)


def test_cscore_file_for_other_labels_is_caught(tmp_path, data, all_labels):
    np.savez(tmp_path / "c.npz", labels=(all_labels + 1) % 4, scores=np.zeros(len(all_labels)))
    with pytest.raises(UserError, match="made for other labels: 500 of 500 labels disagree"):
        aligned(tmp_path / "c.npz", data)


def test_cartography_dynamics_give_confidence_and_variability(tmp_path, data, all_labels):
    folder = tmp_path / "training_dynamics"
    folder.mkdir()
    for epoch, logit in enumerate([0.0, np.log(3.0)]):  # gold prob 0.5 then 0.75 with two classes' logits
        lines = [json.dumps({"guid": int(i), "gold": int(y), f"logits_epoch_{epoch}":
                             [logit if c == y else 0.0 for c in range(2)] + [-1e9, -1e9]})
                 for i, y in enumerate(all_labels % 2)]
        (folder / f"dynamics_epoch_{epoch}.jsonl").write_text("\n".join(lines))
    frame = load_external(folder)
    np.testing.assert_allclose(frame["confidence"], 0.625)
    np.testing.assert_allclose(frame["variability"], 0.125)
    with pytest.raises(UserError, match="labels disagree"):  # labels 0/1 only: most disagree with 4 classes
        aligned(folder, data)


def test_csv_with_index_and_a_score_column(tmp_path, data):
    pd.DataFrame({"index": np.arange(2000), "difficulty": np.arange(2000) * 0.5}).to_csv(tmp_path / "s.csv", index=False)
    frame = aligned(tmp_path / "s.csv", data)
    np.testing.assert_allclose(frame["score"], data.train.index.numpy() * 0.5)
    pd.DataFrame({"index": np.arange(10), "s": np.ones(10)}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(UserError, match=r"has no scores for \d+ of the 500 training examples"):
        aligned(tmp_path / "short.csv", data)
    pd.DataFrame({"id": [1]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(UserError, match="has no 'index' column"):
        load_external(tmp_path / "bad.csv")


@pytest.mark.slow
def test_train_orders_by_an_imported_cscore_file(tmp_path, all_labels):
    import mlflow
    from conftest import run_cli

    np.savez(tmp_path / "cscores.npz", labels=all_labels, scores=np.random.default_rng(0).random(len(all_labels)))
    store = f"sqlite:///{tmp_path / 'm.db'}"
    run_cli("train", "data=synthetic", "data.train_size=500", "data.val_size=100", "epochs=1", "device=cpu",
            f"scores={tmp_path / 'cscores.npz'}", "study=imported", f"mlflow.tracking_uri={store}")
    mlflow.set_tracking_uri(store)
    run = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.study = 'imported'").iloc[0]
    assert run["tags.sampler_score"] == "score" and run["tags.scores_path"].endswith("cscores.npz")


def test_cscore_file_whose_labels_and_scores_differ_in_length_is_refused(tmp_path):
    np.savez(tmp_path / "c.npz", labels=np.array([0, 1, 2]), scores=np.array([0.5, 0.25]))
    with pytest.raises(UserError, match=r"c.npz has 3 labels but 2 scores"):
        load_external(tmp_path / "c.npz")


def test_csv_rows_repeated_exactly_are_read_once(tmp_path):
    pd.DataFrame({"index": [0, 1, 1, 2], "s": [0.5, 0.25, 0.25, 1.0]}).to_csv(tmp_path / "s.csv", index=False)
    frame = load_external(tmp_path / "s.csv")
    assert frame["index"].tolist() == [0, 1, 2] and frame["s"].tolist() == [0.5, 0.25, 1.0]


@pytest.mark.parametrize("columns", [{"s": [0.5, 0.25, 0.75]}, {"s": [0.5, 0.25, 0.25], "label": [0, 2, 3]}],
                         ids=["another score", "another label"])
def test_csv_repeating_an_index_with_other_values_is_refused_naming_the_index(tmp_path, columns):
    pd.DataFrame({"index": [0, 1, 1], **columns}).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(UserError, match=r"s.csv has 2 different rows for index 1"):
        load_external(tmp_path / "s.csv")


def test_a_csv_with_the_noisy_labels_trained_on_is_accepted_and_other_labels_are_not(tmp_path):
    """With injected noise a peer tool (cleanlab) writes the labels it saw: all of them equal to the labels trained
    on is this dataset; a mixture of true and noisy labels, or any other labels, is not."""
    noisy = load_data(DataConfig(name="synthetic", train_size=500, val_size=100, label_noise=0.2))
    index, true, trained = noisy.train.index.numpy(), noisy.true_labels, noisy.train.y.numpy()
    assert (true != trained).sum() == 100
    for name, labels in (("trained", trained), ("true", true)):
        pd.DataFrame({"index": index, "label": labels, "s": 1.0}).to_csv(tmp_path / f"{name}.csv", index=False)
        frame = align(load_external(tmp_path / f"{name}.csv"), index, true, name, trained)
        np.testing.assert_array_equal(frame["label"], true)
    mixed = np.where(np.arange(500) < 250, trained, true)   # half the flips only
    pd.DataFrame({"index": index, "label": mixed, "s": 1.0}).to_csv(tmp_path / "mixed.csv", index=False)
    with pytest.raises(UserError, match="made for other labels"):
        align(load_external(tmp_path / "mixed.csv"), index, true, "mixed", trained)
