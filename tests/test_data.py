"""Frames in and out: to_panel / from_panel round trips and validation messages."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsheads.frames import (
    Panel,
    describe_inserted,
    from_panel,
    from_panel_columns,
    future_index,
    given_rows,
    infer_freq,
    to_panel,
)


def generate_series(n_series=3, length=40, *, seed=0, start="2020-01-01", freq="D", tz=None):
    """Seeded wide frame: a sine per series plus noise, over a DatetimeIndex."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    data = {
        f"s{k}": np.sin(2 * np.pi * t / (7 + k)) + 0.1 * rng.normal(size=length)
        for k in range(n_series)
    }
    index = pd.date_range(start, periods=length, freq=freq, tz=tz, name="ds")
    return pd.DataFrame(data, index=index)


def to_long(wide, lengths=None):
    """Stack a wide frame into unique_id/ds/y rows; `lengths` trims each series' end."""
    parts = []
    for k, col in enumerate(wide.columns):
        s = wide[col].iloc[: (lengths[k] if lengths else len(wide))]
        parts.append(pd.DataFrame({"unique_id": col, "ds": s.index, "y": s.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def round_trip(data, **kwargs):
    panel = to_panel(data, **kwargs)
    return panel, from_panel(panel, panel.values)


# ---------------------------------------------------------------- round trips


def test_wide_datetime_round_trip_keeps_index_columns_and_dtypes():
    df = generate_series()
    df["count"] = np.arange(len(df), dtype=np.int32)
    df.columns.name = "series"
    panel, out = round_trip(df)
    assert isinstance(panel, Panel) and len(panel) == 4 and panel.layout == "wide"
    assert panel.ids == ["s0", "s1", "s2", "count"] and panel.freq == pd.offsets.Day()
    assert all(v.dtype == np.float64 for v in panel.values)
    pd.testing.assert_frame_equal(out, df)


def test_wide_period_and_range_indexes_round_trip():
    df = generate_series(length=12)
    for index in (pd.period_range("2020-01", periods=12, freq="M"), pd.RangeIndex(12)):
        frame = df.set_axis(index, axis=0)
        panel, out = round_trip(frame)
        pd.testing.assert_frame_equal(out, frame)
    assert panel.freq == 1


def test_wide_integer_index_with_step_round_trips():
    df = generate_series(length=10).set_axis(pd.Index(np.arange(0, 20, 2)), axis=0)
    panel, out = round_trip(df)
    assert panel.freq == 2
    pd.testing.assert_frame_equal(out, df)
    assert list(future_index(panel, 3)[0]) == [20, 22, 24]


def test_timezone_aware_index_keeps_its_tz():
    df = generate_series(length=48, freq="h", tz="Europe/Paris")
    panel, out = round_trip(df)
    assert str(panel.index[0].tz) == "Europe/Paris"
    pd.testing.assert_frame_equal(out, df)
    assert str(future_index(panel, 2)[0].tz) == "Europe/Paris"


def test_long_unsorted_different_lengths_round_trips_rows_in_input_order():
    long = to_long(generate_series(), lengths=[40, 25, 31])
    shuffled = long.sample(frac=1.0, random_state=1)
    panel, out = round_trip(shuffled)
    assert panel.layout == "long" and [len(v) for v in panel.values] == [40, 25, 31]
    assert all(ix.is_monotonic_increasing for ix in panel.index)
    pd.testing.assert_frame_equal(out, shuffled)


def test_long_without_id_column_is_one_series():
    long = to_long(generate_series(n_series=1)).drop(columns="unique_id")
    panel, out = round_trip(long)
    assert len(panel) == 1 and panel.id_col is None
    pd.testing.assert_frame_equal(out, long)


def test_long_with_integer_time_and_custom_column_names():
    df = pd.DataFrame({"key": [1, 1, 1, 2, 2], "t": [0, 1, 2, 5, 6], "v": [1.0, 2, 3, 4, 5]})
    panel, out = round_trip(df, id_col="key", time_col="t", target_col="v")
    assert panel.ids == [1, 2] and panel.freq == 1
    pd.testing.assert_frame_equal(out, df)
    assert [list(ix) for ix in future_index(panel, 2)] == [[3, 4], [7, 8]]


def test_arrays_and_series_round_trip():
    rng = np.random.default_rng(0)
    for array in (rng.normal(size=20), rng.normal(size=(20, 3)), np.arange(12).reshape(6, 2)):
        panel, out = round_trip(array)
        assert panel.layout == "array" and panel.ids == list(range(len(panel)))
        assert out.shape == array.shape and out.dtype == array.dtype
        np.testing.assert_array_equal(out, array)
    for name in ("load", None):
        series = generate_series(n_series=1)["s0"].rename(name)
        panel, out = round_trip(series)
        pd.testing.assert_series_equal(out, series)


def test_integer_dtype_restored_only_when_values_unchanged():
    df = pd.DataFrame({"a": np.arange(5), "b": pd.array([1, None, 3, 4, 5], dtype="Int64")})
    panel, out = round_trip(df)
    pd.testing.assert_frame_equal(out, df)
    filled = [panel.values[0] + 0.5, np.nan_to_num(panel.values[1], nan=2.0)]
    out = from_panel(panel, filled)
    assert out["a"].dtype == np.float64 and out["b"].dtype == "Int64"
    assert from_panel(panel, panel.values, name="score")["a"].dtype == np.float64


def test_from_panel_with_new_index_builds_forecast_rows():
    long = to_long(generate_series(), lengths=[40, 25, 31])
    panel = to_panel(long)
    index = future_index(panel, 4)
    out = from_panel(panel, [np.zeros(4)] * 3, index=index, name="tsheads")
    assert list(out.columns) == ["unique_id", "ds", "tsheads"] and len(out) == 12
    ends = long.groupby("unique_id")["ds"].max()
    first = out.groupby("unique_id")["ds"].min()
    assert (first - ends[first.index] == pd.Timedelta("1D")).all()


def test_from_panel_columns_for_each_layout():
    wide = generate_series(n_series=2, length=20)
    cols = ["tsheads", "tsheads-lo-80"]
    for data in (to_long(wide), wide, wide.to_numpy(), wide["s0"]):
        panel = to_panel(data)
        index = future_index(panel, 3)
        out = from_panel_columns(panel, {c: [np.ones(3)] * len(panel) for c in cols}, index)
        if isinstance(data, np.ndarray):
            assert set(out) == set(cols) and out["tsheads"].shape == (3, 2)
        elif isinstance(data, pd.Series):
            assert list(out.columns) == cols and out.index.equals(index[0])
        elif panel.layout == "wide":
            assert list(out.columns) == [(s, c) for s in wide.columns for c in cols]
        else:
            assert list(out.columns) == ["unique_id", "ds", *cols] and len(out) == 6
    panel = to_panel(wide)
    single = from_panel_columns(panel, {"tsheads": [np.ones(3)] * 2}, future_index(panel, 3))
    assert list(single.columns) == ["s0", "s1"]


def test_future_index_for_each_kind_of_time():
    months = generate_series(length=6).set_axis(pd.date_range("2020-01-01", periods=6, freq="MS"))
    expected = pd.DatetimeIndex(["2020-07-01", "2020-08-01"])
    assert list(future_index(to_panel(months), 2)[0]) == list(expected)
    periods = months.set_axis(pd.period_range("2020-01", periods=6, freq="M"))
    assert list(future_index(to_panel(periods), 1)[0]) == [pd.Period("2020-07", "M")]
    assert list(future_index(to_panel(np.zeros((5, 2))), 2)[1]) == [5, 6]
    with pytest.raises(ValueError, match="horizon must be at least 1, got 0"):
        future_index(to_panel(months), 0)
    one = pd.DataFrame({"ds": [pd.Timestamp("2020-01-01")], "y": [1.0]})
    with pytest.raises(ValueError, match="frequency is unknown"):
        future_index(to_panel(one), 1)


def test_inputs_are_not_mutated_and_panel_values_are_copies():
    wide = generate_series()
    wide.iloc[3, 1] = np.nan
    long = to_long(wide).sample(frac=1.0, random_state=0)
    array = wide.to_numpy()
    for data in (wide, long, array):
        before = data.copy()
        panel = to_panel(data)
        for v in panel.values:
            v[:] = 0.0
        from_panel(panel, panel.values)
        if isinstance(data, np.ndarray):
            np.testing.assert_array_equal(data, before)
        else:
            pd.testing.assert_frame_equal(data, before)


# ---------------------------------------------------------------- frequency


def test_gaps_are_reindexed_as_nan_with_a_warning():
    df = generate_series(length=20).drop(index=pd.Timestamp("2020-01-05"))
    with pytest.warns(UserWarning, match="could not infer a regular frequency"):
        panel = to_panel(df)
    assert panel.freq == pd.offsets.Day() and len(panel.values[0]) == 20
    assert np.isnan(panel.values[0][4]) and panel.frame_index is None
    assert len(from_panel(panel, panel.values)) == 20
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="missing timestamp 2020-01-05"):
        to_panel(df, allow_nan=False)
    long = to_long(generate_series(length=20)).sample(frac=1.0, random_state=0)
    long = long[(long["unique_id"] != "s1") | (long["ds"] != "2020-01-05")]
    panel = to_panel(long)  # the other series agree on 'D', so no guess and no warning
    assert panel.frame_index is None and [len(v) for v in panel.values] == [20, 20, 20]
    out = from_panel(panel, panel.values)
    assert out["y"].isna().sum() == 1 and list(out.index) == list(range(60))
    assert out.loc[out["y"].isna(), "unique_id"].item() == "s1"


def test_monthly_gaps_infer_month_starts():
    index = pd.date_range("2020-01-01", periods=24, freq="MS").delete([5, 11])
    with pytest.warns(UserWarning, match="'MS'"):
        assert infer_freq(index) == pd.offsets.MonthBegin()


def test_off_grid_timestamps_are_an_error():
    index = pd.date_range("2020-01-01", periods=10, freq="D").append(
        pd.DatetimeIndex(["2020-01-11 12:00"])
    )
    df = pd.DataFrame({"a": np.arange(11.0)}, index=index)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="2020-01-11 12:00:00 off the"):
        to_panel(df)


def test_given_freq_is_used_and_checked():
    df = generate_series(length=10)
    assert to_panel(df, freq="D").freq == pd.offsets.Day()
    with pytest.raises(ValueError, match="off the '2D' grid"):
        to_panel(df.iloc[[0, 1, 3]], freq="2D")
    with pytest.raises(ValueError, match="freq='fortnight' is not a pandas frequency"):
        to_panel(df, freq="fortnight")
    with pytest.raises(TypeError, match="must be an int step"):
        to_panel(np.zeros(5), freq="D")
    periods = df.set_axis(pd.period_range("2020-01", periods=10, freq="M"))
    with pytest.raises(ValueError, match="does not match the PeriodIndex frequency 'M'"):
        to_panel(periods, freq="D")
    with pytest.raises(ValueError, match="would stretch wide frame index from 10 to about"):
        to_panel(df, freq="s")


def test_mixed_frequencies_in_long_frame_name_two_series():
    hourly = generate_series(n_series=1, length=10, freq="h").rename(columns={"s0": "h"})
    daily = generate_series(n_series=1, length=10, freq="D").rename(columns={"s0": "d"})
    long = pd.concat([to_long(hourly), to_long(daily)], ignore_index=True)
    with pytest.raises(ValueError, match="series 'd' has frequency 'D' but series 'h' has 'h'"):
        to_panel(long)


def test_infer_freq_helper():
    assert infer_freq(pd.date_range("2020", periods=5, freq="W-SUN")) == pd.offsets.Week(weekday=6)
    assert infer_freq(pd.Index([3, 6, 9])) == 3
    assert infer_freq(pd.DatetimeIndex(["2020-01-01"])) is None
    with pytest.warns(UserWarning, match="using 2 from the typical step"):
        assert infer_freq(pd.Index([0, 2, 4, 8])) == 2


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (pd.DataFrame(), ValueError, r"input frame is empty \(shape \(0, 0\)\)"),
        (pd.DataFrame({"a": []}, index=pd.RangeIndex(0)), ValueError, "input frame is empty"),
        (np.zeros((0, 3)), ValueError, r"input array is empty \(shape \(0, 3\)\)"),
        (np.zeros((2, 2, 2)), ValueError, r"1-D or 2-D array .* got shape \(2, 2, 2\)"),
        ([1.0, 2.0], TypeError, "got list; wrap lists with np.asarray"),
        (pd.DataFrame({"a": ["x", "y"]}), TypeError, "column 'a' has non-numeric dtype str"),
        (pd.DataFrame({"a": [1.0, "y"]}), TypeError, r"value 'y' at row 1\); convert it"),
        (pd.DataFrame({"a": [True, False]}), TypeError, r"column 'a' is boolean; cast.*astype"),
        (np.array([True, False]), TypeError, "column 0 is boolean"),
        (
            pd.DataFrame({"date": pd.date_range("2020", periods=2), "v": [1.0, 2.0]}),
            TypeError,
            r"column 'date' holds timestamps.*df.set_index",
        ),
        (pd.DataFrame({"a": [1.0, 2.0]}, index=["x", "y"]), TypeError, "must be a DatetimeIndex"),
        (
            pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]),
            ValueError,
            "duplicated column 'a'",
        ),
        (
            pd.DataFrame({"unique_id": ["a"], "ds": [0]}),
            ValueError,
            "long-format frame is missing column 'y'; pass target_col= to name the value column",
        ),
        (
            pd.DataFrame({"unique_id": ["a"], "y": [0.0]}),
            ValueError,
            "long-format frame is missing column 'ds'; pass time_col=",
        ),
        (
            pd.DataFrame({"unique_id": ["a"], "ds": ["2020-01-01"], "y": [1.0]}),
            TypeError,
            r"time column 'ds' has dtype str; convert it with .*pd.to_datetime",
        ),
        (
            pd.DataFrame({"unique_id": ["a", None], "ds": [0, 1], "y": [1.0, 2.0]}),
            ValueError,
            "id column 'unique_id' has a missing id at row 1",
        ),
    ],
)
def test_bad_input_types_and_shapes(data, error, match):
    with pytest.raises(error, match=match):
        to_panel(data)


def test_inf_names_column_and_timestamp():
    df = generate_series()
    df.iloc[6, 2] = -np.inf
    with pytest.raises(ValueError, match=r"column 's2' has -inf at 2020-01-07 00:00:00 \(row 6\)"):
        to_panel(df)
    long = to_long(generate_series()).sample(frac=1.0, random_state=0)
    row = long.index[(long["unique_id"] == "s1") & (long["ds"] == "2020-01-03")][0]
    long.loc[row, "y"] = np.inf
    with pytest.raises(ValueError, match=rf"series 's1' has inf at 2020-01-03 .*\(row {row}\)"):
        to_panel(long)
    with pytest.raises(ValueError, match=r"column 0 has inf at row 1; replace infinite"):
        to_panel(np.array([0.0, np.inf]))


def test_nan_is_allowed_unless_disallowed_and_all_nan_is_always_an_error():
    df = generate_series()
    df.iloc[4, 0] = np.nan
    assert np.isnan(to_panel(df).values[0][4])
    with pytest.raises(ValueError, match=r"column 's0' has NaN at 2020-01-05 .*Imputer"):
        to_panel(df, allow_nan=False)
    long = to_long(df)
    with pytest.raises(ValueError, match="column 'y' of series 's0' has NaN at 2020-01-05"):
        to_panel(long, allow_nan=False)
    df["s1"] = np.nan
    with pytest.raises(ValueError, match="column 's1' is all NaN"):
        to_panel(df)
    with pytest.raises(ValueError, match="series 's1' is all NaN"):
        to_panel(to_long(df), allow_nan=False)


def test_duplicated_and_unsorted_timestamps():
    df = generate_series(length=5)
    dup = df.iloc[[0, 1, 1, 2]]
    with pytest.raises(ValueError, match="duplicated timestamp 2020-01-02 00:00:00"):
        to_panel(dup)
    with pytest.raises(ValueError, match=r"not sorted: row 2 \(2020-01-01.*df.sort_index\(\)"):
        to_panel(df.iloc[[1, 2, 0, 3]])
    long = pd.concat([to_long(df), to_long(df).iloc[[3]]], ignore_index=True)
    with pytest.raises(ValueError, match="series 's0' has duplicated timestamp 2020-01-04"):
        to_panel(long)


def test_min_length_names_the_short_series():
    long = to_long(generate_series(), lengths=[40, 5, 31])
    with pytest.raises(ValueError, match="series 's1' has 5 timestamps, fewer than min_length=8"):
        to_panel(long, min_length=8)


def test_from_panel_checks_lengths():
    panel = to_panel(generate_series(length=5))
    with pytest.raises(ValueError, match="got 1 value arrays and 3 indexes for a panel of 3"):
        from_panel(panel, [np.zeros(5)])
    with pytest.raises(ValueError, match="series 's0' has 4 values for an index of 5"):
        from_panel(panel, [np.zeros(4)] * 3)


# ---------------------------------------------------------------- properties


@st.composite
def wide_frames(draw):
    n, k = draw(st.integers(1, 25)), draw(st.integers(1, 4))
    cells = st.one_of(st.just(np.nan), st.floats(-1e12, 1e12, allow_nan=False))
    values = np.array(draw(st.lists(cells, min_size=n * k, max_size=n * k))).reshape(n, k)
    values[draw(st.integers(0, n - 1)), :] = 1.5  # every series needs an observed value
    index = draw(
        st.sampled_from(
            [
                pd.date_range("2021-03-01", periods=n, freq="h", tz="UTC"),
                pd.period_range("2000", periods=n, freq="Y"),
                pd.RangeIndex(n),
            ]
        )
    )
    return pd.DataFrame(values, index=index, columns=[f"c{j}" for j in range(k)])


@settings(max_examples=60, deadline=None)
@given(wide_frames())
def test_wide_frames_with_nans_round_trip_exactly(df):
    before = df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, out = round_trip(df)
    pd.testing.assert_frame_equal(out, df, check_exact=True)
    pd.testing.assert_frame_equal(df, before, check_exact=True)


def test_the_frequency_guess_names_the_column_and_the_odd_step():
    index = pd.date_range("2020-01-01", periods=30, freq="D", name="date").delete([4, 9])
    odd = r"of 'date'; using 'D' from the typical step \(but 2020-01-04 is followed by " \
          r"2020-01-06\). Pass freq= to set it \(--freq on the command line\)"
    with pytest.warns(UserWarning, match=odd):
        assert infer_freq(index) == pd.offsets.Day()


def test_inserted_timestamps_are_described_and_can_be_cut_back():
    df = generate_series(length=20).drop(index=pd.Timestamp("2020-01-05"))
    with pytest.warns(UserWarning):
        panel = to_panel(df)
    assert describe_inserted(panel) == ("1 timestamp was missing from the 'D' grid and "
                                         "inserted as missing values (2020-01-05)")
    cut, values = given_rows(panel, panel.values)
    pd.testing.assert_frame_equal(from_panel(cut, values), df)
    assert describe_inserted(cut) is None and given_rows(cut, values)[0] is cut
