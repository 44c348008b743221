import numpy as np
from conftest import generate_series

from tsheads.seasonality import detect_period, seasonal_repeat


def test_detect_period_finds_the_season_and_nothing_in_noise():
    assert detect_period(generate_series(2000, period=24)) == 24
    assert detect_period(np.random.default_rng(0).normal(size=2000)) is None
    assert detect_period(np.ones(100)) is None


def test_detect_period_keeps_missing_values_in_place_and_sees_through_a_trend():
    t = np.arange(2000.0)
    series = 0.05 * t + np.sin(2 * np.pi * t / 52)  # the trend spans 100 seasons' amplitude
    series[np.random.default_rng(0).random(2000) < 0.2] = np.nan  # a fifth missing
    assert detect_period(series) == 52


def test_detect_period_ignores_lags_that_regular_gaps_leave_empty():
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(size=2000))
    walk[::2] = np.nan  # odd lags join no pairs: no period of 4, 6, ... out of that
    assert detect_period(walk) is None
    hours = np.arange(24 * 7 * 20.0)
    weekly = np.sin(2 * np.pi * hours / 168) + 0.1 * rng.normal(size=len(hours))
    weekly[hours % 24 != 0] = np.nan  # a weekly season observed once a day on an hourly grid
    assert detect_period(weekly) == 168


def test_seasonal_repeat_tiles_the_last_season():
    history = np.arange(10.0)  # last whole season of 4 is 6, 7, 8, 9
    np.testing.assert_array_equal(seasonal_repeat(history, 4, 6), [6, 7, 8, 9, 6, 7])


def test_seasonal_repeat_fills_a_missing_value_from_an_earlier_season():
    history = np.array([1.0, 2, 3, 4, 5, np.nan])
    np.testing.assert_array_equal(seasonal_repeat(history, 3, 3), [4, 5, 3])
    never = np.array([1.0, np.nan, 3, 4, np.nan, 6])
    assert np.isnan(seasonal_repeat(never, 3, 3)[1])
