"""alsel.evidence.stats against numbers worked out by hand (textbook formulas, not scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alsel.evidence.stats import holm, log_hours_auc, paired_test, t_interval
from alsel.loop.costs import cost_columns


def test_t_interval_of_one_to_five():
    # mean 3, s = sqrt(2.5), se = s / sqrt(5) = sqrt(0.5); t(0.975, 4) = 2.7764 (t-table)
    iv = t_interval([1, 2, 3, 4, 5])
    half = 2.776445 * math.sqrt(0.5)
    assert iv.n == 5 and iv.mean == 3
    assert iv.low == pytest.approx(3 - half, abs=1e-5) and iv.high == pytest.approx(3 + half, abs=1e-5)


def test_t_interval_with_two_degrees_of_freedom_uses_the_closed_form_quantile():
    # df = 2: the t quantile is (2q - 1) / sqrt(2 q (1 - q)); q = 0.95 for a 90% interval
    q = 0.95
    t = (2 * q - 1) / math.sqrt(2 * q * (1 - q))
    iv = t_interval([1.0, 2.0, 4.0], level=0.90)
    se = math.sqrt(7 / 3) / math.sqrt(3)
    assert iv.low == pytest.approx(7 / 3 - t * se, rel=1e-9)
    assert iv.high == pytest.approx(7 / 3 + t * se, rel=1e-9)


def test_one_seed_has_no_interval():
    iv = t_interval([4.0])
    assert iv.mean == 4.0 and math.isnan(iv.low) and math.isnan(iv.high)


def test_paired_t_and_wilcoxon_on_three_seeds():
    # d = reference - other = [1, 2, 4]: mean 7/3, s^2 = 7/3, t = (7/3) / sqrt(7/9) = sqrt(7).
    # df = 2: P(|T| > t) = 1 - t / sqrt(2 + t^2) = 1 - sqrt(7)/3.
    # Wilcoxon: all three differences positive, W- = 0: P = 2 * (1/2^3) = 0.25 (exact).
    result = paired_test([11.0, 12.0, 14.0], [10.0, 10.0, 10.0])
    assert result.n == 3
    assert result.diff.mean == pytest.approx(7 / 3)
    assert result.p_t == pytest.approx(1 - math.sqrt(7) / 3, rel=1e-9)
    assert result.p_wilcoxon == pytest.approx(0.25)
    t975 = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    assert result.diff.low == pytest.approx(7 / 3 - t975 * math.sqrt(7 / 9), rel=1e-9)


def test_paired_test_subtracts_in_seed_order_not_sorted():
    # the pairs are (5, 1), (1, 4), (3, 3): d = [4, -3, 0]; sorting either side would change it
    result = paired_test([5.0, 1.0, 3.0], [1.0, 4.0, 3.0])
    assert result.diff.mean == pytest.approx(1 / 3)


def test_wilcoxon_exact_on_five_seeds():
    # d = [1, 2, 3, 4, -5]: W- = 5; subsets of {1..5} with rank sum <= 5: 10 of 32 -> p = 2 * 10/32
    result = paired_test([2.0, 3.0, 4.0, 5.0, 0.0], [1.0, 1.0, 1.0, 1.0, 5.0])
    assert result.p_wilcoxon == pytest.approx(20 / 32)
    # five positive differences: the smallest two-sided p with n = 5, 2 / 2^5 = 0.0625 > 0.05
    best = paired_test([2.0, 3.0, 4.0, 5.0, 6.0], [1.0, 1.0, 1.0, 1.0, 1.0])
    assert best.p_wilcoxon == pytest.approx(0.0625)


def test_constant_differences():
    same = paired_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert same.p_t == 1.0 and same.p_wilcoxon == 1.0 and same.diff.mean == 0.0
    shifted = paired_test([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert shifted.p_t == 0.0 and (shifted.diff.low, shifted.diff.high) == (1.0, 1.0)


def test_paired_test_refuses_unequal_lengths():
    with pytest.raises(ValueError, match="one value per seed"):
        paired_test([1.0, 2.0], [1.0])


def test_holm_by_hand():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone: 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1
    adjusted = holm([0.01, float("nan"), 0.02])  # NaN (no test) is not counted in m
    np.testing.assert_allclose(adjusted[[0, 2]], [0.02, 0.02])
    assert math.isnan(adjusted[1])


@pytest.mark.parametrize("low, high, expected", [
    (0.1, 100.0, (10 + 20 + 40) / 3),      # one decade at each level
    (1.0, 1000.0, (20 * 1 + 40 * 2) / 3),  # the final mIoU held past the last round
    (10 ** 0.5, 100.0, (20 * 0.5 + 40 * 1) / 1.5),
])
def test_log_hours_auc_of_a_step_curve(low, high, expected):
    assert log_hours_auc([0.0, 1.0, 10.0], [10.0, 20.0, 40.0], low, high) == pytest.approx(expected)


def test_log_hours_auc_refuses_a_curve_starting_after_the_horizon():
    with pytest.raises(ValueError, match="starts at 1 h"):
        log_hours_auc([1.0, 2.0], [1.0, 2.0], 0.5, 4.0)
    with pytest.raises(ValueError, match="non-decreasing"):
        log_hours_auc([0.0, 2.0, 1.0], [1.0, 2.0, 3.0], 0.5, 4.0)


def test_cost_columns_price_regions_as_table_3():
    # the paper's Table 3, Cityscapes, region level: 3.6 min x 200 regions x 25 iterations = 300 h
    assert cost_columns(0, 0, regions=200 * 25)["hours_cityscapes"] == pytest.approx(300.0)
    # callers without regions are unchanged: 37.5 min x 48 x 25 = 750 h
    assert cost_columns(0, 48 * 25)["hours_cityscapes"] == pytest.approx(750.0)
    assert cost_columns(5000, 0, prefix="round_")["round_hours_cityscapes"] == pytest.approx(5000 * 4 / 3600)
