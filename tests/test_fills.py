import numpy as np
import pytest

from tsheads.fills import (
    blend_weights,
    linear_fill,
    partners,
    regression_fill,
    seasonal_fill,
)


def test_linear_fill_draws_lines_and_holds_the_edges():
    series = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan])
    np.testing.assert_allclose(linear_fill(series), [1, 1, 2, 3, 4, 4])


def test_seasonal_fill_recovers_a_gap_in_a_pure_season():
    t = np.arange(240)
    truth = np.sin(2 * np.pi * t / 24) + (t % 24 == 5)
    series = truth.copy()
    series[100:130] = np.nan
    np.testing.assert_allclose(seasonal_fill(series, 24)[100:130], truth[100:130], atol=1e-12)


def test_seasonal_fill_falls_back_to_linear_without_neighbouring_seasons():
    series = np.array([0.0, np.nan, np.nan, 3.0])
    np.testing.assert_allclose(seasonal_fill(series, 24), [0, 1, 2, 3])


def test_regression_fill_recovers_a_linear_combination_that_drifts():
    rng = np.random.default_rng(0)
    others = rng.normal(size=(3, 2000))
    slope = np.where(np.arange(2000) < 1000, 2.0, -1.0)  # the relation changes mid-series
    truth = slope * others[0] + 0.5 * others[1] + 3.0
    target = truth.copy()
    target[[200, 201, 1500, 1700]] = np.nan
    filled = regression_fill(target, others, block=256)
    gaps = np.isnan(target)
    np.testing.assert_allclose(filled[gaps], truth[gaps], atol=1e-4)
    assert np.isnan(filled[256:512]).all()  # only blocks holding a gap are fitted


def test_regression_fill_leaves_blocks_with_too_few_rows_unfilled():
    target = np.full(64, np.nan)
    target[:5] = 1.0
    assert np.isnan(regression_fill(target, np.ones((1, 64)), block=64)).all()


def test_partners_rank_by_correlation_and_skip_constant_series():
    rng = np.random.default_rng(1)
    base = rng.normal(size=500)
    rows = np.stack([base, base + 0.1 * rng.normal(size=500), rng.normal(size=500),
                     np.ones(500)])
    found = partners(rows, k=2)
    assert found[0][0] == 1 and found[1][0] == 0
    assert 3 not in np.concatenate(found) and len(found[3]) == 0


def test_blend_weights_are_convex_and_find_the_right_fill():
    rng = np.random.default_rng(2)
    truth = rng.normal(size=200)
    candidates = np.stack([truth + rng.normal(size=200), truth, truth[::-1]])
    weights = blend_weights(candidates, truth)
    assert weights.min() >= 0 and weights.sum() == pytest.approx(1.0)
    assert weights[1] > 0.95


def test_blend_weights_mix_two_fills_with_opposite_errors():
    rng = np.random.default_rng(3)
    truth, noise = rng.normal(size=300), rng.normal(size=300)
    weights = blend_weights(np.stack([truth + noise, truth - noise]), truth)
    np.testing.assert_allclose(weights, [0.5, 0.5], atol=0.02)


def test_blend_weights_without_checked_values_trust_the_model():
    np.testing.assert_array_equal(blend_weights(np.zeros((3, 0)), np.zeros(0)), [1, 0, 0])


def test_blend_weights_do_not_depend_on_units():
    rng = np.random.default_rng(4)
    truth = rng.normal(size=30)
    candidates = np.stack([truth + rng.normal(size=30), truth + 0.5 * rng.normal(size=30)])
    small = blend_weights(candidates, truth, scale=1.0)
    large = blend_weights(candidates * 1e6, truth * 1e6, scale=1e6)
    np.testing.assert_allclose(small, large, atol=1e-9)
