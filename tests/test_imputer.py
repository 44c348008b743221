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
