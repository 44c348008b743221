import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsheads.pretrain.corpus import (
    EVALUATION_NAMES,
    check_not_evaluation,
    corpus_summary,
    default_root,
    load_real_corpus,
    load_statsmodels_series,
    read_long_csv,
    read_tsf,
)
from tsheads.pretrain.synthetic import synthetic_batch, synthetic_series

# --- synthetic ----------------------------------------------------------------------------------


def test_synthetic_series_is_deterministic_for_a_seed():
    first = synthetic_batch(np.random.default_rng(3), 8, 200)
    again = synthetic_batch(np.random.default_rng(3), 8, 200)
    other = synthetic_batch(np.random.default_rng(4), 8, 200)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other, equal_nan=True)


def test_synthetic_batch_shape_and_dtype():
    batch = synthetic_batch(np.random.default_rng(0), 5, 97)
    assert batch.shape == (5, 97)
    assert batch.dtype == np.float32


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), length=st.integers(2, 400))
def test_synthetic_series_is_finite_where_observed(seed, length):
    series = synthetic_series(np.random.default_rng(seed), length)
    assert series.shape == (length,)
    assert series.dtype == np.float32
    assert not np.isinf(series).any()
    assert (~np.isnan(series)).sum() >= length // 2


def test_synthetic_series_vary():
    batch = synthetic_batch(np.random.default_rng(1), 64, 300)
    stds = np.nanstd(batch, axis=1)
    assert (stds > 0).mean() > 0.9
    scales = np.log10(np.nanmax(np.abs(batch), axis=1) + 1e-12)
    assert scales.max() - scales.min() > 3  # magnitudes spread over orders of magnitude
    assert np.isnan(batch).any(axis=1).mean() < 0.3  # missing stretches stay rare


def test_synthetic_series_rejects_a_length_below_two():
    with pytest.raises(ValueError, match="length must be at least 2, got 1"):
        synthetic_series(np.random.default_rng(0), 1)


# --- evaluation guard ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "shared/data/forecast/ETTh1.csv",
        "data/anomaly/machine-1-1.csv",
        "elsewhere/m4_hourly/train.csv",
        "elsewhere/exchange_rate.csv",
        "elsewhere/NAB/realKnownCause/nyc_taxi.csv",
    ],
)
def test_guard_refuses_evaluation_paths(path):
    with pytest.raises(ValueError, match="refusing to pretrain on .*zero-shot"):
        check_not_evaluation([path])


def test_guard_accepts_pretraining_paths():
    check_not_evaluation(["pretrain/m3/m3_yearly_dataset.tsf", "pretrain/road_traffic/x.csv"])
    assert "ETTh" in EVALUATION_NAMES


def test_loader_refuses_an_evaluation_file_in_the_corpus(tmp_path):
    (tmp_path / "mixed").mkdir()
    pd.DataFrame({"y": np.arange(20.0)}).to_csv(tmp_path / "mixed" / "ETTh1.csv", index=False)
    with pytest.raises(ValueError, match="ETTh1.csv"):
        load_real_corpus(tmp_path)


# --- parsers on small files ---------------------------------------------------------------------

TSF = (
    "# comment with a Windows-1252 dash \x96 in it\r\n"
    "@relation toy\r\n"
    "@attribute series_name string\r\n"
    "@attribute start_timestamp date\r\n"
    "@frequency monthly\r\n"
    "@data\r\n"
    "T1:2000-01-01 00-00-00:1,2,?,4\r\n"
    "T2:2000-01-01 00-00-00:5.5,6\r\n"
)


def test_read_tsf_handles_latin1_crlf_and_missing(tmp_path):
    path = tmp_path / "toy.tsf"
    path.write_bytes(TSF.encode("latin-1"))
    first, second = read_tsf(path)
    np.testing.assert_array_equal(first, [1, 2, np.nan, 4])
    np.testing.assert_array_equal(second, [5.5, 6])


def test_read_long_csv_sorts_each_id_and_reindexes(tmp_path):
    frame = pd.DataFrame(
        {"id": ["b", "a", "a", "a"], "ds": ["2020-01-01", "2020-01-04", "2020-01-01", "2020-01-02"]}
    )
    frame["y"] = [9.0, 4.0, 1.0, 2.0]
    frame.to_csv(tmp_path / "long.csv", index=False)
    a, b = read_long_csv(tmp_path / "long.csv", ids=("id",), time="ds", value="y", freq="D")
    np.testing.assert_array_equal(a, [1, 2, np.nan, 4])
    np.testing.assert_array_equal(b, [9])


def test_load_real_corpus_drops_calendar_text_short_and_constant_columns(tmp_path):
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "README.md").write_text("not data")
    n = 30
    frame = pd.DataFrame(
        {
            "year": np.arange(n) + 2000,
            "hr": np.arange(n) % 24,
            "station": ["x"] * n,
            "value": np.sin(np.arange(n)),
            "flat": np.ones(n),
            "short": [1.0, 2.0] + [np.nan] * (n - 2),
        }
    )
    frame.to_csv(tmp_path / "toy" / "wide.csv", index=False)
    corpus = load_real_corpus(tmp_path)
    assert list(corpus) == ["toy"]
    (series,) = corpus["toy"]
    assert series.dtype == np.float32
    np.testing.assert_allclose(series, np.sin(np.arange(n)), rtol=1e-6)


def test_load_real_corpus_rejects_unknown_datasets(tmp_path):
    (tmp_path / "toy").mkdir()
    with pytest.raises(ValueError, match=r"unknown datasets \['nope'\]"):
        load_real_corpus(tmp_path, datasets=["nope"])


def test_load_real_corpus_reports_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="TSHEADS_PRETRAIN_DATA"):
        load_real_corpus(tmp_path / "absent")


def test_corpus_summary_counts_observed_points():
    summary = corpus_summary({"toy": [np.arange(20, dtype=np.float32), np.array([1, np.nan, 2])]})
    assert summary.loc["toy", "series"] == 2
    assert summary.loc["toy", "points"] == 22


def test_statsmodels_series_load_offline():
    corpus = load_statsmodels_series()
    assert list(corpus) == ["statsmodels"]
    series = corpus["statsmodels"]
    assert len(series) > 100
    assert all(s.dtype == np.float32 and s.ndim == 1 for s in series)
    assert all((~np.isnan(s)).sum() >= 16 and not np.isinf(s).any() for s in series)


# --- the shared corpus --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not default_root().is_dir(), reason="shared pretraining data not present")
def test_real_corpus_loads():
    corpus = load_real_corpus(datasets=["m3", "bike_sharing", "road_traffic", "air_quality"])
    assert corpus_summary(corpus).loc["m3", "series"] == 3003
    for name, series in corpus.items():
        assert series, name
        for s in series:
            assert s.dtype == np.float32 and s.ndim == 1
            assert not np.isinf(s).any()
            assert (~np.isnan(s)).sum() >= 16
    assert len(corpus["bike_sharing"]) == 14
    assert len(corpus["road_traffic"][0]) == 40_575  # deduplicated by date_time
