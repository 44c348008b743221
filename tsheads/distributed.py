"""Run the estimators over a Dask DataFrame of many series: long frame in, lazy frame out.

Each estimator method hands a Dask frame here in one line. `whole_series` puts every
series in one partition (a frame indexed by the id with known divisions already is; any
other is shuffled once on the id column), and each partition runs the ordinary pandas
method, so a series is never split between tasks and its numbers are those of the
single-process call. What travels with the
graph is small: the estimator's parameters and what ``fit`` learned per series. The
shipped weights do not travel: each worker loads them once through the runtime's per-process
cache. A fine-tuned model is one key of the graph that every task refers to, so Dask sends
it once to each worker. Torch runs each task with the worker's thread count (see
``docs/scaling.md``). Dask is imported only inside the functions: the core install runs
without it.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tsheads.frames import ID_COL, TARGET_COL, TIME_COL
from tsheads.runtime import load_model

FRAME_KEYS = {"id_col": ID_COL, "time_col": TIME_COL, "target_col": TARGET_COL}


def is_dask_frame(X) -> bool:
    """True for a ``dask.dataframe.DataFrame``; never imports dask (if it was not imported,
    ``X`` cannot be one)."""
    dd = sys.modules.get("dask.dataframe")
    return dd is not None and isinstance(X, dd.DataFrame)


# ---------------------------------------------------------------- estimator entry points


def fit_forecaster(est, X, frame_kwargs: dict):
    """``Forecaster.fit`` on a Dask frame: check the parameters and keep ``X`` lazily as
    ``panel_``; ``predict`` then forecasts it on the cluster.

    Fine-tuning trains one model on every series, so with ``fine_tune_steps > 0`` the
    frame is computed into this process and fitted as pandas (the tuned model is then
    shipped once to each worker); without it nothing is computed here.
    """
    _check_frame_kwargs(frame_kwargs)
    if est.fine_tune_steps:
        est.fit(X.compute(), **frame_kwargs)
    else:
        from tsheads.estimators.network import load_forecaster_model

        est._validate_common()
        est._validate_forecast_params()
        est.model_ = load_forecaster_model(est.weights)
    est.panel_ = X
    est.frame_kwargs_ = dict(frame_kwargs)
    return est


def predict_forecaster(est, horizon: int, level=None, quantiles=None):
    """``Forecaster.predict`` after a fit on a Dask frame: a lazy frame of forecasts."""
    from sklearn.base import clone

    from tsheads.estimators.base import check_horizon
    from tsheads.estimators.intervals import column_probs

    horizon = check_horizon(horizon)
    if horizon > est.model_.config.horizon and est.head != "autoregressive":
        warnings.warn(f"horizon {horizon} is beyond the direct head's "
                      f"{est.model_.config.horizon} steps; later steps are rolled out from the "
                      "model's own forecasts.", UserWarning, stacklevel=3)
    columns = [est.alias, *column_probs(est.alias, level, quantiles)]
    if level or quantiles:
        _check_interval_source(est, horizon)
    X, keys = est.panel_, _frame_keys(est.frame_kwargs_)
    meta = _meta(X, keys, {name: np.float64 for name in columns}, with_target=False)
    tuned = None if est.model_ is load_model(est.weights) else est.model_
    shipped = _shipped((clone(est).set_params(fine_tune_steps=0), tuned))
    return _map_series(X, keys["id_col"], _forecast_part, shipped, meta,
                       horizon=horizon, level=level, quantiles=quantiles,
                       frame_kwargs=est.frame_kwargs_)


def anomaly_score(est, X, method: str, history, frame_kwargs: dict):
    """``AnomalyDetector.anomaly_score`` / ``predict`` on a Dask frame (fit in pandas):
    columns ``id_col, time_col, anomaly_score`` (float) or ``anomaly`` (bool)."""
    from sklearn.utils.validation import check_is_fitted

    from tsheads.estimators.anomaly import LABEL_NAME, SCORE_NAME

    check_is_fitted(est, "threshold_")
    if history is not None:
        raise ValueError("history= is not supported with a Dask frame; put the history "
                         "rows in the frame itself.")
    keys = _frame_keys(_check_frame_kwargs(frame_kwargs))
    name, dtype = (SCORE_NAME, np.float64) if method == "anomaly_score" else (LABEL_NAME, bool)
    meta = _meta(X, keys, {name: dtype}, with_target=False, keep_index=True)
    return _map_series(X, keys["id_col"], _method_part, _shipped(_light(est)), meta,
                       method=method, frame_kwargs=frame_kwargs)


def fit_imputer(est, X, frame_kwargs: dict):
    """``Imputer.fit`` on a Dask frame. With fine-tuning the frame is computed here and
    fitted as pandas (one model trains on every series); otherwise ``fit`` runs on a
    one-row-per-series summary: the length of each series decides ``stride="auto"``."""
    keys = _frame_keys(_check_frame_kwargs(frame_kwargs))
    _check_cross_series(est)
    if est.fine_tune_steps:
        return est.fit(X.compute(), **frame_kwargs)
    lengths = _map_series(X, keys["id_col"], _lengths_part, None,
                          pd.DataFrame({"n": pd.Series(dtype=np.int64)}),
                          frame_kwargs=frame_kwargs).compute()["n"]
    est.fit(_stand_in(int(lengths.sum())))
    est.n_series_in_ = len(lengths)
    return est


def transform_imputer(est, X, frame_kwargs: dict):
    """``Imputer.transform`` on a Dask frame: the input's columns ``id_col, time_col,
    target_col`` and index, every NaN filled, rows grouped by partition."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est, "model_")
    _check_cross_series(est)
    keys = _frame_keys(_check_frame_kwargs(frame_kwargs))
    meta = _meta(X, keys, {}, with_target=True, keep_index=True)
    return _map_series(X, keys["id_col"], _method_part, _shipped(_light(est)), meta,
                       method="transform", frame_kwargs=frame_kwargs)


# ---------------------------------------------------------------- tasks (run on workers)


def _forecast_part(part: pd.DataFrame, shipped, *, horizon, level, quantiles, frame_kwargs):
    """Forecast the whole series of one partition: fit the shipped parameters on them
    (per-series statistics are learned here, from the series alone), then predict with
    the fine-tuned model if one was shipped."""
    params, tuned = shipped
    est = _on_worker(params).fit(part, **frame_kwargs)
    if tuned is not None:
        est.model_ = tuned
    return est.predict(horizon, level=level, quantiles=quantiles)


def _method_part(part: pd.DataFrame, shipped, *, method: str, frame_kwargs: dict):
    """A fitted estimator's ``method`` on the whole series of one partition."""
    est = _on_worker(shipped)
    if "model_" not in vars(est):
        est.model_ = load_model(est.weights)
    return getattr(est, method)(part, **frame_kwargs)


def _lengths_part(part: pd.DataFrame, shipped, *, frame_kwargs: dict) -> pd.DataFrame:
    """One row per series of the partition: its length on the frequency grid."""
    from tsheads.frames import to_panel

    panel = to_panel(part, **frame_kwargs)
    return pd.DataFrame({"n": [len(v) for v in panel.values]}, dtype=np.int64)


def _on_worker(shipped):
    """A private copy of the shipped estimator (tasks on one worker share the shipped
    object), set to run torch with the worker's threads unless ``n_threads`` says."""
    est = copy.copy(shipped)
    if est.n_threads is None:
        est.n_threads = worker_threads()
    return est


def worker_threads() -> int | None:
    """The thread count of the Dask worker running this code; None outside a worker."""
    try:
        from distributed import get_worker

        return get_worker().state.nthreads
    except (ImportError, ValueError):
        return None


# ---------------------------------------------------------------- graph plumbing


def _map_series(X, id_col: str, task: Callable, shipped, meta: pd.DataFrame, **kwargs):
    """``task(partition, shipped, **kwargs)`` on each partition of `whole_series` of ``X``;
    empty partitions give ``meta``."""
    return whole_series(X, id_col).map_partitions(_guarded, task, shipped, meta, meta=meta,
                                                  align_dataframes=False, **kwargs)


def whole_series(X, id_col: str):
    """``X`` with every series in one partition and ``id_col`` as a column.

    A frame indexed by ``id_col`` with known divisions (``set_index(id_col)``, or Parquet
    written so and read with ``calculate_divisions=True``) already holds each id in one
    partition: only its index becomes a column, nothing moves. Any other frame is shuffled
    once on ``id_col`` (rows hashed by id), which holds a worker's share of the input until
    every partition is shuffled.
    """
    if _indexed_by(X, id_col):
        return X.reset_index()
    if id_col not in X.columns:
        raise ValueError(f"the Dask frame has no column {id_col!r}; a Dask frame must be long "
                         f"(columns {list(X.columns)}); pass id_col= to name the id column.")
    return X.shuffle(on=id_col)


def _indexed_by(X, id_col: str) -> bool:
    return X.index.name == id_col and X.known_divisions


def _guarded(part: pd.DataFrame, task: Callable, shipped, meta: pd.DataFrame, **kwargs):
    """Run ``task`` on a non-empty partition with the meta's columns and dtypes."""
    if part.empty:
        return meta
    out = task(part, shipped, **kwargs)
    return out.astype(meta.dtypes.to_dict(), copy=False)


def _shipped(state):
    """``state`` as one graph key that every task refers to: Dask sends it once to each
    worker instead of once per task."""
    import dask

    return dask.delayed(state, name=f"tsheads-state-{uuid.uuid4().hex}", traverse=False)


def _light(est):
    """A shallow copy of a fitted estimator without the shipped pretrained model (each
    worker loads that from its own cache); a fine-tuned model stays in."""
    light = copy.copy(est)
    if light.model_ is load_model(est.weights):
        del light.model_
    return light


def _meta(X, keys: dict, values: dict, *, with_target: bool, keep_index: bool = False):
    """The empty frame of the pandas call's output: id and time columns as in ``X``
    (the target too for ``with_target``), then the value columns with their dtypes."""
    source = X._meta.reset_index() if _indexed_by(X, keys["id_col"]) else X._meta
    names = [keys["id_col"], keys["time_col"]] + ([keys["target_col"]] if with_target else [])
    missing = [n for n in names if n not in source.columns]
    if missing:
        raise ValueError(f"long-format Dask frame is missing column {missing[0]!r}; pass "
                         f"{_keyword(keys, missing[0])}= to name it.")
    meta = source[names].copy()
    if with_target:
        meta[keys["target_col"]] = meta[keys["target_col"]].astype(np.float64)
    for name, dtype in values.items():
        meta[name] = pd.Series(dtype=dtype)
    return meta if keep_index else meta.reset_index(drop=True)


def _keyword(keys: dict, column: str) -> str:
    return next(k for k, v in keys.items() if v == column)


def _frame_keys(frame_kwargs: dict) -> dict:
    return {key: frame_kwargs.get(key, default) for key, default in FRAME_KEYS.items()}


def _check_frame_kwargs(frame_kwargs: dict) -> dict:
    allowed = [*FRAME_KEYS, "freq"]
    unknown = sorted(set(frame_kwargs) - set(allowed))
    if unknown:
        raise TypeError(f"unexpected keyword arguments {unknown}; accepted: {allowed}.")
    return frame_kwargs


def _check_interval_source(est, horizon: int) -> None:
    """Backtest intervals pool errors over all series: a partition alone would give other
    numbers, so on a Dask frame only the per-series Fourier intervals are offered."""
    from tsheads.estimators.network import resolve_intervals

    source = resolve_intervals(est.intervals, est.model_)
    if source == "backtest" or horizon > est.model_.config.horizon:
        raise ValueError(
            "on a Dask frame, intervals and quantiles come from the Fourier head only "
            "(backtest intervals pool errors over all series, which no partition sees); "
            f"pass intervals='fourier' and a horizon <= {est.model_.config.horizon}."
        )


def _check_cross_series(est) -> None:
    if est.blend and est.cross_series:
        raise ValueError("cross_series=True regresses series on others with the same "
                         "timestamps, which a partition of a Dask frame does not hold; pass "
                         "cross_series=False (or blend=False) for a Dask frame.")


def _stand_in(n_values: int) -> np.ndarray:
    """A 1-D array with ``n_values`` values: what ``Imputer.fit`` reads from its input
    (only the number of values) when the frame itself stays on the cluster."""
    return np.zeros(max(n_values, 1))


# ---------------------------------------------------------------- clusters and files (for the CLI)


def local_cluster(n_workers: int, **kwargs):
    """A ``distributed.LocalCluster`` of ``n_workers`` processes with one thread each, whose
    workers keep glibc's own memory-trim policy.

    Dask's nannies set ``MALLOC_TRIM_THRESHOLD_=65536`` in their workers by default; a fixed
    threshold turns off glibc's adaptive mmap threshold, so every large numpy array is
    mapped and unmapped afresh, and the model's batches ran 1.8x slower in a worker than
    in a plain process (``benchmarks/results/scale.md``). ``kwargs`` go to LocalCluster.
    """
    import dask
    from distributed import LocalCluster

    key = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    with dask.config.set({key: None}):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                            **kwargs)


def collect(frame, client=None) -> pd.DataFrame:
    """A Dask frame computed into this process, each partition fetched as it finishes and
    then released on its worker.

    ``frame.compute()`` returns the same frame, but first concatenates every partition on
    one worker, whose memory then grows with the number of series (measured in
    ``benchmarks/results/scale.md``); here each worker holds only the partitions in flight.
    ``client`` defaults to the current Dask client.
    """
    from distributed import as_completed, get_client

    futures = (client or get_client()).compute(frame.to_delayed())
    order = {future.key: i for i, future in enumerate(futures)}
    parts: list = [None] * len(futures)
    for future in as_completed(futures):
        parts[order[future.key]] = future.result()
        futures[order[future.key]] = None  # the last reference: the worker drops the result
    return pd.concat(parts)


def run_files(
    inputs: str | list[str],
    output: str,
    task: Callable,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    time_col: str = TIME_COL,
    progress: bool = True,
) -> list[str]:
    """Read CSV or Parquet files with Dask, run ``task(frame) -> frame`` on a cluster and
    write the result partitioned; returns the paths written.

    ``scheduler`` is the address of a running scheduler; ``workers`` starts a
    `local_cluster` of that many processes with one thread each (torch then uses one thread
    per worker); neither uses Dask's current default scheduler. ``output`` ending in
    ``.parquet`` is written as a Parquet dataset (a folder), anything else as a folder of
    ``part-*.csv`` files. Progress is Dask's progress bar, on stderr, after the dashboard
    link.
    """
    from distributed import Client

    if scheduler is not None:
        client = Client(scheduler)
    elif workers is not None:
        client = Client(local_cluster(workers))
    else:
        client = None
    try:
        return _write(task(read_frame(inputs, time_col)), output, client, progress)
    finally:
        if client is not None:
            cluster = client.cluster if workers is not None else None
            client.close()
            if cluster is not None:
                cluster.close()


def read_frame(inputs: str | list[str], time_col: str = TIME_COL):
    """A Dask frame of CSV or Parquet files (by the first path's suffix; globs allowed),
    with ``time_col`` parsed as timestamps when it holds text."""
    import dask.dataframe as dd

    paths = [inputs] if isinstance(inputs, str) else list(inputs)
    parquet = Path(paths[0]).suffix == ".parquet" or Path(paths[0]).is_dir()
    frame = dd.read_parquet(paths) if parquet else dd.read_csv(paths)
    kind = frame._meta[time_col].dtype if time_col in frame.columns else None
    if kind is not None and not pd.api.types.is_numeric_dtype(kind) and (
            not pd.api.types.is_datetime64_any_dtype(kind)):
        frame[time_col] = dd.to_datetime(frame[time_col])
    return frame


def _write(frame, output: str, client, progress: bool) -> list[str]:
    """Write ``frame`` partitioned, showing progress, and return the files written."""
    import dask

    if output.endswith(".parquet"):
        job = frame.to_parquet(output, compute=False, write_index=False)
    else:
        job = frame.to_csv(str(Path(output) / "part-*.csv"), index=False, compute=False)
    if client is None:
        from dask.diagnostics import ProgressBar

        with ProgressBar(out=sys.stderr) if progress else contextlib.nullcontext():
            dask.compute(job)
    else:
        from distributed import progress as show

        if progress:
            print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
        futures = client.compute(job)
        if progress:
            show(futures)
        client.gather(futures)
    return sorted(str(p) for p in Path(output).glob("part*"))
