"""Agreement analysis on hand-made correctness: TPA, the independence baseline, histograms, AUROC."""

import numpy as np
import pandas as pd
import pytest

from curriculum.analysis.agreement import agreement_rows, poisson_binomial, tpa, tpa_independent
from curriculum.analysis.noise_detection import noise_auroc
from curriculum.analysis.order_stability import order_stability
from curriculum.analysis.stats import auroc, spearman


def test_poisson_binomial_by_hand():
    # two members right with probability 0.5 and 0.8: P(0)=0.1, P(1)=0.5, P(2)=0.4
    np.testing.assert_allclose(poisson_binomial([0.5, 0.8]), [0.1, 0.5, 0.4])


def test_tpa_counts_all_right_over_any_right():
    count = np.array([2, 2, 1, 0, 1])  # members right per example, 2 members
    assert tpa(count, 2) == pytest.approx(2 / 4)
    # independent members at 0.5 and 0.8: 0.4 / (1 - 0.5 * 0.2)
    assert tpa_independent([0.5, 0.8]) == pytest.approx(0.4 / 0.9)


def test_agreement_rows_give_histograms_and_baselines():
    # 2 members, 1 checkpoint, 4 examples: member 0 right on 0,1; member 1 right on 0,1,2
    count = np.array([[2, 2, 1, 0]])
    accuracy = np.array([[0.5], [0.75]])
    (row,) = agreement_rows(count, accuracy, np.array([1.0]), "train")
    assert row["histogram"] == [0.25, 0.25, 0.5]
    np.testing.assert_allclose(row["histogram_independent"], [0.5 * 0.25, 0.5 * 0.25 + 0.5 * 0.75, 0.5 * 0.75])
    assert (row["all_right"], row["none_right"]) == (0.5, 0.25)
    assert row["tpa"] == pytest.approx(2 / 3) and row["mean_acc"] == 0.625


def test_auroc_against_a_known_mask():
    assert auroc(np.array([0.9, 0.8, 0.3, 0.1]), np.array([True, True, False, False])) == 1.0
    assert auroc(np.array([0.9, 0.2, 0.3, 0.1]), np.array([True, True, False, False])) == 0.75
    assert auroc(np.ones(4), np.array([True, False, True, False])) == 0.5  # ties count half


def test_noise_auroc_turns_every_score_into_hardness():
    scores = pd.DataFrame({"consensus": [1.0, 0.9, 0.1, 0.2], "learned_epoch": [0.5, 1.0, np.nan, 3.0],
                           "noisy": [False, False, True, True]})
    table = noise_auroc(scores).set_index("score")["auroc"]
    assert table["consensus"] == 1.0 and table["learned_epoch"] == 1.0
    assert noise_auroc(scores.assign(noisy=False)) is None


def test_order_stability_separates_same_and_cross_architecture_pairs():
    speed = np.array([[0.1, 0.5, 0.9], [0.2, 0.4, 1.0], [0.9, 0.5, 0.1]])
    table = order_stability(speed, ["cnn", "cnn", "mlp"])
    same = table[table["kind"] == "same_arch"]["spearman"]
    cross = table[table["kind"] == "cross_arch"]["spearman"]
    assert same.tolist() == [1.0] and cross.tolist() == [-1.0, -1.0]
    assert spearman([1, 2, 3], [3, 2, 1]) == -1.0


# 4 members x 4 examples; ranks of each member: [1,2,3,4], [4,1,3,2], [1,3,2,4], [1,3,2,4]
SPEED = np.array([[0.0, 0.2, 0.4, 0.7], [0.8, 0.1, 0.5, 0.3], [0.1, 0.6, 0.3, 0.9], [0.0, 0.3, 0.2, 0.8]])


def test_split_half_and_growing_ensembles_correlate_disjoint_members_only():
    table = order_stability(SPEED, ["cnn"] * 4)
    assert set(table["kind"]) == {"same_arch", "split_half", "m_vs_m"}
    # halves alternate members: 0+2 = [0.1, 0.8, 0.7, 1.6] (ranks 1,3,2,4) vs 1+3 = [0.8, 0.4, 0.7, 1.1] (ranks 3,1,2,4):
    # d = [-2, 2, 0, 0], rho = 1 - 6 * 8 / (4 * 15) = 0.2
    (split,) = table[table["kind"] == "split_half"]["spearman"]
    assert split == pytest.approx(0.2)
    grow = table[table["kind"] == "m_vs_m"]
    # m=1: member 0 (ranks 1,2,3,4) vs member 1 (4,1,3,2): d = -3, 1, 0, 2, sum d^2 = 14, rho = 1 - 84/60 = -0.4;
    # m=2: the split halves again, 0.2
    assert grow["a"].tolist() == ["member 0", "members 0,2"] and grow["b"].tolist() == ["member 1", "members 1,3"]
    np.testing.assert_allclose(grow["spearman"], [-0.4, 0.2])


def test_halves_of_a_mixed_ensemble_hold_both_architectures():
    table = order_stability(SPEED, ["cnn", "mlp", "cnn", "mlp"])
    split = table[table["kind"] == "split_half"].iloc[0]
    assert (split["a"], split["b"]) == ("members 0,1", "members 2,3")
    # 0+1 = [0.8, 0.3, 0.9, 1.0] (ranks 2,1,3,4) vs 2+3 = [0.1, 0.9, 0.5, 1.7] (1,3,2,4): sum d^2 = 6, rho = 0.4
    assert split["spearman"] == pytest.approx(0.4)
    # m=1 compares the two cnn members 0 and 2: ranks (1,2,3,4) vs (1,3,2,4): sum d^2 = 2, rho = 0.8
    first = table[table["kind"] == "m_vs_m"].iloc[0]
    assert (first["a"], first["b"], first["spearman"]) == ("member 0", "member 2", pytest.approx(0.8))


def test_a_two_member_ensemble_still_gets_its_disjoint_figures():
    table = order_stability(SPEED[:2], ["cnn", "cnn"])
    pair = spearman(SPEED[0], SPEED[1])  # ranks [1,2,3,4] vs [4,1,3,2]: sum d^2 = 9 + 1 + 0 + 4 = 14, rho -0.4
    assert pair == pytest.approx(-0.4)
    assert table.set_index("kind")["spearman"].to_dict() == pytest.approx(
        {"same_arch": pair, "split_half": pair, "m_vs_m": pair})
