"""The statistics behind compare's table: exact t quantiles and the mean accuracy over a learning curve."""

import pytest

from curriculum.analysis.comparison import curve_mean, paired_difference
from curriculum.analysis.stats import t975


@pytest.mark.parametrize("df, quantile", [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (40, 2.021), (200, 1.972)])
def test_t_quantile_matches_the_tables_for_small_and_large_samples(df, quantile):
    assert t975(df) == pytest.approx(quantile, abs=5e-4)


def test_paired_interval_of_41_seeds_uses_t_not_the_normal_quantile():
    import pandas as pd

    d = pd.Series([0.0, 1.0] * 20 + [0.5])  # 41 differences: mean 0.5, squares 40 * 0.25 = 10, sd sqrt(10 / 40) = 0.5
    mean, low, high, pairs = paired_difference(d, pd.Series(0.0, index=d.index))
    assert (mean, pairs) == (0.5, 41)
    assert high - mean == pytest.approx(2.021 * 0.5 / 41 ** 0.5, rel=1e-3)


def test_curve_mean_of_a_three_point_curve_by_hand():
    # evaluations at steps 10, 20, 40: trapezoids 10 * (0.5 + 0.7) / 2 = 6 and 20 * (0.7 + 0.6) / 2 = 13,
    # over the 30 steps from the first evaluation to the last: 19 / 30
    assert curve_mean([10, 20, 40], [0.5, 0.7, 0.6]) == pytest.approx(19 / 30)


def test_curve_mean_of_one_evaluation_is_that_accuracy():
    assert curve_mean([100], [0.8]) == 0.8
