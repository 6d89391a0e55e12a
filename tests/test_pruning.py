"""pacing.end=auto: the share of mislabelled examples, estimated from the consensus histogram alone."""

import numpy as np
import pytest

from curriculum.errors import UserError
from curriculum.schedule.pruning import consensus_levels, estimate_clean_fraction, estimate_mislabelled_share


def _consensus(counts: list[int], levels: int) -> np.ndarray:
    """Examples at each consensus level 0/levels .. levels/levels, `counts[l]` of them at level l."""
    return np.repeat(np.arange(levels + 1) / levels, counts)


def test_a_flat_floor_of_hard_clean_examples_is_not_counted_as_mislabelled():
    # 8 levels: 10 examples at every level 0..4 (hard but clean, a flat floor), then the easy bulk.
    # floor = median of levels 2..4 = 10; excess below level 4 = 0 everywhere -> 0 mislabelled.
    cons = _consensus([10, 10, 10, 10, 10, 50, 100, 200, 600], 8)
    assert estimate_mislabelled_share(cons, 8) == 0.0


def test_the_excess_over_the_floor_at_low_consensus_is_the_mislabelled_share():
    # 8 levels, 1000 examples. Levels 0..3 hold 210, 40, 10, 10; floor = median(h[2], h[3], h[4]) = 10.
    # excess = (210 - 10) + (40 - 10) + 0 + 0 = 230 of 1000 -> 0.23.
    cons = _consensus([210, 40, 10, 10, 10, 70, 100, 150, 400], 8)
    assert estimate_mislabelled_share(cons, 8) == pytest.approx(0.23)


def test_consensus_levels_come_from_the_files_members_and_checkpoints():
    assert consensus_levels({"ensemble": [{}] * 4, "checkpoints": [1, 2, 3, 4, 5]}) == 20


def test_auto_refuses_scores_without_the_ensemble_behind_them():
    with pytest.raises(UserError, match="pacing.end=auto needs consensus scores written by"):
        estimate_clean_fraction(np.array([0.0, 0.5, 1.0]), {"source": "external"})


def test_auto_refuses_a_histogram_without_a_floor_instead_of_keeping_nothing():
    # every example at consensus 0: floor = median(h[2..4]) = 0, excess = 1 -> nothing would be kept
    with pytest.raises(UserError, match="no floor"):
        estimate_clean_fraction(np.zeros(100), {"ensemble": [{}] * 2, "checkpoints": [1, 2, 3, 4]})


def test_auto_refuses_values_outside_zero_to_one_and_too_few_levels():
    meta8 = {"ensemble": [{}] * 2, "checkpoints": [1, 2, 3, 4]}
    with pytest.raises(UserError, match=r"in \[0, 1\]"):
        estimate_clean_fraction(np.array([-0.5, 1.0]), meta8)
    with pytest.raises(UserError, match="at least 4 consensus levels"):
        estimate_clean_fraction(np.array([0.0, 1.0]), {"ensemble": [{}], "checkpoints": [1, 2]})


def test_a_clean_histogram_keeps_everything():
    # the flat-floor example above, as a clean fraction: 1 - 0 = 1
    meta8 = {"ensemble": [{}] * 2, "checkpoints": [1, 2, 3, 4]}
    assert estimate_clean_fraction(_consensus([10, 10, 10, 10, 10, 50, 100, 200, 600], 8), meta8) == 1.0
