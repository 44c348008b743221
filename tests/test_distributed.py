"""Dask frames in, Dask frames out: the same numbers, columns and dtypes as pandas, on a
LocalCluster of two worker processes (loopback only), including when a worker dies."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import generate_series

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from tsheads import AnomalyDetector, Forecaster, Imputer  # noqa: E402
from tsheads.distributed import (  # noqa: E402
    _on_worker,
    collect,
    is_dask_frame,
    local_cluster,
    read_frame,
    run_files,
)

RTOL, ATOL = 1e-5, 1e-6  # the batching tests' tolerance (tests/test_runtime.py)
KEYS = ["unique_id", "ds"]


@pytest.fixture(scope="module")
def client():
    # distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
    with local_cluster(2, host="127.0.0.1", dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as c:
            yield c


def panel(n_series: int = 12, gaps: bool = False) -> pd.DataFrame:
    """A long frame of hourly series of different lengths and starts."""
    parts = []
    for i in range(n_series):
        n = 90 + 7 * i
        y = generate_series(n, seed=i, period=12 + i % 3)
        if gaps:
            y[20 + i : 30 + i] = np.nan
        ds = pd.date_range("2024-01-01", periods=n, freq="h") + pd.Timedelta(hours=i)
        parts.append(pd.DataFrame({"unique_id": f"s{i:02d}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def split(df: pd.DataFrame, npartitions: int):
    """The Dask frame of ``df`` and the pandas frame it holds: Dask stores text columns
    with its own string dtype, and the pandas call on that frame is what it must equal."""
    ddf = dd.from_pandas(df, npartitions=npartitions)
    return ddf, ddf.compute()


def same(lazy, expected: pd.DataFrame) -> None:
    """The computed Dask frame equals the pandas one up to row order, with its dtypes."""
    got = lazy.compute()
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.to_dict() == lazy._meta.dtypes.to_dict()
    got = got.sort_values(KEYS).reset_index(drop=True)
    expected = expected.sort_values(KEYS).reset_index(drop=True)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(got[KEYS], expected[KEYS])
    for name in got.columns.drop(KEYS):
        np.testing.assert_allclose(got[name].to_numpy(float), expected[name].to_numpy(float),
                                   rtol=RTOL, atol=ATOL)


def test_core_imports_and_runs_without_dask():
    code = ("import sys; sys.modules['dask'] = None; import numpy as np; "
            "from tsheads import Imputer; from tsheads.distributed import is_dask_frame; "
            "assert not is_dask_frame(np.zeros(3)); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


def test_is_dask_frame():
    df = panel(2)
    assert is_dask_frame(dd.from_pandas(df, npartitions=2))
    assert not is_dask_frame(df) and not is_dask_frame(None)


@pytest.mark.parametrize("npartitions", [1, 5, 20])
def test_forecast_equals_pandas_for_any_partitioning(client, tiny_weights, npartitions):
    ddf, df = split(panel(), npartitions)
    est = Forecaster(weights=tiny_weights, intervals="fourier")
    expected = est.forecast(df, 8, level=[80], quantiles=[0.1])
    lazy = est.forecast(ddf, 8, level=[80], quantiles=[0.1])
    assert is_dask_frame(lazy)
    same(lazy, expected)


def test_a_frame_indexed_by_id_runs_without_a_shuffle(client, tiny_weights):
    ddf, df = split(panel(), 3)
    indexed = ddf.set_index("unique_id").persist()  # the sort runs here, once
    assert indexed.known_divisions
    est = Forecaster(weights=tiny_weights, head="direct")
    lazy = est.forecast(indexed, 6)
    assert not any("shuffle" in str(key) for key in dict(lazy.__dask_graph__()))
    same(lazy, est.forecast(df, 6))
    imputer = Imputer(weights=tiny_weights, blend=False)
    filled = imputer.fit_transform(indexed)
    same(filled, imputer.fit_transform(df).reset_index(drop=True))


def test_collect_equals_compute_and_keeps_the_partition_order(client, tiny_weights):
    def held() -> set:
        return set().union(*client.run(lambda dask_worker: set(dask_worker.data)).values())

    ddf, _ = split(panel(), 5)
    lazy = Forecaster(weights=tiny_weights).forecast(ddf, 8)
    before = held()
    got = collect(lazy, client)
    pd.testing.assert_frame_equal(got, lazy.compute())
    deadline = time.monotonic() + 10  # releasing is asynchronous
    while not held() <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert held() <= before  # no partition left on the workers


def test_collect_of_empty_partitions_has_the_columns(client):
    import dask.dataframe as dd

    frame = dd.from_pandas(pd.DataFrame({"a": [1.0, 2.0, 3.0]}), npartitions=3)
    got = collect(frame[frame.a > 5], client)
    assert list(got.columns) == ["a"] and len(got) == 0


def test_fit_on_dask_then_predict_is_lazy(client, tiny_weights):
    ddf, df = split(panel(6), 3)
    est = Forecaster(weights=tiny_weights, head="direct", mirror=False)
    lazy = est.fit(ddf).predict(5)
    same(lazy, est.fit(df).predict(5))


def test_a_long_horizon_warns_in_the_client(tiny_weights):
    ddf = dd.from_pandas(panel(2), npartitions=1)
    with pytest.warns(UserWarning, match="beyond the direct head"):
        Forecaster(weights=tiny_weights).forecast(ddf, 40)


def test_backtest_intervals_are_refused_with_a_reason(tiny_weights):
    ddf = dd.from_pandas(panel(3), npartitions=2)
    with pytest.raises(ValueError, match="intervals='fourier'"):
        Forecaster(weights=tiny_weights).forecast(ddf, 8, level=[80])


def test_anomaly_scores_and_flags_equal_pandas(client, tiny_weights):
    ddf, df = split(panel(), 4)
    detector = AnomalyDetector(weights=tiny_weights).fit(df)
    same(detector.anomaly_score(ddf), detector.anomaly_score(df))
    same(detector.predict(ddf), detector.predict(df))


def test_imputer_fit_transform_equals_pandas(client, tiny_weights):
    ddf, df = split(panel(gaps=True), 3)
    imputer = Imputer(weights=tiny_weights, cross_series=False)
    lazy = imputer.fit_transform(ddf)
    assert imputer.n_series_in_ == 12
    same(lazy, imputer.fit_transform(df))


def test_fine_tuned_model_is_shipped_once(client, tiny_weights):
    ddf, df = split(panel(6, gaps=True), 3)
    imputer = Imputer(weights=tiny_weights, cross_series=False, fine_tune_steps=2).fit(df)
    lazy = imputer.transform(ddf)
    graph = dict(lazy.__dask_graph__())
    shipped = [key for key in graph if "tsheads-state" in str(key)]
    assert len(shipped) == 1
    same(lazy, imputer.transform(df))


def test_fine_tuned_forecaster_on_dask_equals_pandas(client, tiny_weights):
    ddf, df = split(panel(6), 3)
    est = Forecaster(weights=tiny_weights, head="direct", fine_tune_steps=2)
    same(est.forecast(ddf, 5), est.forecast(df, 5))


@pytest.mark.parametrize("broken", ["short", "all_nan"])
def test_bad_series_fail_with_the_pandas_message(client, tiny_weights, broken):
    df = panel(4)
    bad = df["unique_id"] == "s02"
    if broken == "short":
        df = df[~bad | (df["ds"] < df.loc[bad, "ds"].min() + pd.Timedelta(hours=5))]
    else:
        df.loc[bad, "y"] = np.nan
    with pytest.raises(ValueError) as in_pandas:
        Forecaster(weights=tiny_weights).forecast(df, 4)
    ddf = dd.from_pandas(df, npartitions=2)
    with pytest.raises(ValueError) as in_dask:
        Forecaster(weights=tiny_weights).forecast(ddf, 4).compute()
    assert "'s02'" in str(in_pandas.value)
    assert str(in_dask.value) == str(in_pandas.value)


def test_an_all_nan_series_fails_the_imputer_with_the_pandas_message(client, tiny_weights):
    df = panel(4)
    df.loc[df["unique_id"] == "s01", "y"] = np.nan
    imputer = Imputer(weights=tiny_weights, cross_series=False)
    with pytest.raises(ValueError) as in_pandas:
        imputer.fit_transform(df)
    with pytest.raises(ValueError) as in_dask:
        imputer.fit_transform(dd.from_pandas(df, npartitions=2)).compute()
    assert "'s01'" in str(in_pandas.value) and str(in_dask.value) == str(in_pandas.value)


def test_cross_series_imputing_is_refused_with_a_reason(tiny_weights):
    with pytest.raises(ValueError, match="cross_series=False"):
        Imputer(weights=tiny_weights).fit(dd.from_pandas(panel(2), npartitions=1))


def test_tasks_run_torch_with_the_workers_threads(client):
    assert client.submit(lambda: _on_worker(Forecaster()).n_threads).result() == 1
    assert client.submit(lambda: _on_worker(Forecaster(n_threads=3)).n_threads).result() == 3


def test_run_files_reads_runs_and_writes_partitioned(client, tiny_weights, tmp_path):
    panel(4).to_csv(tmp_path / "in.csv", index=False)
    df = read_frame(str(tmp_path / "in.csv")).compute()
    est = Forecaster(weights=tiny_weights, head="direct")
    written = run_files(str(tmp_path / "in.csv"), str(tmp_path / "out"),
                        lambda frame: est.forecast(frame, 3), scheduler=client.scheduler.address,
                        progress=False)
    assert written and all(p.endswith(".csv") for p in written)
    got = read_frame(written).compute()
    same(dd.from_pandas(got, npartitions=1), est.forecast(df, 3))


def test_run_files_writes_parquet(client, tiny_weights, tmp_path):
    panel(3).to_parquet(tmp_path / "in.parquet")
    df = read_frame(str(tmp_path / "in.parquet")).compute()
    imputer = Imputer(weights=tiny_weights, blend=False)
    written = run_files(str(tmp_path / "in.parquet"), str(tmp_path / "out.parquet"),
                        lambda frame: imputer.fit_transform(frame), progress=False)
    assert written and all(p.endswith(".parquet") for p in written)
    got = read_frame(str(tmp_path / "out.parquet")).compute()
    same(dd.from_pandas(got, npartitions=1), imputer.fit_transform(df).reset_index(drop=True))


def test_a_killed_worker_loses_and_duplicates_no_series(client, tiny_weights):
    """Runs last: the nanny restarts the killed worker for any later use of the cluster."""
    ddf, df = split(panel(40), 20)
    est = Forecaster(weights=tiny_weights, head="direct")
    expected = est.forecast(df, 6)
    future = client.compute(est.forecast(ddf, 6))
    victim = _busy_worker(client)
    pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)
    got = future.result()
    assert pid not in client.run(os.getpid).values()
    assert not got.duplicated(KEYS).any()
    same(dd.from_pandas(got, npartitions=1), expected)


def _busy_worker(client, timeout: float = 30.0) -> str:
    """The address of a worker once it is running a task of the current computation."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy:
            return busy[0]
        time.sleep(0.01)
    raise AssertionError("no worker started a task")
