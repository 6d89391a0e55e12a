"""Confident learning (curriculum/scoring/confident.py) on hand-made out-of-fold probabilities, every number worked
out by hand in the comments; and once against cleanlab's own functions on a seeded random matrix."""

import numpy as np
import pytest

from curriculum.errors import UserError
from curriculum.scoring.confident import (
    agreement_warning, chance_warning, check_class_sizes, confident_class, confident_learning, label_issue_columns, prune_by_noise_rate,
    suggested_labels)

# 8 examples, 3 classes. e2 is labelled 0 but looks like 1; e7 is labelled 2 but looks like 0; e5 is ambiguous.
LABELS = np.array([0, 0, 0, 1, 1, 1, 2, 2])
PROBS = np.array([[0.8, 0.1, 0.1],    # e0
                  [0.7, 0.2, 0.1],    # e1
                  [0.0, 0.9, 0.1],    # e2
                  [0.1, 0.8, 0.1],    # e3
                  [0.2, 0.7, 0.1],    # e4
                  [0.3, 0.3, 0.4],    # e5
                  [0.1, 0.1, 0.8],    # e6
                  [0.6, 0.0, 0.4]])   # e7


def test_the_confident_class_is_the_most_probable_of_those_that_reach_their_threshold():
    # thresholds .25, .2, .5: row 0 reaches classes 0 (.3) and 1 (.25), not 2 (.45 < .5): the most probable of
    # those is 0, although 2 is the most probable overall (cleanlab 2.9 takes 2 here: its global argmax whenever two
    # or more classes reach theirs); row 1 reaches only class 1; row 2 reaches none
    probs = np.array([[0.3, 0.25, 0.45], [0.1, 0.6, 0.3], [0.2, 0.1, 0.4]])
    assert confident_class(probs, np.array([0.25, 0.2, 0.5])).tolist() == [0, 1, -1]


def test_thresholds_joint_estimate_flags_and_suggested_labels_of_a_hand_example():
    found = confident_learning(PROBS, LABELS)
    # t0 = (0.8 + 0.7 + 0.0) / 3 = 0.5; t1 = (0.8 + 0.7 + 0.3) / 3 = 0.6; t2 = (0.8 + 0.4) / 2 = 0.6
    assert found.thresholds == pytest.approx([0.5, 0.6, 0.6])
    # confident classes: e0 0 (0.8 >= 0.5), e1 0, e2 1 (0.9 >= 0.6), e3 1, e4 1, e5 none (0.3 < 0.5, 0.3 < 0.6,
    # 0.4 < 0.6), e6 2, e7 0 (0.6 >= 0.5; 0.4 < 0.6). Rows = given label, columns = confident class:
    assert found.joint.tolist() == [[2, 1, 0],    # e0, e1 -> 0; e2 -> 1
                                    [0, 2, 0],    # e3, e4 -> 1; e5 counts nowhere
                                    [1, 0, 1]]    # e7 -> 0; e6 -> 2
    # calibrated: row i / its sum * (n_i / N), n = (3, 3, 2), N = 8:
    # row 0: (2, 1, 0) / 3 * 3/8; row 1: (0, 2, 0) / 2 * 3/8; row 2: (1, 0, 1) / 2 * 2/8
    assert found.estimate == pytest.approx(np.array([[2 / 8, 1 / 8, 0], [0, 3 / 8, 0], [1 / 8, 0, 1 / 8]]))
    assert found.share == pytest.approx(0.25)      # 1 - (2/8 + 3/8 + 1/8)
    # N * Q off the diagonal: 1 labelled 0 that is truly 1, 1 labelled 2 that is truly 0.
    # (0 -> 1): largest p1 - p0 among e0 (-0.7), e1 (-0.5), e2 (+0.9): e2. (2 -> 0): p0 - p2 of e6 -0.7, e7 +0.2: e7
    assert np.flatnonzero(found.flags).tolist() == [2, 7]
    # e2 -> its confident class 1, e7 -> 0; the ambiguous e5 is not flagged and keeps 1
    assert found.suggested.tolist() == [0, 0, 1, 1, 1, 1, 2, 0]
    assert found.confidence == pytest.approx([0.8, 0.7, 0.0, 0.8, 0.7, 0.3, 0.8, 0.4])   # p of the given label


def test_an_example_whose_most_probable_class_is_its_label_is_never_flagged():
    labels = np.array([0, 0, 0])
    probs = np.array([[0.2, 0.8], [0.6, 0.4], [0.9, 0.1]])
    # two labelled 0 are estimated truly 1: the largest p1 - p0 are e0 (+0.6) and e1 (-0.2); e1 predicts 0, its label
    flags = prune_by_noise_rate(probs, labels, np.array([[1, 2], [0, 0]]))
    assert flags.tolist() == [True, False, False]


def test_a_flagged_example_keeps_its_label_when_it_has_no_other_confident_class():
    labels = np.array([0, 1, 2, 2])
    flags = np.array([True, True, True, False])
    confident = np.array([-1, 1, 0, 1])    # none; its own label; another class; another class but not flagged
    assert suggested_labels(labels, flags, confident).tolist() == [0, 1, 0, 2]


def test_the_columns_and_meta_a_folds_score_run_writes():
    # the hand example 5 times over: 15, 15 and 10 examples per class, so every class has the 5 a threshold needs.
    # Same thresholds and estimate; N * Q = 40 * (1/8 off the diagonal) = 5 copies of e2 and of e7 flagged
    columns, meta = label_issue_columns(np.tile(PROBS, (5, 1)), np.tile(LABELS, 5))
    flagged = np.tile([0, 0, 1, 0, 0, 0, 0, 1], 5)
    assert columns["label_issue"].tolist() == flagged.tolist()
    assert columns["cl_keep"].tolist() == (1 - flagged).tolist()
    assert columns["suggested_label"].tolist() == np.tile([0, 0, 1, 1, 1, 1, 2, 0], 5).tolist()
    assert columns["oof_confidence"] == pytest.approx(np.tile(PROBS[np.arange(8), LABELS], 5))
    issues = meta["label_issues"]
    assert issues["method"] == "confident learning" and issues["estimated_share"] == pytest.approx(0.25)
    assert issues["flagged"] == 10 and issues["relabelled"] == 10
    # accuracy: argmax equals the label for e0, e1, e3, e4, e6 = 5 of 8 against chance 3/8: no warning
    assert issues["oof_accuracy"] == pytest.approx(5 / 8) and issues["warning"] is None


def test_a_class_with_fewer_than_five_examples_is_refused_in_one_line():
    check_class_sizes([0] * 5 + [1] * 5, 2)
    with pytest.raises(UserError, match="class 1 has 4 .*no reliable estimate"):
        check_class_sizes([0] * 5 + [1] * 4, 2)
    with pytest.raises(UserError, match="class 2 has 0"):
        label_issue_columns(np.full((10, 3), 1 / 3), [0] * 5 + [1] * 5)


def test_accuracy_barely_above_chance_warns():
    labels = np.array([0, 0, 1, 1])
    # argmax 0, 1, 0, 1: accuracy 2/4 = chance (the larger class's share, 2/4): less than 0.1 of the way to 1
    assert "barely above chance (0.500)" in chance_warning(np.array([[.9, .1], [.1, .9], [.9, .1], [.1, .9]]), labels)
    # argmax 0, 0, 0, 1: accuracy 3/4, 0.25 above chance >= 0.1 * (1 - 0.5): no warning
    assert chance_warning(np.array([[.9, .1], [.9, .1], [.9, .1], [.1, .9]]), labels) is None


def test_bad_inputs_are_one_line():
    with pytest.raises(UserError, match=r"shapes \(8, 3\) and \(7,\)"):
        confident_learning(PROBS, LABELS[:7])
    with pytest.raises(UserError, match="integer labels in 0..2"):
        confident_learning(PROBS, LABELS + 1)
    with pytest.raises(UserError, match=r"probabilities in \[0, 1\]"):
        confident_learning(PROBS * np.nan, LABELS)


def test_the_estimate_joint_and_flags_are_cleanlabs_on_a_seeded_random_matrix():
    cleanlab_count = pytest.importorskip("cleanlab.count")
    cleanlab_filter = pytest.importorskip("cleanlab.filter")
    rng = np.random.default_rng(1)
    n, k = 300, 4
    truth = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), truth] += 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = truth.copy()
    flipped = rng.random(n) < 0.25
    labels[flipped] = (labels[flipped] + rng.integers(1, k, flipped.sum())) % k
    found = confident_learning(probs, labels)
    assert np.array_equal(found.joint, cleanlab_count.compute_confident_joint(labels, probs, calibrate=False))
    # cleanlab rounds the calibrated joint to counts: each row's rounding moves the off-diagonal by < 1 example
    theirs = 1 - np.trace(cleanlab_count.estimate_joint(labels, probs))
    assert abs(found.share - theirs) <= k / n
    assert abs(round(found.share * n) - cleanlab_count.num_label_issues(
        labels, probs, estimation_method="off_diagonal_calibrated")) <= k
    assert np.array_equal(found.flags, cleanlab_filter.find_label_issues(labels, probs))


def test_training_labels_that_agree_with_the_models_more_than_the_test_labels_warn():
    # out-of-fold accuracy on the training labels .911 against .85 on the test split: .911 > .85 + .02, warned;
    # .86 is within the margin (.86 <= .87), and without a test split there is nothing to compare
    assert "more than with the test labels (0.911 vs 0.850)" in agreement_warning(0.911, 0.85)
    assert agreement_warning(0.86, 0.85) is None and agreement_warning(0.99, None) is None
    # label_issue_columns carries it: 8 examples, argmax right on 5 of 8 (LABELS, PROBS above), test accuracy .5
    meta = label_issue_columns(np.tile(PROBS, (5, 1)), np.tile(LABELS, 5), test_accuracy=0.5)[1]["label_issues"]
    assert meta["test_accuracy"] == 0.5 and "instance-dependent noise" in meta["warning"]
