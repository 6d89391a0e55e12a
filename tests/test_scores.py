"""Every score on a hand-made ensemble: 2 members, 3 checkpoints at epochs 0.5, 1, 2, 4 examples."""

import numpy as np
import pytest
import torch

from curriculum.scoring.scores import (
    DERIVED,
    EL2N_UNTIL,
    SCORES,
    ScoreAccumulator,
    derive_scores,
    el2n_score,
    forgetting_events,
    learned_epoch,
    orientation,
    rank,
)
from curriculum.statistics import STATISTICS

CHECKPOINTS = np.array([0.5, 1.0, 2.0])
CORRECT = np.array([
    [[1, 0, 1, 0], [1, 1, 0, 0], [1, 1, 1, 0]],   # member 0: example 2 is forgotten once
    [[1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]],   # member 1
], dtype=bool)
PROB = np.zeros((2, 3, 4), np.float16)
PROB[0, :, 0], PROB[1, :, 0] = 0.5, 0.7            # example 0: mean 0.6, pooled std 0.1
MARGIN = np.zeros((2, 3, 4), np.float16)
MARGIN[0, :, 0], MARGIN[1, :, 0] = 1.0, 3.0         # example 0: mean margin 2
MARGIN[:, :, 2] = 0.5                               # breaks the consensus tie of examples 1 and 2


# EL2N: checkpoints 0.5 and 1 count (epochs <= 1), the one at epoch 2 (last row, 1.375) must not
EL2N = np.array([
    [[0.25, 0, 1.0, 1.25], [0.5, 0, 0.0, 1.25], [1.375, 1.375, 1.375, 1.25]],   # member 0
    [[0.75, 0, 0.5, 1.25], [1.0, 0, 0.5, 1.25], [1.375, 1.375, 1.375, 1.25]],   # member 1
], dtype=np.float16)


# Loss: the mean over members and checkpoints; example 0: 0.25, 1: (3 + 6) / 6, 2: (1.5 + 1.5) / 6, 3: 4
LOSS = np.array([
    [[0.25, 1.0, 0.5, 4.0], [0.25, 1.0, 0.0, 4.0], [0.25, 1.0, 1.0, 4.0]],   # member 0
    [[0.25, 2.0, 1.0, 4.0], [0.25, 2.0, 0.5, 4.0], [0.25, 2.0, 0.0, 4.0]],   # member 1
], dtype=np.float16)


def members(**replaced) -> list[dict]:
    """The hand-made ensemble as each member's statistics (name -> (C, N)), with `replaced` ones swapped in."""
    stats = {"correct": CORRECT, "margin": MARGIN, "prob": PROB, "el2n": EL2N, "loss": LOSS} | replaced
    return [{name: values[k] for name, values in stats.items()} for k in range(2)]


def scores(quorum=1.0):
    return derive_scores(members(), CHECKPOINTS, quorum)


def scores_of(**replaced):
    return derive_scores(members(**replaced), CHECKPOINTS)


def test_consensus_is_mean_agreement_over_checkpoints():
    np.testing.assert_allclose(scores()["consensus"], [1, 2 / 3, 2 / 3, 1 / 6])


def test_learned_epoch_is_first_checkpoint_from_which_the_quorum_holds():
    np.testing.assert_equal(scores()["learned_epoch"], [0.5, 1.0, 2.0, np.nan])
    np.testing.assert_equal(scores(quorum=0.5)["learned_epoch"], [0.5, 1.0, 0.5, 2.0])


def test_learned_epoch_ignores_an_early_success_that_is_later_lost():
    a = np.array([[1.0], [0.0], [1.0]])
    assert learned_epoch(a, CHECKPOINTS)[0] == 2.0


def test_forgetting_counts_correct_to_wrong_transitions_per_member():
    assert forgetting_events(CORRECT[0]).tolist() == [0, 0, 1, np.inf]  # example 3: never right in member 0
    np.testing.assert_allclose(scores()["forgetting"], [0, 0, 0.5, np.inf])


def test_confidence_and_variability_pool_members_and_checkpoints():
    s = scores()
    np.testing.assert_allclose(s["confidence"][0], 0.6, atol=1e-3)
    np.testing.assert_allclose(s["variability"][0], 0.1, atol=1e-3)
    np.testing.assert_allclose(s["variability"][1:], 0, atol=1e-6)


def test_margin_is_mean_over_members_and_checkpoints():
    np.testing.assert_allclose(scores()["margin"], [2, 0, 0.5, 0])


def test_rank_orders_by_consensus_and_breaks_ties_by_margin():
    assert scores()["rank"].tolist() == [0, 2, 1, 3]
    assert rank(np.array([0.5, 0.5, 1.0]), np.array([1.0, 2.0, 0.0])).tolist() == [2, 1, 0]


def test_accumulator_memory_does_not_hold_members():
    acc = ScoreAccumulator()
    for member in members():
        acc.add(member)
    assert {name: sums.shape for name, sums in acc.sums.items()} == {name: (4,) for name in acc.NEEDED}
    assert {name: sums.shape for name, sums in acc.per_checkpoint.items()} == {"correct": (3, 4), "el2n": (3, 4)}
    assert {name: folded.shape for name, folded in acc.folds.items()} == {"forgetting": (4,), "variability": (4,)}


def test_members_with_other_checkpoints_are_rejected():
    acc = ScoreAccumulator()
    first, second = members()
    acc.add(first)
    with pytest.raises(ValueError, match="do not match"):
        acc.add({name: values[:2] for name, values in second.items()})


@pytest.mark.parametrize("column", [c for c, s in SCORES.items() if s.direction])
def test_orientation_follows_each_scores_direction(column):
    easiest = 1 if SCORES[column].direction > 0 else 0
    assert np.argmax(orientation(np.array([1.0, 2.0]), column)) == easiest


def test_consensus_and_rank_agree_on_the_easiest_and_hardest_example():
    s = scores()
    for column in ("consensus", "rank", "learned_epoch"):
        oriented = orientation(s[column], column)
        assert np.argmax(oriented) == 0 and np.argmin(oriented) == 3, column


def test_unknown_score_column_lists_the_valid_ones():
    with pytest.raises(ValueError, match="has no known direction; choose one of consensus"):
        orientation(np.zeros(2), "difficulty")


def test_orientation_puts_never_learned_last():
    assert orientation(np.array([1.0, np.nan, 3.0]), "learned_epoch").tolist() == [-1.0, -np.inf, -3.0]


def test_a_never_learned_example_is_the_most_forgettable_and_orders_hardest_by_forgetting():
    # one member, 3 checkpoints: example 0 always right (0 events), example 1 right-wrong-right (1 event),
    # example 2 never right: Toneva et al. count it as forgotten infinitely often, so it is the hardest.
    correct = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 0]], dtype=bool)
    zeros = np.zeros((3, 3), np.float16)
    s = derive_scores([{name: correct if name == "correct" else zeros for name in STATISTICS}], CHECKPOINTS)
    assert s["forgetting"].tolist() == [0, 1, np.inf]
    oriented = orientation(s["forgetting"], "forgetting")
    assert np.argsort(-oriented, kind="stable").tolist() == [0, 1, 2]


def test_variability_has_no_easy_to_hard_direction_and_is_refused_as_an_ordering():
    # low variability is both "always right" (easy) and "always wrong" (hard or mislabelled)
    with pytest.raises(ValueError, match="variability.*no easy-to-hard direction.*confidence"):
        orientation(np.array([0.1, 0.2]), "variability")


@pytest.mark.parametrize("column", ["consensus", "margin", "confidence", "score", "forgetting"])
def test_a_score_column_with_nan_is_refused_naming_how_many(column):
    with pytest.raises(ValueError, match=rf"sampler.score={column!r} has 2 of 3 values missing \(NaN\)"):
        orientation(np.array([0.5, np.nan, np.nan]), column)


def test_never_learned_examples_may_have_nan_learned_epoch_and_order_hardest():
    assert orientation(np.array([1.0, np.nan, 0.5]), "learned_epoch").tolist() == [-1.0, -np.inf, -0.5]


def test_el2n_is_the_mean_over_members_of_the_checkpoints_within_the_first_epoch():
    assert EL2N_UNTIL == 1.0
    s = scores()
    # example 0: (0.25 + 0.5 + 0.75 + 1.0) / 4; example 2: (1 + 0 + 0.5 + 0.5) / 4; the epoch-2 row is left out
    np.testing.assert_allclose(s["el2n"], [0.625, 0, 0.5, 1.25])
    np.testing.assert_allclose(el2n_score(EL2N.astype(float).mean(axis=0), CHECKPOINTS, until=2.0),
                               [(0.625 * 4 + 2.75) / 6, 2.75 / 6, (2 + 2.75) / 6, 1.25])


def test_el2n_orders_a_high_error_example_as_hard():
    oriented = orientation(scores()["el2n"], "el2n")
    assert np.argsort(-oriented, kind="stable").tolist() == [1, 2, 0, 3]   # easiest (lowest EL2N) first


def test_loss_is_the_mean_cross_entropy_over_members_and_checkpoints_and_lower_is_easier():
    s = scores()
    np.testing.assert_allclose(s["loss"], [0.25, 1.5, 0.5, 4.0])
    assert np.argsort(-orientation(s["loss"], "loss"), kind="stable").tolist() == [0, 2, 1, 3]   # easiest first


def test_loss_of_members_unsure_between_two_classes_is_ln_2():
    from curriculum.statistics import example_stats

    recorded = example_stats(torch.zeros(3, 2), torch.tensor([0, 1, 0]))["loss"].numpy()   # logits [0, 0]: ln 2
    loss = np.tile(recorded.astype(np.float16), (2, 3, 1))[:, :, [0, 1, 2, 0]]                # (members, C, N)
    np.testing.assert_allclose(scores_of(loss=loss)["loss"], np.log(2), atol=1e-3)             # float16 storage


def test_members_without_a_statistic_a_score_needs_are_refused_naming_it():
    first, _ = members()
    del first["el2n"]
    with pytest.raises(ValueError, match="member dynamics lack el2n; the scores need"):
        ScoreAccumulator().add(first)


def test_the_imported_columns_keep_their_direction_and_are_never_derived():
    assert (SCORES["score"].direction, SCORES["cscore"].direction) == (+1, +1)
    assert "score" not in DERIVED and "cscore" not in DERIVED


@pytest.mark.parametrize("name", DERIVED)
def test_every_derived_score_is_one_value_per_example_from_recorded_statistics(name):
    score = SCORES[name]
    assert set(score.per_checkpoint) <= set(score.needs) <= set(STATISTICS) and score.needs and score.meaning
    assert score.direction in (-1, 0, 1)
    assert scores()[name].shape == (4,)
