"""Forecast, score and fill many series on a Dask cluster, and check the numbers against
pandas. Runs in seconds on a LocalCluster of two worker processes (see docs/scaling.md).

    python examples/dask_many_series.py
"""

import dask.dataframe as dd
import numpy as np
import pandas as pd
from dask.distributed import Client

from tsheads import AnomalyDetector, Forecaster, Imputer
from tsheads.distributed import collect, local_cluster


def hourly_series(n_series: int = 12, n_steps: int = 400) -> pd.DataFrame:
    """A long frame of daily-seasonal hourly series with a few gaps."""
    rng = np.random.default_rng(0)
    t = np.arange(n_steps)
    parts = []
    for i in range(n_series):
        y = 50 + 10 * np.sin(2 * np.pi * t / 24 + i) + rng.normal(0, 1, n_steps)
        y[100 + i : 106 + i] = np.nan
        ds = pd.date_range("2024-01-01", periods=n_steps, freq="h")
        parts.append(pd.DataFrame({"unique_id": f"sensor-{i:02d}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    # two worker processes, one thread each (see docs/scaling.md for a remote cluster)
    with local_cluster(2, dashboard_address=":0") as cluster, Client(cluster) as client:
        print(f"cluster: {len(client.scheduler_info()['workers'])} workers x 1 thread")
        frame = dd.from_pandas(hourly_series(), npartitions=4)
        df = frame.compute()  # the same data in this process, to compare with

        imputer = Imputer(cross_series=False)
        filled = imputer.fit_transform(frame)  # lazy: nothing has run yet
        print(f"imputed: {int(filled['y'].isna().sum().compute())} NaN left")

        forecaster = Forecaster(head="direct", intervals="fourier")
        # collect: each partition comes back as it finishes (compute() would first
        # concatenate all of them on one worker)
        future = collect(forecaster.forecast(filled, 24, level=[80]), client)
        print(f"forecast: {len(future)} rows, columns {list(future.columns)}")
        local = forecaster.forecast(imputer.fit_transform(df), 24, level=[80])
        keys = ["unique_id", "ds"]
        gap = np.abs(future.sort_values(keys)["tsheads"].to_numpy()
                     - local.sort_values(keys)["tsheads"].to_numpy()).max()
        print(f"largest difference from pandas: {gap:.2e}")

        # fit learns per-series statistics in this process; they travel to the workers
        detector = AnomalyDetector().fit(filled.compute().groupby("unique_id").head(300))
        flags = detector.predict(filled).compute()
        print(f"anomalies flagged: {int(flags['anomaly'].sum())} of {len(flags)} steps")


if __name__ == "__main__":
    main()
