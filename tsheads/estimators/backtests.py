"""Backtests at the end of each history: the forecaster's check of the seasonal repeat
against the network, and the errors its intervals are built from."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from tsheads.runtime import Density, Forecast
from tsheads.seasonality import seasonal_repeat

MIN_HISTORY = 16  # observed values a series needs before it can be forecast
BACKTEST_ORIGINS = 3  # per series: for the seasonal check of "auto" and for intervals
SEASONAL_MARGIN = 0.8  # "auto" repeats the season only where it beat the network by 20 %


class Plan(NamedTuple):
    """What ``predict`` forecasts, and the backtests behind that choice and its intervals."""

    point: np.ndarray  # (N, horizon) the forecast of each series
    network: np.ndarray  # (N, horizon) the network head's forecast
    seasonal: np.ndarray  # (N,) True where the seasonal repeat is used
    owners: np.ndarray  # (M,) the series of each backtest
    errors: np.ndarray  # (M, horizon) backtest errors of the forecast used, in context scales
    compared: np.ndarray  # (N,) backtests that entered the seasonal check of each series
    network_mae: np.ndarray  # (N,) mean absolute backtest error, NaN without backtests
    seasonal_mae: np.ndarray  # (N,) the same for the seasonal repeat
    scale: np.ndarray  # (N + M, 1) the context scale of each series, then of each backtest
    density: Density | None  # (N rows) the Fourier density of each series' forecast


def plan(
    network: Callable[[list[np.ndarray]], Forecast],
    series: list[np.ndarray],
    periods: list[int | None],
    horizon: int,
    reach: np.ndarray,
    *,
    backtest: bool,
    seasonal_check: bool,
) -> Plan:
    """Network forecasts of every series and of its backtests (one call of ``network``), the
    seasonal repeats of both, and the choice between them per series.

    ``reach`` (N,) is the context each series' forecast reads: the check compares like with
    like, only backtests whose network saw as much context as the forecast will, and whose
    seasonal repeat saw every phase."""
    n = len(series)
    contexts, owners, actuals = backtest_windows(series, horizon) if backtest else (
        [], np.zeros(0, dtype=int), np.empty((0, horizon)))
    run = network(series + contexts)
    every = periods + [periods[i] for i in owners]
    repeat = np.stack([_seasonal(s, p, horizon) for s, p in
                       zip(series + contexts, every, strict=True)])
    fair = np.array([len(c) >= reach[i] for c, i in zip(contexts, owners, strict=True)],
                    dtype=bool) & ~np.isnan(repeat[n:]).any(axis=1)
    network_mae = per_owner(row_mae(actuals, run.point[n:])[fair], owners[fair], n)
    seasonal_mae = per_owner(row_mae(actuals, repeat[n:])[fair], owners[fair], n)
    choose = np.zeros(n, dtype=bool)
    if seasonal_check:
        choose = np.isfinite(repeat[:n]).all(axis=1) & (
            seasonal_mae < SEASONAL_MARGIN * network_mae)
    point = np.where(choose[:, None], repeat[:n], run.point[:n])
    backtests = np.where(choose[owners][:, None], repeat[n:], run.point[n:])
    errors = (actuals - backtests) / run.scale[n:] if contexts else actuals
    density = run.density.head(n) if run.density is not None else None
    return Plan(point, run.point[:n], choose, owners, errors,
                np.bincount(owners[fair], minlength=n), network_mae, seasonal_mae, run.scale,
                density)


def backtest_windows(series: list[np.ndarray], horizon: int
                     ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Histories cut 1, 2, ... horizons before each end, the series each belongs to, and
    the (M, horizon) actuals that follow each cut."""
    contexts, owners, actuals = [], [], []
    for i, s in enumerate(series):
        for k in range(1, BACKTEST_ORIGINS + 1):
            origin = len(s) - k * horizon
            if np.isfinite(s[:max(origin, 0)]).sum() < MIN_HISTORY:
                break
            contexts.append(s[:origin])
            owners.append(i)
            actuals.append(s[origin : origin + horizon])
    actuals = np.stack(actuals) if actuals else np.empty((0, horizon))
    return contexts, np.array(owners, dtype=int), actuals


def _seasonal(history: np.ndarray, period: int | None, horizon: int) -> np.ndarray:
    """The seasonal repeat of ``history``; NaN without a period."""
    if period is None:
        return np.full(horizon, np.nan)
    return seasonal_repeat(history, period, horizon)


def row_mae(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Mean absolute error of each row over the steps where both are known; NaN if none."""
    err = np.abs(actual - forecast)
    known = np.isfinite(err)
    count = known.sum(axis=1)
    total = np.where(known, err, 0.0).sum(axis=1)
    return np.divide(total, count, out=np.full(len(err), np.nan), where=count > 0)


def per_owner(values, owners: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values`` per series index in ``owners``; NaN for series without any."""
    total = np.bincount(owners, weights=np.asarray(values, dtype=float), minlength=n)
    count = np.bincount(owners, minlength=n)
    return np.divide(total, count, out=np.full(n, np.nan), where=count > 0)
