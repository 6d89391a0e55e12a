"""Agreement between architecture families on hand-made members whose answers are worked out by hand."""

import json

import numpy as np
import pytest

from curriculum.analysis.families import correctness_agreement, family_agreement


def test_correctness_agreement_and_kappa_by_hand():
    # a right on 2 of 4, b on 1 of 4; alike on 3 of 4. Independent: 0.5 x 0.25 + 0.5 x 0.75 = 0.5; kappa 0.25 / 0.5
    observed, expected, kappa = correctness_agreement(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0]))
    assert (observed, expected, kappa) == (0.75, 0.5, 0.5)
    assert correctness_agreement(np.array([1, 0, 1, 0]), np.array([1, 0, 1, 0]))[2] == 1.0     # identical
    assert correctness_agreement(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))[2] == 0.0     # as if independent


def test_family_pairs_average_their_member_pairs_and_come_same_family_first():
    # members: mlp, mlp, cnn. Speeds: the two mlps rank 4 examples alike (Spearman 1), the cnn exactly reversed (-1).
    speed = np.array([[0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.4, 0.5], [0.4, 0.3, 0.2, 0.1]])
    final = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=bool)
    table = family_agreement(speed, final, ["mlp", "mlp", "cnn"]).set_index(["family_a", "family_b"])
    assert table.index.tolist() == [("mlp", "mlp"), ("cnn", "mlp")]
    assert table.loc[("mlp", "mlp"), ["pairs", "spearman", "agreement", "kappa"]].tolist() == [1, 1.0, 1.0, 1.0]
    across = table.loc[("cnn", "mlp")]
    assert across["pairs"] == 2 and across["spearman"] == pytest.approx(-1.0)
    assert (across["agreement"], across["agreement_independent"], across["kappa"]) == (0.75, 0.5, 0.5)


@pytest.mark.slow
def test_analyze_reports_the_families_of_a_mixed_ensemble(tmp_path, store):
    import pandas as pd
    from conftest import run_cli

    run_cli("score", "data=synthetic", "device=cpu", "epochs=1", "ensemble.size=4", "ensemble.models=[cnn,mlp]",
            f"out_dir={tmp_path / 'score'}", f"mlflow.tracking_uri={store}")
    report = run_cli("analyze", f"scores={tmp_path / 'score'}", f"out_dir={tmp_path / 'an'}",
                     f"mlflow.tracking_uri={store}").stdout
    table = pd.read_csv(tmp_path / "an" / "families.csv")
    assert list(zip(table["family_a"], table["family_b"], table["pairs"])) == [("cnn", "cnn", 1), ("mlp", "mlp", 1),
                                                                                ("cnn", "mlp", 4)]
    assert table["agreement"].between(0, 1).all() and "| cnn – mlp | 4 |" in report
    assert table["cka"].between(0, 1).all() and "linear CKA" in report    # every member kept its final weights
    assert sorted(p.name for p in (tmp_path / "an").glob("gallery-*.png")) == [f"gallery-{c}.png" for c in range(4)]

    import torch

    from curriculum.scoring.dynamics import load_member, weights_path
    member = tmp_path / "score" / "dynamics" / "member-1.npz"
    spec = torch.load(weights_path(member), weights_only=True)             # plain tensors and strings only
    assert spec["arch"] == "mlp" and json.loads(spec["identity"]) == load_member(member).identity
    torch.save(spec | {"identity": "{}"}, weights_path(member))           # weights of some other run
    report = run_cli("analyze", f"scores={tmp_path / 'score'}", f"out_dir={tmp_path / 'an2'}",
                     f"mlflow.tracking_uri={store}").stdout
    assert "member-1.weights.pt was saved by another run than member-1.npz" in report
    table = pd.read_csv(tmp_path / "an2" / "families.csv").set_index(["family_a", "family_b"])
    assert np.isnan(table.loc[("mlp", "mlp"), "cka"]) and table.loc[("cnn", "cnn"), "cka"] > 0   # only its pairs lost


def test_the_representation_similarity_of_each_family_pair_is_the_mean_cka_of_its_member_pairs():
    speed = np.array([[0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.4, 0.5], [0.4, 0.3, 0.2, 0.1]])
    final = np.ones((3, 4), dtype=bool)
    cka = np.array([[np.nan, 0.9, 0.2], [0.9, np.nan, np.nan], [0.2, np.nan, np.nan]])   # member 1 - 2: no weights
    table = family_agreement(speed, final, ["mlp", "mlp", "cnn"], cka).set_index(["family_a", "family_b"])
    assert table.loc[("mlp", "mlp"), "cka"] == 0.9 and table.loc[("cnn", "mlp"), "cka"] == 0.2   # the pair it has
    assert "cka" not in family_agreement(speed, final, ["mlp", "mlp", "cnn"]).columns


def test_a_pair_without_kappa_does_not_erase_its_familys_mean():
    # three mlps: members 0 and 1 right on both examples (no kappa: nothing left to agree on), pairs 0-2 and 1-2
    # have kappa 0 (observed 1/2, independent 1 x 1/2 + 0 x 1/2 = 1/2): the family's kappa is 0 over 2 pairs
    # Spearman: 0-1 both rising (+1), 0-2 and 1-2 opposite (-1, -1): mean -1/3
    final = np.array([[1, 1], [1, 1], [1, 0]], dtype=bool)
    speed = np.array([[0.1, 0.2], [0.2, 0.3], [0.3, 0.1]])
    row = family_agreement(speed, final, ["mlp"] * 3).iloc[0]
    assert row["pairs"] == 3 and row["kappa"] == 0.0 and row["kappa_std"] == 0.0
    assert row["spearman"] == pytest.approx(-1 / 3) and row["spearman_std"] == pytest.approx(np.std([1, -1, -1], ddof=1))
