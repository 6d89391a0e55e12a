"""Out-of-distribution agreement on hand-made predictions whose answers are worked out by hand."""

import numpy as np
import torch
import pytest

from curriculum.analysis.ood import ood_rows, same_images_across_families, unanimity, unanimity_independent


def test_unanimity_and_its_independent_baseline_by_hand():
    predicted = np.array([[0, 0, 1, 1], [0, 1, 1, 1]])      # alike on images 0, 2, 3
    assert unanimity(predicted).tolist() == [True, False, True, True]
    # q_0 = (1/2, 1/2), q_1 = (1/4, 3/4): 1/2 x 1/4 + 1/2 x 3/4 = 1/2
    assert unanimity_independent(predicted) == 0.5
    assert unanimity_independent(np.array([[2, 2], [2, 2], [2, 2]])) == 1.0   # everyone always says class 2


def test_rows_per_split_and_checkpoint():
    ood = {"noise": np.array([[[0, 0], [1, 1]], [[0, 1], [1, 1]]])}          # (K=2, C=2, N=2)
    table = ood_rows(ood, np.array([0.5, 1.0]))
    assert table["unanimous"].tolist() == [0.5, 1.0] and table["epoch"].tolist() == [0.5, 1.0]
    assert table["unanimous_independent"].tolist() == [0.5, 1.0]            # checkpoint 0: q_0 = (1, 0), q_1 = (1/2, 1/2)
    assert table["top_class_share"].tolist() == [0.75, 1.0]


def test_families_agreeing_on_the_same_images_against_independence_by_hand():
    # 4 images. cnn (members 0, 1) unanimous on images 0 (class 0), 1 (class 1), 2 (class 1); mlp (members 2, 3) on
    # images 0 (class 0), 2 (class 0). Same image and class: image 0 only. Independent: class 0: 1 x 2, class 1:
    # 2 x 0 -> 2 / 4 = 0.5. The lone cnn_gap member (4) forms no family of its own.
    predicted = np.array([[0, 1, 1, 2], [0, 1, 1, 0], [0, 1, 0, 1], [0, 0, 0, 2], [3, 3, 3, 3]])[:, None, :]
    table = same_images_across_families(predicted, ["cnn", "cnn", "mlp", "mlp", "cnn_gap"])
    assert table.to_dict(orient="records") == [{"family_a": "cnn", "family_b": "mlp", "unanimous_a": 3,
                                                "unanimous_b": 2, "same_class_both": 1, "independent": 0.5}]
    assert same_images_across_families(predicted, ["cnn"] * 5).empty


def test_a_class_subset_relabels_and_moves_the_other_classes_test_images_out_of_distribution():
    from curriculum.data.datasets import DataConfig, load_data

    full = load_data(DataConfig(name="synthetic", val_size=100))
    part = load_data(DataConfig(name="synthetic", val_size=100, classes=[3, 1]))   # kept: 1 -> 0, 3 -> 1
    assert part.num_classes == 2 and set(part.train.y.tolist()) == {0, 1} and set(part.val.y.tolist()) == {0, 1}
    original = full.test.y.numpy()
    assert part.test.index.tolist() == np.flatnonzero(np.isin(original, [1, 3])).tolist()
    assert part.test.y.tolist() == [{1: 0, 3: 1}[c] for c in original[np.isin(original, [1, 3])]]
    other = part.ood["other_classes"]
    assert set(other.y.tolist()) == {0, 2} and len(other) + len(part.test) == len(full.test)
    assert part.fingerprint != full.fingerprint and not full.ood                      # nothing out of distribution
    assert load_data(DataConfig(name="synthetic", val_size=100, classes=None)).fingerprint == full.fingerprint


def test_artificial_images_are_seeded_in_range_and_of_the_data_shape():
    from curriculum.data.datasets import DataConfig, load_data
    from curriculum.data.ood import artificial_images

    data = load_data(DataConfig(name="synthetic", artificial=30))
    assert set(data.ood) == {"noise", "stripes"}
    for split in data.ood.values():
        assert split.x.shape == (30, *data.input_shape) and split.x.dtype == torch.uint8 and (split.y == -1).all()
    stripes = artificial_images("stripes", 5, (3, 8, 8), seed=0)
    assert (stripes == artificial_images("stripes", 5, (3, 8, 8), seed=0)).all()
    assert (stripes[:, 0] == stripes[:, 2]).all() and stripes.max() > 200 and stripes.min() < 55    # gratings
    assert not (artificial_images("noise", 5, (1, 8, 8), seed=0) == artificial_images("noise", 5, (1, 8, 8), 1)).all()


@pytest.mark.parametrize("settings, message", [
    ({"classes": [1]}, "at least two distinct class numbers"),
    ({"classes": [1, 1]}, "at least two distinct class numbers"),
    ({"artificial": -1}, "data.artificial=-1 must be a number of images"),
    ({"classes": [0, 1], "noise": "pairwise"}, "data.classes with data.noise=pairwise is not supported"),
    ({"classes": 5}, "at least two distinct class numbers"),
    ({"classes": [True, False]}, "at least two distinct class numbers"),
    ({"artificial": 2.5}, "data.artificial=2.5 must be a number of images"),
])
def test_bad_out_of_distribution_settings_are_one_line(settings, message):
    from curriculum.data.datasets import DataConfig
    from curriculum.errors import UserError

    with pytest.raises(UserError, match=message):
        DataConfig(name="synthetic", **settings)


def test_a_class_that_does_not_exist_is_named():
    from curriculum.data.datasets import DataConfig, load_data
    from curriculum.errors import UserError

    with pytest.raises(UserError, match=r"data.classes=\[0, 9\] names class 9, but the dataset has classes 0 to 3"):
        load_data(DataConfig(name="synthetic", classes=[0, 9]))


@pytest.mark.slow
def test_score_records_and_analyze_reports_out_of_distribution_agreement(tmp_path, store):
    import pandas as pd
    from conftest import run_cli

    from curriculum.scoring.dynamics import load_member

    run_cli("score", "data=synthetic", "data.classes=[0,1,2]", "data.train_size=1000", "data.artificial=40",
            "device=cpu", "epochs=1", "ensemble.size=4", "ensemble.models=[cnn,mlp]", f"out_dir={tmp_path / 'score'}",
            f"mlflow.tracking_uri={store}")
    member = load_member(tmp_path / "score" / "dynamics" / "member-0.npz")
    assert set(member.ood) == {"other_classes", "noise", "stripes"} and member.ood["noise"].shape == (4, 40)
    assert member.ood["noise"].max() <= 2                                            # one of the three classes kept
    report = run_cli("analyze", f"scores={tmp_path / 'score'}", f"out_dir={tmp_path / 'an'}",
                     f"mlflow.tracking_uri={store}").stdout
    assert "Out-of-distribution agreement" in report and "| stripes |" in report
    table = pd.read_csv(tmp_path / "an" / "ood_agreement.csv")
    assert set(table["split"]) == {"other_classes", "noise", "stripes"} and table["unanimous"].between(0, 1).all()
    families = pd.read_csv(tmp_path / "an" / "ood_families.csv")
    assert (families["family_a"] + families["family_b"]).eq("cnnmlp").all() and len(families) == 6   # 3 splits x 2


def test_artificial_images_change_what_members_record_not_the_training_data():
    from curriculum.data.datasets import DataConfig, load_data
    from curriculum.engine import OptimConfig
    from curriculum.scoring.ensemble import Member, RecordingConfig, member_identity

    plain, extra = (load_data(DataConfig(name="synthetic", artificial=n)) for n in (0, 20))
    assert extra.fingerprint == plain.fingerprint                     # the same training data: the same score runs
    identity = [member_identity(Member(0, "mlp", 0), d, RecordingConfig(), OptimConfig(), {}, [1.0])
                for d in (plain, extra)]
    assert identity[0]["ood"] == {} and identity[1]["ood"] == {"noise": 20, "stripes": 20}   # not reused: other
    every = load_data(DataConfig(name="synthetic", classes=[0, 1, 2, 3]))
    assert every.fingerprint == plain.fingerprint and not every.ood  # naming every class is no subset
