"""What scripts/bench_label_issues.py uses from the package: average precision, the
stratified folds, the compute matching of the folds, what pacing.end=auto drops, and the flip evidence of scores.
cleanlab is needed only by the last test, which is skipped without it."""

import numpy as np
import pandas as pd
import pytest

from curriculum.analysis.noise_detection import detection, flip_evidence, noise_auroc, peer_rows
from curriculum.analysis.stats import average_precision
from curriculum.data.splits import stratified_folds
from curriculum.schedule.pacing import kept_count
from curriculum.schedule.plan import auto_dropped
from curriculum.study.cross_validation import fold_steps, kept_csv


def test_average_precision_of_a_hand_example():
    # ranked 0.9 (flipped), 0.8, 0.3 (flipped), 0.1: precision 1/1 at the first hit, 2/3 at the second
    assert average_precision([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0]) == pytest.approx((1 / 1 + 2 / 3) / 2)


def test_average_precision_takes_tied_scores_in_together():
    # the two tied at 0.5 enter at once: recall 1/2 -> 2/2 at precision 2/3 (not 1/2 then 2/3 in some order)
    assert average_precision([0.9, 0.5, 0.5, 0.1], [1, 0, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(average_precision([0.3, 0.2], [0, 0]))


def test_average_precision_equals_scikit_learns_with_ties():
    metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn (cleanlab's dependency) is not installed")
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, size=300).astype(float)
    scores[:5] = np.inf
    positive = rng.random(300) < 0.3
    finite = np.where(np.isinf(scores), 1e9, scores)   # scikit-learn refuses inf; the same ranking
    assert average_precision(scores, positive) == pytest.approx(metrics.average_precision_score(positive, finite))


def test_stratified_folds_put_every_example_in_exactly_one_fold_with_the_classes_in_proportion():
    labels = np.repeat(np.arange(5), [101, 37, 50, 8, 3])
    fold = stratified_folds(labels, 4, np.random.default_rng(0))
    assert fold.shape == labels.shape and set(np.unique(fold)) == {0, 1, 2, 3}   # one fold each: disjoint, covering
    sizes = np.bincount(fold, minlength=4)
    assert sizes.sum() == len(labels) and sizes.max() - sizes.min() <= 1
    for c in range(5):
        per_fold = np.bincount(fold[labels == c], minlength=4)
        assert per_fold.max() - per_fold.min() <= 1
    assert np.array_equal(fold, stratified_folds(labels, 4, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="folds=1 must be at least 2"):
        stratified_folds(labels, 1, np.random.default_rng(0))


def test_the_folds_train_as_many_examples_as_the_ensemble():
    # 4 members x 2 epochs x 156 steps of 128 (20000 examples) = 1248 steps; 4 folds of 312 steps each,
    # i.e. 312 x 128 / 15000 = 2.66 epochs of the 3N/4 examples a fold trains on (8/3 before rounding)
    assert fold_steps(20000, members=4, epochs=2, folds=4, batch_size=128) == 312
    assert 4 * 312 * 128 == 4 * 2 * (20000 // 128) * 128
    assert fold_steps(2000, members=4, epochs=1, folds=4, batch_size=128) == 15
    assert fold_steps(1000, members=3, epochs=1, folds=4, batch_size=100) == 8   # 30 / 4 = 7.5 -> 8 (round)


def test_kept_count_drops_float_dust():
    assert kept_count(0.36000000000000004, 1000) == 360 and kept_count(0.3601, 1000) == 361


def test_auto_drops_the_hardest_share_the_histogram_says_is_mislabelled():
    # 23% of the examples lie above the floor (tests/test_pruning.py works it out): the 230 lowest-consensus ones go,
    # all 210 of level 0 and the 20 of level 1's 40 with the smaller margins (ties: the larger margin is kept)
    levels, meta = 8, {"ensemble": [{}] * 2, "checkpoints": [1, 2, 3, 4]}
    counts = [210, 40, 10, 10, 10, 70, 100, 150, 400]
    consensus = np.repeat(np.arange(levels + 1) / levels, counts)
    margin = np.arange(len(consensus), dtype=np.float64)       # within a level, a later example has a larger margin
    dropped = auto_dropped(consensus, margin, np.zeros(len(consensus), dtype=np.int64), meta)
    assert dropped.sum() == 230
    assert dropped[:210].all() and dropped[210:230].all() and not dropped[230:].any()


def test_flip_evidence_puts_never_learned_and_low_consensus_examples_first():
    frame = pd.DataFrame({"consensus": [1.0, 0.9, 0.1, 0.0], "forgetting": [0.0, 0.5, np.inf, np.inf],
                          "learned_epoch": [0.25, 1.0, np.nan, np.nan], "noisy": [False, False, True, True]})
    assert list(flip_evidence(frame, "consensus")) == [-1.0, -0.9, -0.1, 0.0]
    assert list(flip_evidence(frame, "learned_epoch")) == [0.25, 1.0, np.inf, np.inf]   # learned later: likelier
    found = detection(frame, ["consensus", "forgetting", "learned_epoch"], frame["noisy"].to_numpy())
    assert list(found["auroc"]) == [1.0, 1.0, 1.0] and list(found["auprc"]) == [1.0, 1.0, 1.0]
    assert list(noise_auroc(frame)["auroc"]) == [1.0, 1.0, 1.0]


def test_cleanlab_rows_rank_the_examples_whose_label_gets_low_probability_first():
    pytest.importorskip("cleanlab", reason="cleanlab is the optional peer: pip install -e .[bench]")
    import cleanlab.filter  # the submodules the script uses; binds `cleanlab`
    import cleanlab.rank  # noqa: F401
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    noisy = np.zeros(120, bool)
    noisy[::10] = True
    probs = np.full((120, 3), 0.05)
    probs[np.arange(120), np.where(noisy, (labels + 1) % 3, labels)] = 0.9
    probs += rng.uniform(0, 0.01, size=probs.shape)
    probs /= probs.sum(1, keepdims=True)
    quality, flags = peer_rows(cleanlab, probs, labels, noisy, {"wall_s": 1.0, "cpu_s": 2.0, "train_s": 0.5})
    assert quality["auroc"] == 1.0 and (quality["wall_s"], quality["cpu_s"], flags["train_s"]) == (1.0, 2.0, 0.5)
    assert flags["precision"] == 1.0 and flags["recall"] == 1.0 and flags["flagged"] == 12


def test_cleanlabs_verdicts_become_a_csv_that_train_keeps_by_official_index(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import torch

    from curriculum.io.importers import load_external
    from curriculum.schedule.keep import kept_positions

    data = SimpleNamespace(train=SimpleNamespace(index=torch.tensor([5, 7, 9, 11]), y=torch.tensor([0, 1, 1, 0])))
    path = kept_csv(tmp_path / "kept.csv", np.array([True, False, False, True]), data)
    frame = load_external(path)
    assert frame["index"].tolist() == [5, 7, 9, 11] and frame["cleanlab_keep"].tolist() == [0, 1, 1, 0]
    assert frame["label"].tolist() == [0, 1, 1, 0]
    assert kept_positions("cleanlab_keep", np.zeros(4, bool), frame).tolist() == [1, 2]
