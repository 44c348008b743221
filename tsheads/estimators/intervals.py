"""Forecast quantiles and intervals: which columns a request asks for, and the quantiles of
backtest errors (split-conformal style) or of a random-walk rule when backtests are few."""

from __future__ import annotations

import numbers

import numpy as np
from scipy.stats import norm

from tsheads.estimators.backtests import Plan, per_owner, row_mae
from tsheads.scaling import standardize

MIN_BACKTESTS = 30  # fewer pooled backtests than this: intervals from a random-walk rule


def probabilities(level, quantiles) -> set[float]:
    """Every probability that the requested levels and quantiles need."""
    return set(column_probs("", level, quantiles).values())


def column_probs(alias: str, level, quantiles) -> dict[str, float]:
    """Output column name -> probability, for levels (lo/hi pairs) and quantiles."""
    columns = {}
    for lv in _as_list("level", level):
        if not isinstance(lv, numbers.Real) or not 0 < lv < 100:
            raise ValueError(f"each level must be a number in (0, 100), got {lv!r}.")
        columns[f"{alias}-lo-{lv:g}"] = 0.5 - lv / 200
        columns[f"{alias}-hi-{lv:g}"] = 0.5 + lv / 200
    for q in _as_list("quantiles", quantiles):
        if not isinstance(q, numbers.Real) or not 0 < q < 1:
            raise ValueError(f"each quantile must be a number in (0, 1), got {q!r}.")
        columns[f"{alias}-q{q:g}"] = float(q)
    return columns


def _as_list(name: str, value) -> list:
    """``level=80`` means ``level=[80]`` (as in statsforecast); None means none."""
    if value is None:
        return []
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a number or a list of numbers, got {value!r}; "
                        f"e.g. {name}={[80, 95] if name == 'level' else [0.1, 0.9]}.")
    return list(value)


def backtest_quantiles(plan: Plan, contexts: np.ndarray, horizon: int, probs: list[float]
                       ) -> dict[float, np.ndarray]:
    """Quantiles (N, horizon) by probability around the point forecast: the pooled
    quantiles of backtest errors, in each series' context scale; with fewer than
    ``MIN_BACKTESTS`` backtests, a random-walk rule bounded by the series' own errors."""
    n = len(contexts)
    if len(plan.errors) >= MIN_BACKTESTS:
        errors = dict(zip(probs, np.nanquantile(plan.errors, probs, axis=0), strict=True))
    else:
        spread = _random_walk_spread(contexts, horizon)
        spread = np.minimum(spread, _spread_bound(plan, n)[:, None])
        errors = {p: norm.ppf(p) * spread for p in probs}
    scale = plan.scale[:n]
    return {p: plan.point + scale * errors[p] for p in probs}


def _spread_bound(plan: Plan, n: int) -> np.ndarray:
    """(N,) the widest error spread, in scale units, that the random-walk rule may reach per
    series: the spread of the context itself (1: a forecast no better than the context's
    mean), or the root mean square of the series' own backtest errors when that is larger."""
    if len(plan.errors) == 0:
        return np.ones(n)
    square = row_mae(plan.errors**2, np.zeros_like(plan.errors))  # mean square per backtest
    known = np.isfinite(square)
    rms = np.sqrt(per_owner(square[known], plan.owners[known], n))
    return np.fmax(1.0, rms)


def _random_walk_spread(windows: np.ndarray, horizon: int) -> np.ndarray:
    """Error spread per step in scale units when there is too little history to backtest."""
    z = standardize(np.nan_to_num(windows), np.isnan(windows))[0]
    steps = np.where(np.isnan(windows[:, 1:]) | np.isnan(windows[:, :-1]), np.nan, np.diff(z))
    one_step = np.nanmedian(np.nanstd(steps, axis=1)) if np.isfinite(steps).any() else 1.0
    return one_step * np.sqrt(np.arange(1, horizon + 1))
