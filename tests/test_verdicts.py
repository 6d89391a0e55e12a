"""The verdicts of the studies' claims, typed, on hand-made tables whose answers are worked out by hand."""

import pandas as pd
import pytest

from curriculum.analysis.verdicts import (Holds, families_verdict, ood_verdict, oracle_share, representation_verdict,
                                          subspace_verdict, tpa_verdict)


def families_table():
    rows = [("cnn", "cnn", "same family", 0.9, 0.8), ("mlp", "mlp", "same family", 0.95, 0.7),
            ("cnn", "mlp", "across families", 0.7, 0.6), ("cnn_gap", "mlp", "across families", 0.8, 0.5)]
    return pd.DataFrame([{"family_a": a, "family_b": b, "kind": k, "pairs": 3, "spearman": sp, "agreement": 0.9,
                          "agreement_independent": 0.5, "kappa": kappa, "cka": kappa + 0.1}
                         for a, b, k, sp, kappa in rows]).set_index(["family_a", "family_b"])


def test_the_families_verdict_holds_in_part_when_some_measures_disagree():
    families = families_table()
    verdict = families_verdict(families.loc[("cnn", "mlp")], families.loc[("cnn_gap", "mlp")],
                               ["spearman", "kappa", "cka"])
    # cnn-mlp is closer by kappa (0.6 > 0.5) and CKA (0.7 > 0.6), not by Spearman (0.7 < 0.8)
    assert verdict.holds is Holds.PARTLY
    assert verdict.by == ("kappa", "cka") and verdict.not_by == ("spearman",)
    assert verdict.evidence["kappa/cnn"] == 0.6 and verdict.evidence["kappa/cnn_gap"] == 0.5
    assert verdict.evidence["spreads_overlap"] == 0.0                     # no stds given: no spreads


def test_the_families_verdict_holds_by_every_measure_and_sees_overlapping_spreads():
    cnn = pd.Series({"spearman": 0.66, "spearman_std": 0.05, "kappa": 0.7})
    gap = pd.Series({"spearman": 0.62, "spearman_std": 0.06, "kappa": 0.5})   # |0.04| < 0.05 + 0.06: overlap
    verdict = families_verdict(cnn, gap, ["spearman", "kappa"])
    assert verdict.holds is Holds.HOLDS and verdict.not_by == () and verdict.evidence["spreads_overlap"] == 1.0
    assert families_verdict(gap, cnn, ["spearman", "kappa"]).holds is Holds.DOES_NOT_HOLD


def test_the_representation_verdict_does_not_hold_when_every_same_family_cka_reaches_its_kappa():
    same = families_table().reset_index().query("kind == 'same family'")   # CKA 0.9, 0.8 >= kappa 0.8, 0.7
    verdict = representation_verdict(same)
    assert verdict.holds is Holds.DOES_NOT_HOLD
    assert verdict.evidence == pytest.approx({"cka_min": 0.8, "cka_max": 0.9, "kappa_min": 0.7, "kappa_max": 0.8})
    below = same.assign(cka=[0.9, 0.6])                                      # mlp-mlp: 0.6 < kappa 0.7
    assert representation_verdict(below).holds is Holds.HOLDS


def match_rows(shares: dict) -> pd.DataFrame:
    """match_summary rows of same-family pairs: (family, layer) -> share at epsilon 0.2 and 0.5 (0.5: the lenient)."""
    return pd.DataFrame([{"family_a": f, "family_b": f, "kind": "same family", "layer": layer, "epsilon": eps,
                          "share": share} for (f, layer), pair in shares.items() for eps, share in zip((0.2, 0.5), pair)])


def test_the_subspace_verdict_reads_the_most_lenient_epsilon_against_half():
    # at 0.5: cnn conv1 0.3 and mlp fc1 0.45 are below half, cnn penultimate 0.6 is not; at 0.2 all are below
    same = match_rows({("cnn", "conv1"): (0.1, 0.3), ("cnn", "penultimate"): (0.2, 0.6), ("mlp", "fc1"): (0.0, 0.45)})
    verdict = subspace_verdict(same)
    assert verdict.holds is Holds.PARTLY
    assert verdict.by == ("cnn conv1", "mlp fc1") and verdict.not_by == ("cnn penultimate",)
    assert verdict.evidence == pytest.approx({"epsilon": 0.5, "share_min": 0.3, "share_max": 0.6, "layers": 3,
                                              "layers_below": 2})
    assert subspace_verdict(same[same["layer"] != "penultimate"]).holds is Holds.HOLDS
    assert subspace_verdict(same[same["layer"] == "penultimate"]).holds is Holds.DOES_NOT_HOLD


def test_the_ood_verdict_needs_agreement_above_independence_on_every_split():
    last = pd.DataFrame({"split": ["noise", "stripes"], "unanimous": [0.3, 0.2], "unanimous_independent": [0.1, 0.2]})
    late = pd.DataFrame({"same_class_both": [10, 5], "independent": [4.0, 2.0]})
    verdict = ood_verdict(last, late)
    assert verdict.holds is Holds.DOES_NOT_HOLD                             # stripes: 0.2 is not above 0.2
    assert verdict.by == ("families",) and verdict.evidence["noise/unanimous"] == 0.3
    holds = ood_verdict(last.assign(unanimous=[0.3, 0.25]), late.assign(independent=[4.0, 6.0]))
    assert holds.holds is Holds.HOLDS and holds.not_by == ("families",)    # 5 < 6: not shared on every split


def test_the_tpa_verdict_follows_the_sign_of_the_correlation():
    rising = pd.DataFrame({"mean_acc": [0.7, 0.8, 0.9], "tpa": [0.5, 0.6, 0.7]})
    assert tpa_verdict(rising).holds is Holds.HOLDS and tpa_verdict(rising).evidence["pearson"] == pytest.approx(1)
    falling = rising.assign(tpa=[0.7, 0.6, 0.5])
    assert tpa_verdict(falling).holds is Holds.DOES_NOT_HOLD and tpa_verdict(falling).evidence["ensembles"] == 3


def test_the_label_noise_study_shares_of_the_oracles_gain_by_hand():
    """standard [.80, .82], oracle [.90, .92]: the oracle gains .10 on both seeds; an arm at [.85, .86] gains .05 and
    .04, mean .045: 45% of the oracle's gain. Seed 2 (oracle only) does not count. An oracle that gains nothing
    has no share."""
    standard = pd.Series([.80, .82], index=[0, 1])
    oracle = pd.Series([.90, .92, .99], index=[0, 1, 2])
    arm = pd.Series([.85, .86], index=[0, 1])
    share, gain = oracle_share(standard, oracle, arm)
    assert share == pytest.approx(0.45) and gain == pytest.approx(0.10)
    assert oracle_share(standard, standard, arm) == (None, 0.0)
