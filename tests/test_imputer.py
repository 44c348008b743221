import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import generate_series
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from tsheads import Imputer


def wide(n: int = 300, channels: int = 3) -> pd.DataFrame:
    data = {f"c{i}": generate_series(n, seed=i) for i in range(channels)}
    return pd.DataFrame(data, index=pd.date_range("2024-01-01", periods=n, freq="h"))


def with_gaps(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = frame.copy()
    values = out.to_numpy(copy=True)
    values[rng.random(values.shape) < 0.1] = np.nan
    values[100:130, 1] = np.nan
    out.iloc[:, :] = values
    return out


def test_fills_every_gap_and_keeps_observed_values_bit_for_bit(tiny_weights):
    gappy = with_gaps(wide())
    before = gappy.copy()
    filled = Imputer(weights=tiny_weights).fit_transform(gappy)
    assert not filled.isna().any().any()
    observed = gappy.notna()
    assert (filled[observed] == gappy[observed]).sum().sum() == observed.sum().sum()
    pd.testing.assert_frame_equal(gappy, before)
    assert filled.index.equals(gappy.index) and list(filled.columns) == list(gappy.columns)


def test_leading_trailing_and_shared_gaps(tiny_weights):
    gappy = wide()
    gappy.iloc[:10, :] = np.nan
    gappy.iloc[-7:, :] = np.nan
    gappy.iloc[150:160, :] = np.nan
    filled = Imputer(weights=tiny_weights).fit_transform(gappy)
    assert np.isfinite(filled.to_numpy()).all()


def test_long_gap_is_filled_with_a_warning(tiny_weights):
    gappy = wide(600, 1)
    gappy.iloc[100:300, 0] = np.nan
    with pytest.warns(UserWarning, match="longer than half the model's context"):
        filled = Imputer(weights=tiny_weights).fit_transform(gappy)
    assert np.isfinite(filled.to_numpy()).all()


def test_long_frames_round_trip(tiny_weights):
    rows = []
    for uid, n in (("a", 80), ("b", 150)):
        y = generate_series(n, seed=len(uid) + n)
        y[5::9] = np.nan
        ds = pd.date_range("2024-01-01", periods=n, freq="D")
        rows.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
    long = pd.concat(rows, ignore_index=True)
    filled = Imputer(weights=tiny_weights).fit_transform(long)
    assert list(filled.columns) == ["unique_id", "ds", "y"] and len(filled) == len(long)
    assert not filled["y"].isna().any()
    kept = long["y"].notna()
    assert (filled.loc[kept, "y"] == long.loc[kept, "y"]).all()


def test_arrays_and_short_series(tiny_weights):
    values = generate_series(30)
    values[[3, 10, 11]] = np.nan
    filled = Imputer(weights=tiny_weights).fit_transform(values)
    assert filled.shape == (30,) and np.isfinite(filled).all()


def test_no_gaps_is_identity(tiny_weights):
    frame = wide()
    pd.testing.assert_frame_equal(Imputer(weights=tiny_weights).fit_transform(frame), frame)


def test_all_nan_column_is_an_error(tiny_weights):
    frame = wide()
    frame["c1"] = np.nan
    with pytest.raises(ValueError, match="c1"):
        Imputer(weights=tiny_weights).fit_transform(frame)


def test_not_fitted_and_bad_parameters(tiny_weights):
    with pytest.raises(NotFittedError):
        Imputer().transform(wide())
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        Imputer(weights=tiny_weights, batch_size=0).fit(wide())
    with pytest.raises(ValueError, match="stride must be 'auto' or a positive int"):
        Imputer(weights=tiny_weights, stride=-3).fit(wide())


def test_sklearn_conventions(tiny_weights):
    imputer = Imputer(weights=tiny_weights, batch_size=7)
    assert clone(imputer).get_params() == imputer.get_params()
    assert imputer.set_params(batch_size=9) is imputer and imputer.batch_size == 9
    assert imputer.fit(wide()) is imputer and hasattr(imputer, "model_")


def test_fine_tuning_runs_and_keeps_the_shared_model(tiny_weights):
    from tsheads.runtime import load_model

    shared = load_model(tiny_weights)
    before = {k: v.clone() for k, v in shared.state_dict().items()}
    imputer = Imputer(weights=tiny_weights, fine_tune_steps=3).fit(with_gaps(wide()))
    assert imputer.model_ is not shared
    for key, value in shared.state_dict().items():
        assert (value == before[key]).all()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(20, 200),
    holes=st.lists(st.tuples(st.integers(0, 199), st.integers(1, 60)), max_size=6),
    seed=st.integers(0, 1000),
)
def test_property_observed_kept_and_no_nan_left(tiny_weights, n, holes, seed):
    values = generate_series(n, seed=seed)
    for start, length in holes:
        values[start : start + length] = np.nan
    if np.isnan(values).all():
        values[seed % n] = 1.0
    frame = pd.DataFrame({"y": values}, index=pd.RangeIndex(n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filled = Imputer(weights=tiny_weights).fit_transform(frame)
    assert not filled["y"].isna().any()
    kept = ~np.isnan(values)
    assert (filled["y"].to_numpy()[kept] == values[kept]).all()


def linked(n: int = 400) -> pd.DataFrame:
    """Three hourly columns; the last is an exact linear combination of the first two."""
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=n).cumsum(), generate_series(n, seed=6)
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    return pd.DataFrame({"a": a, "b": b, "sum": 2 * a - b + 1}, index=index)


def test_cross_series_regression_recovers_a_linked_column(tiny_weights):
    truth = linked()
    gappy = truth.copy()
    gappy.iloc[150:190, 2] = np.nan
    gappy.iloc[[20, 60, 61, 300], 2] = np.nan
    hidden = gappy["sum"].isna()
    together = Imputer(weights=tiny_weights).fit_transform(gappy)
    alone = Imputer(weights=tiny_weights, cross_series=False).fit_transform(gappy)
    err_together = (together["sum"] - truth["sum"])[hidden].abs().max()
    err_alone = (alone["sum"] - truth["sum"])[hidden].abs().max()
    assert err_together < 0.05 * err_alone  # the blend keeps a light pull toward the model


def test_blend_summary_reports_convex_weights_per_series(tiny_weights):
    gappy = linked()
    gappy.iloc[150:190, 2] = np.nan
    gappy.iloc[30:35, 0] = np.nan
    summary = Imputer(weights=tiny_weights).fit(gappy).blend_summary(gappy)
    assert list(summary.index) == ["a", "b", "sum"]
    for gap in ("short", "long"):
        weights = summary.filter(like=f"weight_{gap}_")
        assert (weights >= 0).all().all() and np.allclose(weights.sum(axis=1), 1.0)
    assert summary.loc["sum", "weight_long_regression"] > 0.9
    assert set(summary.loc["sum", "partners"].split(", ")) == {"a", "b"}
    assert summary.loc["b", "checked_long"] == 0 and summary.loc["b", "weight_long_model"] == 1.0
    assert summary.loc["sum", "checked_long"] > 0 and summary.loc["b", "period"] == 24
    assert summary.loc["a", "checked_short"] > 0  # a's gap is 5 steps: a short one


def test_gaps_longer_than_a_patch_are_long():
    from tsheads.blending import gap_class

    missing = np.zeros(30, dtype=bool)
    missing[0:8] = missing[10:19] = missing[29] = True  # runs of 8, 9 and 1
    assert list(np.flatnonzero(gap_class(missing))) == list(range(10, 19))
    assert not gap_class(np.zeros(0, dtype=bool)).size


def test_short_and_long_gaps_get_their_own_blends(tiny_weights):
    t = np.arange(960)
    truth = pd.DataFrame({"y": 5 + np.sin(2 * np.pi * t / 24) + 0.01 * t},
                         index=pd.date_range("2024-01-01", periods=960, freq="h"))
    gappy = truth.copy()
    gappy.iloc[np.arange(3, 960, 10), 0] = np.nan  # every tenth point: a straight line's case
    gappy.iloc[500:560, 0] = np.nan  # two and a half seasons: the seasonal fill's case
    imputer = Imputer(weights=tiny_weights).fit(gappy)
    row = imputer.blend_summary(gappy).loc["y"]
    assert row["checked_short"] > 0 and row["checked_long"] > 0
    assert row["weight_long_seasonal"] > 0.5 > row["weight_short_seasonal"]
    gap = slice(500, 560)
    error = (imputer.transform(gappy)["y"][gap] - truth["y"][gap]).abs().mean()
    straight = (gappy["y"].interpolate()[gap] - truth["y"][gap]).abs().mean()
    assert error < 0.8 * straight


def test_seasonal_fill_wins_a_long_gap_in_a_clean_season(tiny_weights):
    t = np.arange(480)
    truth = pd.DataFrame({"y": 5 + np.sin(2 * np.pi * t / 24)},
                         index=pd.date_range("2024-01-01", periods=480, freq="h"))
    gappy = truth.copy()
    gappy.iloc[200:240, 0] = np.nan
    imputer = Imputer(weights=tiny_weights).fit(gappy)
    assert imputer.blend_summary(gappy).loc["y", "weight_long_seasonal"] > 0.9
    filled = imputer.transform(gappy)
    np.testing.assert_allclose(filled["y"][200:240], truth["y"][200:240], atol=0.05)


def test_blend_off_and_bad_blend_parameters(tiny_weights):
    gappy = with_gaps(wide())
    imputer = Imputer(weights=tiny_weights, blend=False).fit(gappy)
    assert not imputer.transform(gappy).isna().any().any()
    with pytest.raises(ValueError, match="blend_summary needs blend=True"):
        imputer.blend_summary(gappy)
    assert imputer.mirror_  # "auto": a small input is mirrored
    unmirrored = Imputer(weights=tiny_weights, blend=False, mirror=False).fit_transform(gappy)
    gaps = gappy.isna().to_numpy()
    assert not np.allclose(unmirrored.to_numpy()[gaps], imputer.transform(gappy).to_numpy()[gaps])
    with pytest.raises(TypeError, match="mirror must be 'auto', True or False, got 'yes'"):
        Imputer(weights=tiny_weights, mirror="yes").fit(gappy)
    for name in ("blend", "cross_series"):
        with pytest.raises(TypeError, match=f"{name} must be True or False, got 'yes'"):
            Imputer(weights=tiny_weights, **{name: "yes"}).fit(gappy)


def test_only_series_sharing_timestamps_are_regressed_on_each_other():
    from tsheads.frames import aligned_groups

    hours = pd.date_range("2024-01-01", periods=50, freq="h")
    index = [hours, hours[1:], hours, pd.RangeIndex(50), hours[:-1]]
    assert aligned_groups(index) == [[0, 2], [1], [3], [4]]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(20, 200),
    holes=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 199), st.integers(1, 60)),
                   max_size=8),
    seed=st.integers(0, 1000),
)
def test_property_several_channels_keep_observed_values(tiny_weights, n, holes, seed):
    values = np.stack([generate_series(n, seed=seed + c) for c in range(3)], axis=1)
    for channel, start, length in holes:
        values[start : start + length, channel] = np.nan
    for channel in range(3):
        if np.isnan(values[:, channel]).all():
            values[seed % n, channel] = 1.0
    frame = pd.DataFrame(values, columns=["x", "y", "z"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filled = Imputer(weights=tiny_weights).fit_transform(frame)
    assert np.isfinite(filled.to_numpy()).all()
    kept = ~np.isnan(values)
    assert (filled.to_numpy()[kept] == values[kept]).all()
